'use client';

import type { CameraChangeAnswer, NodeConfigView } from '@cctv/protocol';
import { useEffect, useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';

interface Props {
  nodeId: string;
  /** Changes when the node's configuration changed elsewhere, to read the versions again. */
  desiredVersion: number | null;
  onRolledBack: (answer: CameraChangeAnswer) => void;
}

/**
 * The versions of one node's desired configuration, newest first, and rolling back to one
 * (admins: the master refuses others): a rollback is a new version with that version's cameras.
 */
export function NodeVersions({ nodeId, desiredVersion, onRolledBack }: Props) {
  const [view, setView] = useState<NodeConfigView | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: desiredVersion is a reload trigger
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const res = await masterFetch('nodeConfig', { params: { id: nodeId } });
        if (!live) return;
        if (res.ok) setView(await res.json());
        else setProblem((await errorOf(res))?.message ?? `HTTP ${res.status}`);
      } catch {
        if (live) setProblem('the dashboard server is unreachable');
      }
    })();
    return () => {
      live = false;
    };
  }, [nodeId, desiredVersion]);

  async function rollback(version: number) {
    if (!window.confirm(`Make a new version of ${nodeId}'s cameras as they were in version ${version}?`))
      return;
    setBusy(true);
    setProblem(null);
    try {
      const res = await masterFetch('nodeConfigRollback', { params: { id: nodeId }, body: { version } });
      if (res.ok) onRolledBack(await res.json());
      else setProblem((await errorOf(res))?.message ?? `HTTP ${res.status}`);
    } catch {
      setProblem('the dashboard server is unreachable');
    }
    setBusy(false);
  }

  if (problem)
    return (
      <p className="sub" role="alert">
        Versions of {nodeId}: {problem}
      </p>
    );
  if (!view) return <p className="sub">Loading the versions of {nodeId}…</p>;
  if (view.versions.length === 0) return <p className="sub">No versions yet.</p>;
  return (
    <ol className="node-versions" data-testid="node-versions" data-node-id={nodeId}>
      {view.versions.map((v) => (
        <li key={v.version} data-version={v.version}>
          <b>v{v.version}</b>
          <span className="sub">
            {new Date(v.createdAt).toISOString().replace('T', ' ').slice(0, 16)} by {v.createdBy}
          </span>
          <span>{v.note}</span>
          <span className="mono sub">{v.cameraIds.length > 0 ? v.cameraIds.join(', ') : 'no cameras'}</span>
          {v.version === view.config.desiredVersion ? (
            <span className="badge">current</span>
          ) : (
            <button
              type="button"
              className="button-quiet"
              onClick={() => rollback(v.version)}
              disabled={busy}
            >
              Roll back to this
            </button>
          )}
        </li>
      ))}
    </ol>
  );
}
