'use client';

import type { NodeEnrolment, NodeView } from '@cctv/protocol';
import { useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { StateBadge } from '@/components/state-badge';
import { formatAge } from '@/lib/format';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { useNow } from '@/lib/use-now';
import { IssuedCredentials } from './issued-credentials';
import { type AgentUrls, configVersions, NODE_ADMIN_COLUMNS, nodeProblems, syncLabel } from './node-admin';

/** One node as an admin manages it: versions, configuration, problems, and its credentials. */
export function NodeAdminRow({ node, urls }: { node: NodeView; urls: AgentUrls }) {
  const now = useNow(5000);
  const { busy, error, run } = useMasterAction();
  const [issued, setIssued] = useState<NodeEnrolment | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const problems = nodeProblems(node);

  async function rotate() {
    if (!window.confirm(`New credentials for ${node.id}? The old ones stop working at once.`)) return;
    setDone(null);
    const outcome = await run(
      () => masterFetch('nodeCredentials', { params: { id: node.id }, body: { rotate: true } }),
      false,
    );
    if (outcome.ok) setIssued((await outcome.res.json()) as NodeEnrolment);
  }

  async function revoke() {
    if (
      !window.confirm(
        `Revoke the credentials of ${node.id}? The broker and the gateway refuse it until it is enrolled again.`,
      )
    )
      return;
    setDone(null);
    const outcome = await run(() => masterFetch('nodeCredentialsRevoke', { params: { id: node.id } }));
    if (outcome.ok) setDone('credentials revoked');
  }

  async function restart() {
    if (!window.confirm(`Restart the agent of ${node.id}? Its cameras stop recording for a few seconds.`))
      return;
    setDone(null);
    const outcome = await run(() => masterFetch('nodeCommand', { params: { id: node.id, name: 'restart' } }));
    if (outcome.ok) setDone('restarting');
  }

  return (
    <>
      <tr
        data-testid="node-admin-row"
        data-node-id={node.id}
        className={node.state === 'offline' ? 'dim' : ''}
      >
        <td data-label="Node">
          <b className="mono">{node.id}</b>
          <div className="sub">{node.hostname ?? '—'}</div>
        </td>
        <td data-label="State">
          <StateBadge state={node.state} />
          <div className="sub">since {formatAge(node.stateChangedAt, now)}</div>
        </td>
        <td data-label="Agent" className="mono" data-testid="node-agent-version">
          {node.agentVersion ?? '—'}
        </td>
        <td data-label="Managed by" data-testid="node-mode">
          {node.config.mode === 'master' ? 'master' : node.config.mode === 'file' ? 'its file' : '—'}
        </td>
        <td data-label="Config" data-testid="node-config">
          <span className={`sync sync-${node.config.sync}`}>{syncLabel(node.config.sync)}</span>
          <div className="sub">{configVersions(node)}</div>
        </td>
        <td data-label="Last errors" data-testid="node-problems">
          {problems.length === 0 ? (
            <span className="sub">none</span>
          ) : (
            <ul className="problem-list">
              {problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </td>
        <td>
          <div className="row-actions">
            <button type="button" className="button-quiet" disabled={busy} onClick={rotate}>
              Rotate credentials
            </button>
            <button type="button" className="button-quiet" disabled={busy} onClick={revoke}>
              Revoke
            </button>
            <button
              type="button"
              className="button-quiet"
              disabled={busy || node.state === 'offline'}
              onClick={restart}
            >
              Restart agent
            </button>
            <ActionStatus error={error} done={done} />
          </div>
        </td>
      </tr>
      {issued ? (
        <tr className="node-issued">
          <td colSpan={NODE_ADMIN_COLUMNS}>
            <IssuedCredentials enrolment={issued} urls={urls} onDone={() => setIssued(null)} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
