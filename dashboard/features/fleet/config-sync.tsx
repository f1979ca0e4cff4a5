import type { NodeConfigStatus } from '@cctv/protocol';

const LABEL: Record<NodeConfigStatus['sync'], string> = {
  in_sync: 'config in sync',
  pending: 'config pending',
  failed: 'config failed',
  file_managed: 'file-managed',
  unconfigured: 'master-managed',
  unknown: 'config unknown',
};

/** Whether a node runs its desired configuration (docs/adr/0015), with the version and why not. */
export function ConfigSync({ config }: { config: NodeConfigStatus }) {
  const bad = config.sync === 'failed' || (config.sync === 'file_managed' && config.reason !== null);
  const version =
    config.sync === 'pending'
      ? ` v${config.appliedVersion ?? '–'} → v${config.desiredVersion}`
      : config.appliedVersion !== null
        ? ` v${config.appliedVersion}`
        : '';
  return (
    <div
      className={`sub${bad ? ' fleet-bad' : config.sync === 'pending' ? ' fleet-warn' : ''}`}
      data-testid="config-sync"
      data-sync={config.sync}
      title={config.reason ?? undefined}
    >
      {LABEL[config.sync]}
      {version}
      {config.reason ? <div className="config-reason">{config.reason}</div> : null}
    </div>
  );
}
