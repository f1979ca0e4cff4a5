'use client';

import type {
  CameraChangeAnswer,
  CameraSettingsList,
  CameraSettingsView,
  CameraView,
  NodeView,
  ProbeResult,
} from '@cctv/protocol';
import { useEffect, useState } from 'react';
import { StateBadge } from '@/components/state-badge';
import { useFleet } from '@/features/fleet/fleet-socket';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';
import { changedSettings, displayUrl, pushText, syncText } from './camera-form';
import { CameraFormPanel } from './camera-form-panel';
import { snapshotUrl } from './camera-probe';
import { ConfigNodes } from './config-nodes';
import { Dialog, PageHead } from './page-parts';
import { ZoneEditor } from './zone-editor';
import { DEFAULT_PICTURE, type PictureSize } from './zone-shapes';

interface Props {
  initial: CameraSettingsList;
  /** The fleet as the page was rendered: each camera's state and picture size, kept current by `/ws`. */
  initialNodes: NodeView[];
  masterPublicUrl: string;
}

/** The picture's size as the node reports it, else 16:9. */
function pictureOf(camera: CameraView | undefined): PictureSize {
  return camera?.width && camera.height ? { width: camera.width, height: camera.height } : DEFAULT_PICTURE;
}

/** An enabled camera's state as its node reports it (recording, starting…), once it does. */
function CameraState({ camera }: { camera: CameraView | undefined }) {
  if (!camera) return <span className="sub">enabled, not reported yet</span>;
  return <StateBadge state={camera.online ? camera.state : 'offline'} />;
}

/** How often the list is read again while a node has not applied its newest version. */
const PENDING_RELOAD_MS = 3000;

type View =
  | { kind: 'list' }
  | { kind: 'add' }
  | { kind: 'edit'; id: string }
  | { kind: 'remove'; id: string };

/**
 * The desired cameras of the master-managed nodes: list, add (probed first), edit with the zone
 * editor, enable or disable, remove. Every change is a new version of the node's configuration,
 * which the master pushes to the node; the answer says whether the node took it.
 */
