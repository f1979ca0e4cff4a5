'use client';

import { INSTALL_TTL_MINUTES } from '@cctv/protocol/install';
import { ID_PATTERN } from '@cctv/protocol/patterns';
import { useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';
import './install.css';

interface Line {
  nodeId: string;
  line: string;
  expiresAt: string;
  caSha256: string;
}

/**
 * Admins: a one-line install for a new node (docs/adr/0016). The line carries a single-use
 * token that expires and the CA's fingerprint; it is shown once and kept nowhere.
 */
export function InstallLine() {
  const [nodeId, setNodeId] = useState('');
  const [ttl, setTtl] = useState<number>(INSTALL_TTL_MINUTES.default);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [line, setLine] = useState<Line | null>(null);
  const [copied, setCopied] = useState(false);

  async function ask(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setLine(null);
    setCopied(false);
    try {
      const res = await masterFetch('nodeInstallToken', {
        params: { id: nodeId },
        body: { ttlMinutes: ttl },
      });
      if (res.status === 201) setLine((await res.json()) as Line);
      else setError((await errorOf(res))?.message ?? `HTTP ${res.status}`);
    } catch {
      setError('the dashboard server is unreachable');
    }
    setBusy(false);
  }

  async function copy() {
    if (!line) return;
    await navigator.clipboard?.writeText(line.line).catch(() => {});
    setCopied(true);
  }

  return (
    <section className="panel settings-form" data-testid="node-install">
      <h2>Install an agent in one command</h2>
      <p className="sub">
        For a fresh 64-bit Debian or Raspberry Pi OS host without Ansible: paste the line there as root. It
        checks this master&apos;s certificate, installs the agent release for the host&apos;s architecture,
        enrols the node once and waits until it is online here.
      </p>
      <form className="form-row" onSubmit={ask}>
        <label>
          Node id
          <input
            name="nodeId"
            required
            pattern={ID_PATTERN.slice(1, -1)}
            maxLength={63}
            value={nodeId}
            onChange={(e) => setNodeId(e.target.value)}
            placeholder="cam-host-3"
          />
        </label>
        <label>
          Works for (minutes)
          <input
            name="ttl"
            type="number"
            min={INSTALL_TTL_MINUTES.min}
            max={INSTALL_TTL_MINUTES.max}
            value={ttl}
            onChange={(e) => setTtl(Number(e.target.value))}
          />
        </label>
        <div className="form-actions form-actions-end">
          <button type="submit" className="button-primary" disabled={busy || nodeId === ''}>
            Make install line
          </button>
        </div>
      </form>
      {error ? (
        <p role="alert" className="form-error">
          {error}
        </p>
      ) : null}
      {line ? (
        <div className="install-result">
          <p>
            Shown once. Works once, until {new Date(line.expiresAt).toLocaleString()}; CA sha256{' '}
            <code>{line.caSha256.slice(0, 16)}…</code>
          </p>
          <pre data-testid="install-line">{line.line}</pre>
          <button type="button" className="button-quiet" onClick={copy}>
            {copied ? 'Copied' : 'Copy'}
          </button>
        </div>
      ) : null}
    </section>
  );
}
