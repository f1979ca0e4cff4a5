'use client';

import type { NodeEnrolment } from '@cctv/protocol';
import { isValidId } from '@cctv/protocol/patterns';
import { type FormEvent, useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { IssuedCredentials } from './issued-credentials';
import type { AgentUrls } from './node-admin';

/** A new node: its id; the master answers with its credentials, shown once. */
export function EnrolForm({ urls }: { urls: AgentUrls }) {
  const { busy, error, setError, run } = useMasterAction();
  const [nodeId, setNodeId] = useState('');
  const [issued, setIssued] = useState<NodeEnrolment | null>(null);

  async function enrol(e: FormEvent) {
    e.preventDefault();
    const id = nodeId.trim();
    if (!isValidId(id)) {
      setError(
        'a node id is lower-case letters, digits and dashes (up to 63), starting with a letter or digit',
      );
      return;
    }
    const outcome = await run(() => masterFetch('nodeCredentials', { params: { id } }), false);
    if (!outcome.ok) return;
    setIssued((await outcome.res.json()) as NodeEnrolment);
    setNodeId('');
  }

  return (
    <div className="settings-form" data-testid="node-enrol">
      <h2>Enrol a node</h2>
      <form className="form-row" onSubmit={enrol}>
        <label>
          Node id
          <input
            name="nodeId"
            autoComplete="off"
            placeholder="edge-lobby-1"
            value={nodeId}
            onChange={(e) => setNodeId(e.target.value)}
          />
        </label>
        <div className="form-actions form-actions-end">
          <button type="submit" className="button-primary" disabled={busy}>
            Enrol
          </button>
        </div>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {issued ? <IssuedCredentials enrolment={issued} urls={urls} onDone={() => setIssued(null)} /> : null}
    </div>
  );
}