export function CameraSettings({ initial, initialNodes, masterPublicUrl }: Props) {
  const fleet = useFleet(masterPublicUrl, initialNodes).nodes.flatMap((n) => n.cameras);
  const reported = (id: string) => fleet.find((c) => c.id === id);
  const [list, setList] = useState(initial);
  const [view, setView] = useState<View>({ kind: 'list' });
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [probed, setProbed] = useState<Record<string, ProbeResult>>({});
  const [busy, setBusy] = useState<string | null>(null);

  async function reload() {
    try {
      const res = await masterFetch('cameraSettings');
      if (res.ok) setList(await res.json());
    } catch {
      // the list stays as it was; the next change tries again
    }
  }

  // Until every node reports the version it was sent, read its state again now and then.
  const pending = list.nodes.some((n) => n.config.sync === 'pending');
  // biome-ignore lint/correctness/useExhaustiveDependencies: the list is the trigger; reload reads it afresh
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(reload, PENDING_RELOAD_MS);
    return () => clearTimeout(timer);
  }, [list, pending]);

  async function changed(answer: CameraChangeAnswer, what: string, next: View = { kind: 'list' }) {
    setMessage({ ok: answer.push.state !== 'refused', text: `${what} ${pushText(answer)}` });
    setView(next);
    await reload();
  }

  async function refused(res: Response, what: string) {
    const err = await errorOf(res);
    setMessage({ ok: false, text: `${what}: ${err?.message ?? `HTTP ${res.status}`}` });
  }

  async function toggle(c: CameraSettingsView) {
    setBusy(c.id);
    try {
      const res = await masterFetch('cameraUpdate', {
        params: { id: c.id },
        body: changedSettings(c, { enabled: !c.enabled }),
      });
      if (res.ok) await changed(await res.json(), `${c.name} ${c.enabled ? 'disabled' : 'enabled'}.`);
      else await refused(res, `${c.name} not changed`);
    } catch {
      setMessage({ ok: false, text: 'The dashboard server is unreachable.' });
    }
    setBusy(null);
  }

  async function remove(c: CameraSettingsView) {
    setBusy(c.id);
    try {
      const res = await masterFetch('cameraDelete', { params: { id: c.id } });
      if (res.ok) await changed(await res.json(), `${c.name} removed.`);
      else {
        await refused(res, `${c.name} not removed`);
        setView({ kind: 'list' });
      }
    } catch {
      setMessage({ ok: false, text: 'The dashboard server is unreachable.' });
    }
    setBusy(null);
  }

  const nodeOf = (id: string) => list.nodes.find((n) => n.id === id);
  const editing = view.kind === 'edit' ? list.cameras.find((c) => c.id === view.id) : undefined;
  const removing = view.kind === 'remove' ? list.cameras.find((c) => c.id === view.id) : undefined;
  const status = message ? (
    <p
      role={message.ok ? 'status' : 'alert'}
      className={message.ok ? 'camera-message' : 'notice'}
      data-testid="cameras-message"
    >
      {message.text}
    </p>
  ) : null;

  if (editing) {
    const probe = probed[editing.id];
    const size = probe ? { width: probe.width, height: probe.height } : pictureOf(reported(editing.id));
    return (
      <div className="camera-edit" data-testid="camera-edit" data-camera-id={editing.id}>
        <PageHead
          title={editing.name}
          facts={
            <>
              <span className="mono">{editing.id}</span>
              <span>
                on <span className="mono">{editing.nodeId}</span> · {syncText(nodeOf(editing.nodeId)?.config)}
              </span>
            </>
          }
        >
          <button
            type="button"
            className="button-quiet"
            onClick={() => setView({ kind: 'list' })}
            data-testid="camera-back"
          >
            Back to cameras
          </button>
        </PageHead>
        {status}
        <CameraFormPanel
          key={`form-${editing.id}`}
          camera={editing}
          nodes={list.nodes}
          onSaved={(a) => changed(a, `${editing.name} saved.`, view)}
          onProbed={(r) => setProbed((p) => ({ ...p, [editing.id]: r }))}
          onCancel={() => setView({ kind: 'list' })}
        />
        <h2>Motion zones and masks</h2>
        <ZoneEditor
          key={`zones-${editing.id}`}
          camera={editing}
          size={size}
          snapshot={probe ? snapshotUrl(probe) : null}
          masterPublicUrl={masterPublicUrl}
          onSaved={() => reload()}
        />
      </div>
    );
  }

  return (
    <>
      <PageHead
        title="Desired cameras"
        facts={
          <span data-testid="cameras-count" data-count={list.cameras.length}>
            {list.cameras.length} camera{list.cameras.length === 1 ? '' : 's'} on {list.nodes.length}{' '}
            master-managed node{list.nodes.length === 1 ? '' : 's'}
          </span>
        }
      >
        <button
          type="button"
          className="button-primary"
          onClick={() => setView({ kind: 'add' })}
          disabled={list.nodes.length === 0}
          data-testid="camera-add"
        >
          Add camera
        </button>
      </PageHead>
      {status}
      {list.nodes.length === 0 ? (
        <p className="sub">
          No node takes its cameras from the master yet: a node does when its config file says{' '}
          <span className="mono">management: master</span>.
        </p>
      ) : null}
      <div className="table-wrap">
        <table className="settings-table cards cameras-table" data-testid="cameras-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Id</th>
              <th>Node</th>
              <th>URL</th>
              <th>State</th>
              <th>Node config</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.cameras.length === 0 ? (
              <tr>
                <td colSpan={7} className="empty">
                  No cameras yet.
                </td>
              </tr>
            ) : null}
            {list.cameras.map((c) => (
              <tr
                key={c.id}
                className={c.enabled ? '' : 'dim'}
                data-testid="camera-row"
                data-camera-id={c.id}
              >
                <td className="camera-name" data-label="Name">
                  {c.name}
                </td>
                <td className="mono" data-label="Id">
                  {c.id}
                </td>
                <td className="mono" data-label="Node">
                  {c.nodeId}
                </td>
                <td data-label="URL" className="mono camera-url" title={displayUrl(c.url)}>
                  {displayUrl(c.url)}
                  {c.hasPassword ? <span className="sub"> · password saved</span> : null}
                </td>
                <td data-label="State" data-testid="camera-enabled-state">
                  {c.enabled ? <CameraState camera={reported(c.id)} /> : 'disabled'}
                </td>
                <td data-label="Node config" data-testid="camera-sync">
                  {syncText(nodeOf(c.nodeId)?.config)}
                </td>
                <td>
                  <div className="row-actions">
                    {(
                      [
                        ['Edit', 'camera-edit-open', () => setView({ kind: 'edit', id: c.id })],
                        [c.enabled ? 'Disable' : 'Enable', 'camera-toggle', () => toggle(c)],
                        ['Remove', 'camera-remove', () => setView({ kind: 'remove', id: c.id })],
                      ] as const
                    ).map(([label, testId, act]) => (
                      <button
                        key={testId}
                        type="button"
                        className="button-quiet"
                        onClick={act}
                        disabled={busy === c.id}
                        data-testid={testId}
                      >
                        {label}
                      </button>
                    ))}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ConfigNodes nodes={list.nodes} onRolledBack={(a) => changed(a, `${a.nodeId} rolled back.`)} />
      {view.kind === 'add' ? (
        <Dialog title="Add camera" onClose={() => setView({ kind: 'list' })} testId="camera-add-dialog">
          <CameraFormPanel
            nodes={list.nodes}
            onSaved={(a) => changed(a, `${a.camera?.name ?? 'Camera'} added.`)}
            onCancel={() => setView({ kind: 'list' })}
          />
        </Dialog>
      ) : null}
      {removing ? (
        <Dialog
          title={`Remove ${removing.name}?`}
          onClose={() => setView({ kind: 'list' })}
          testId="camera-remove-dialog"
        >
          <p>
            The node stops recording <span className="mono">{removing.id}</span>. Its recordings and events
            stay until their retention ends.
          </p>
          <div className="camera-actions">
            <button
              type="button"
              className="button-primary"
              onClick={() => remove(removing)}
              disabled={busy === removing.id}
              data-testid="camera-remove-confirm"
            >
              Remove
            </button>
            <button type="button" className="button-quiet" onClick={() => setView({ kind: 'list' })}>
              Keep it
            </button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}
