'use client';

import type { NodeEnrolment } from '@cctv/protocol';
import { useState } from 'react';
import { type AgentUrls, agentYaml, ansibleHostVars } from './node-admin';

function Block({ title, text, testId }: { title: string; text: string; testId: string }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return (
    <div className="issued-block">
      <div className="form-actions">
        <h3>{title}</h3>
        <button type="button" className="button-quiet" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre className="secret-block" data-testid={testId}>
        {text}
      </pre>
    </div>
  );
}

/** A node's new credentials, shown this once: the master keeps only their hashes. */
export function IssuedCredentials({
  enrolment,
  urls,
  onDone,
}: {
  enrolment: NodeEnrolment;
  urls: AgentUrls;
  onDone(): void;
}) {
  return (
    <section className="issued" data-testid="issued-credentials" aria-label="New credentials">
      <p className="notice">
        {enrolment.rotated ? 'New credentials' : 'Credentials'} of node <b>{enrolment.nodeId}</b>: shown only
        now. {enrolment.rotated ? 'The old ones no longer work. ' : ''}Put them in the agent's configuration
        (or the inventory's vault) before leaving this page.
      </p>
      <Block title="agent.yaml" text={agentYaml(enrolment, urls)} testId="issued-agent-yaml" />
      <Block title="Ansible host_vars" text={ansibleHostVars(enrolment)} testId="issued-host-vars" />
      <p className="sub">
        The URLs are the default ports on the master's host; change them where the broker or the gateway run
        elsewhere.
      </p>
      <button type="button" className="button-quiet" onClick={onDone}>
        Done, hide them
      </button>
    </section>
  );
}
