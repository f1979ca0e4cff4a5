'use client';

import type { CameraChangeAnswer, CameraSettingsList, CameraSettingsView, ProbeResult } from '@cctv/protocol';
import { type FormEvent, useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';
import {
  type CameraDraft,
  createRequest,
  type DraftField,
  draftOfView,
  draftProblems,
  emptyDraft,
  idFromName,
  LIMITS,
  syncText,
  type Transport,
  updateRequest,
} from './camera-form';
import { type ProbeOutcome, probeCamera } from './camera-probe';
import { Check, Field, UrlInput } from './form-fields';
import { ProbeView } from './probe-view';

interface Props {
  /** The camera edited; absent: a new one. */
  camera?: CameraSettingsView;
  nodes: CameraSettingsList['nodes'];
  onSaved: (answer: CameraChangeAnswer) => void;
  /** A successful probe (its snapshot is the zone editor's picture). */
  onProbed?: (result: ProbeResult) => void;
  onCancel: () => void;
}

/** Whether a change of these fields makes an earlier probe stale. */
const PROBED: (keyof CameraDraft)[] = ['nodeId', 'url', 'password', 'transports'];

/**
 * A camera's settings: add (id, node) or edit. The URL is probed on the node before saving, which
 * shows what the node found and one frame; saving needs a successful probe of the URL as typed,
 * or the explicit "Save without probing". The password is write-only: never shown, kept unless
 * typed anew or removed.
 */
export function CameraFormPanel({ camera, nodes, onSaved, onProbed, onCancel }: Props) {
  const creating = !camera;
  const [draft, setDraft] = useState<CameraDraft>(() =>
    camera ? draftOfView(camera) : emptyDraft(nodes.length === 1 ? (nodes[0]?.id ?? '') : ''),
  );
  const [idTouched, setIdTouched] = useState(!creating);
  const [shown, setShown] = useState(false);
  const [probe, setProbe] = useState<ProbeOutcome | null>(null);
  const [probing, setProbing] = useState(false);
  const [saving, setSaving] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const problems = draftProblems(draft, creating);
  const valid = Object.keys(problems).length === 0;
  // Editing without touching what the probe checks needs none.
  const unchanged = camera && draft.url === camera.url && !draft.password && draft.nodeId === camera.nodeId;
  const mayJustSave = probe?.ok === true || unchanged;

  function set(patch: Partial<CameraDraft>) {
    const next = { ...draft, ...patch };
    if (creating && !idTouched && patch.name !== undefined) next.id = idFromName(patch.name);
    if (PROBED.some((k) => k in patch)) setProbe(null);
    setDraft(next);
    setRefusal(null);
  }

  const problem = (field: DraftField) =>
    shown && problems[field] ? (
      <span className="camera-field-problem" role="alert" data-testid={`problem-${field}`}>
        {problems[field]}
      </span>
    ) : null;

  async function runProbe() {
    setShown(true);
    if (problems.url || problems.password || !draft.nodeId) return;
    setProbing(true);
    setProbe(null);
    const outcome = await probeCamera(draft.nodeId, {
      url: draft.url.trim(),
      ...(draft.password ? { password: draft.password } : {}),
      // Editing without a new password: the master uses the saved one (its own host only).
      ...(camera && !draft.password && !draft.clearPassword ? { cameraId: camera.id } : {}),
      ...(draft.transports.length > 0 ? { transports: draft.transports } : {}),
    });
    setProbe(outcome);
    setProbing(false);
    if (outcome.ok) onProbed?.(outcome.result);
  }

  async function save(ev?: FormEvent) {
    ev?.preventDefault();
    setShown(true);
    if (!valid) return;
    setSaving(true);
    setRefusal(null);
    try {
      const res = camera
        ? await masterFetch('cameraUpdate', { params: { id: camera.id }, body: updateRequest(draft, camera) })
        : await masterFetch('cameraCreate', { body: createRequest(draft) });
      if (res.ok) onSaved(await res.json());
      else setRefusal((await errorOf(res))?.message ?? `HTTP ${res.status}`);
    } catch {
      setRefusal('the dashboard server is unreachable');
    }
    setSaving(false);
  }

  const toggleTransport = (t: Transport, on: boolean) =>
    set({ transports: on ? [...draft.transports, t].sort() : draft.transports.filter((x) => x !== t) });

  return (
    <form
      className="camera-form"
      onSubmit={save}
      noValidate
      data-testid="camera-form"
      aria-label="Camera settings"
    >
      <div className="camera-fields">
        <Field label="Name" problem={problem('name')}>
          <input
            value={draft.name}
            maxLength={LIMITS.nameMax}
            onChange={(e) => set({ name: e.target.value })}
            data-testid="camera-name-input"
          />
        </Field>
        {creating ? (
          <>
            <Field label="Id" problem={problem('id')}>
              <input
                value={draft.id}
                maxLength={LIMITS.idMax}
                className="mono"
                spellCheck={false}
                onChange={(e) => {
                  setIdTouched(true);
                  set({ id: e.target.value });
                }}
                data-testid="camera-id-input"
              />
            </Field>
            <Field label="Node" problem={problem('nodeId')}>
              <select
                value={draft.nodeId}
                onChange={(e) => set({ nodeId: e.target.value })}
                data-testid="camera-node"
              >
                <option value="">Choose a node…</option>
                {nodes.map((n) => (
                  <option key={n.id} value={n.id}>
                    {n.id} ({n.state}, {syncText(n.config)})
                  </option>
                ))}
              </select>
            </Field>
          </>
        ) : null}
        <Field label="Stream URL" wide problem={problem('url')}>
          <UrlInput
            value={draft.url}
            placeholder="rtsp://user@192.168.1.20:554/stream1"
            onChange={(url) => set({ url })}
            testId="camera-url"
          />
        </Field>
        <Field label="Password" problem={problem('password')}>
          <input
            type="password"
            value={draft.password}
            maxLength={LIMITS.passwordMax}
            autoComplete="new-password"
            placeholder={camera?.hasPassword && !draft.clearPassword ? 'saved' : 'none'}
            disabled={draft.clearPassword}
            onChange={(e) => set({ password: e.target.value })}
            data-testid="camera-password"
          />
          {camera?.hasPassword && !draft.password && !draft.clearPassword ? (
            <span className="sub">
              A probe uses the saved password on the camera&apos;s own host; type it again for another.
            </span>
          ) : null}
        </Field>
        {camera?.hasPassword ? (
          <Check checked={draft.clearPassword} onChange={(on) => set({ clearPassword: on, password: '' })}>
            Remove the saved password
          </Check>
        ) : null}
        <Field label="Substream URL (optional, for detection)" wide problem={problem('substreamUrl')}>
          <UrlInput
            value={draft.substreamUrl}
            onChange={(substreamUrl) => set({ substreamUrl })}
            testId="camera-substream"
          />
        </Field>
        <fieldset className="events-field camera-field camera-checks">
          <legend>RTSP transports (none ticked: TCP, then UDP)</legend>
          {(['tcp', 'udp'] as Transport[]).map((t) => (
            <Check key={t} checked={draft.transports.includes(t)} onChange={(on) => toggleTransport(t, on)}>
              {t.toUpperCase()}
            </Check>
          ))}
        </fieldset>
        <Field label="Recording">
          <select
            value={draft.recordCodec}
            onChange={(e) => set({ recordCodec: e.target.value as CameraDraft['recordCodec'] })}
          >
            <option value="">Node default</option>
            <option value="source">As the camera sends it</option>
            <option value="hevc">Re-encoded to HEVC</option>
          </select>
        </Field>
        <fieldset className="events-field camera-field camera-checks">
          <legend>Detection</legend>
          <Check checked={draft.detect} onChange={(on) => set({ detect: on })} testId="camera-detect">
            Motion events
          </Check>
          <Check
            checked={draft.faces}
            disabled={!draft.detect}
            onChange={(on) => set({ faces: on })}
            testId="camera-faces"
          >
            Faces
          </Check>
        </fieldset>
        <Field label="Motion sensitivity (1–10)" problem={problem('sensitivity')}>
          <WholeNumber
            range={[1, 10]}
            placeholder="default"
            value={draft.sensitivity}
            disabled={!draft.detect}
            onChange={(v) => set({ sensitivity: v })}
            testId="camera-sensitivity"
          />
        </Field>
        <Field label="Keep recordings (days)" problem={problem('retentionDays')}>
          <WholeNumber
            range={[0, 3650]}
            placeholder="gateway default"
            value={draft.retentionDays}
            onChange={(v) => set({ retentionDays: v })}
            testId="camera-retention"
          />
        </Field>
        <Check checked={draft.enabled} onChange={(on) => set({ enabled: on })} testId="camera-enabled">
          Enabled (recorded and analysed)
        </Check>
      </div>
      <div className="camera-probe">
        <button
          type="button"
          className="button-quiet"
          onClick={runProbe}
          disabled={probing || !draft.url || !draft.nodeId}
          data-testid="camera-probe"
        >
          {probing ? 'Probing…' : 'Probe'}
        </button>
        <span className="sub">The node opens the stream and shows what it finds; nothing is saved.</span>
      </div>
      {probe ? <ProbeView outcome={probe} /> : null}
      {refusal ? (
        <p className="notice" role="alert" data-testid="camera-refusal">
          Not saved: {refusal}
        </p>
      ) : null}
      <div className="camera-actions">
        <button
          type="submit"
          className="button-primary"
          disabled={saving || !mayJustSave}
          title={mayJustSave ? undefined : 'Probe the URL first'}
          data-testid="camera-save"
        >
          {saving ? 'Saving…' : creating ? 'Add camera' : 'Save'}
        </button>
        {!mayJustSave ? (
          <button
            type="button"
            className="button-quiet"
            onClick={() => save()}
            disabled={saving}
            data-testid="camera-save-unprobed"
          >
            Save without probing
          </button>
        ) : null}
        <button type="button" className="button-quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A whole number typed as text (empty: not set), within `range`. */
function WholeNumber(p: {
  range: [number, number];
  placeholder: string;
  value: string;
  disabled?: boolean;
  onChange(value: string): void;
  testId: string;
}) {
  return (
    <input
      type="number"
      min={p.range[0]}
      max={p.range[1]}
      step={1}
      inputMode="numeric"
      placeholder={p.placeholder}
      value={p.value}
      disabled={p.disabled}
      onChange={(e) => p.onChange(e.target.value)}
      data-testid={p.testId}
    />
  );
}
