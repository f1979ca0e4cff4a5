'use client';

import type { CameraView, ExportJobView } from '@cctv/protocol';
import { type FormEvent, type ReactNode, useState } from 'react';
import { createExport, fromLocalInput, rangeProblem, toLocalInput } from '@/features/exports/export-api';

export interface ExportPrefill {
  camera: string | null;
  from: number | null;
  to: number | null;
}

interface Props {
  cameras: CameraView[];
  prefill: ExportPrefill;
  onCreated(job: ExportJobView): void;
  /** The master answered 403: the role (or the camera) does not allow exports. */
  onForbidden(message: string): void;
}

/** Camera and range of a new export; the master checks role, camera and the 1 h limit again. */
export function ExportForm({ cameras, prefill, onCreated, onForbidden }: Props) {
  const [camera, setCamera] = useState(prefill.camera ?? cameras[0]?.id ?? '');
  const [from, setFrom] = useState(() => toLocalInput(prefill.from ?? Date.now() - 5 * 60_000));
  const [to, setTo] = useState(() => toLocalInput(prefill.to ?? Date.now()));
  const [blurFaces, setBlurFaces] = useState(false);
  const [blurMotion, setBlurMotion] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const unknownCamera = camera !== '' && !cameras.some((c) => c.id === camera);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const fromMs = fromLocalInput(from);
    const toMs = fromLocalInput(to);
    const problem = camera === '' ? 'Choose a camera.' : rangeProblem(fromMs, toMs);
    if (problem || fromMs === null || toMs === null) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await createExport({
        cameraId: camera,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        blurFaces,
        blurMotion,
      });
      if (answer.ok) onCreated(answer.value);
      else if (answer.status === 401) window.location.reload();
      else if (answer.status === 403) {
        setError(`The master refused: ${answer.message}`);
        onForbidden(answer.message);
      } else setError(`Could not start the export (${answer.message}).`);
    } catch (err) {
      setError(`The dashboard server is unreachable: ${String(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="export-form" onSubmit={(e) => void submit(e)} data-testid="export-form" noValidate>
      <label htmlFor="export-camera">Camera</label>
      <select id="export-camera" value={camera} onChange={(e) => setCamera(e.target.value)} required>
        {unknownCamera ? <option value={camera}>{camera} (not in your list)</option> : null}
        {cameras.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({c.id})
          </option>
        ))}
      </select>
      <label htmlFor="export-from">From</label>
      <input
        id="export-from"
        type="datetime-local"
        step={1}
        value={from}
        onChange={(e) => setFrom(e.target.value)}
        required
      />
      <label htmlFor="export-to">To</label>
      <input
        id="export-to"
        type="datetime-local"
        step={1}
        value={to}
        onChange={(e) => setTo(e.target.value)}
        required
      />
      <ExportCheck id="export-blur" label="Blur faces" checked={blurFaces} onChange={setBlurFaces}>
        every frame searched for faces at every scale and blurred, then encoded again (slower than an export
        as recorded). Measured on camera-like 1080p frames: 96 % of faces 24 px wide and up are found, every
        face from 48 px; smaller faces may stay visible.
      </ExportCheck>
      <ExportCheck
        id="export-blur-motion"
        label="Blur moving people"
        checked={blurMotion}
        onChange={setBlurMotion}
      >
        whatever moves is blurred whole, people and not only their faces; someone who stands still for half a
        minute or more, or is there still from the start, is not (blur faces too for them).
      </ExportCheck>
      <div className="export-actions">
        <button type="submit" className="button-primary" disabled={busy || cameras.length === 0}>
          {busy ? 'Starting…' : 'Start export'}
        </button>
        <span className="sub">MP4, at most 1 hour, kept 24 h. Times are local.</span>
      </div>
      {error ? (
        <p className="notice" role="alert" data-testid="export-form-error">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** A checkbox of the export form with its explanation. */
function ExportCheck(props: {
  id: string;
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: ReactNode;
}) {
  return (
    <span className="export-check">
      <input
        id={props.id}
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange(e.target.checked)}
        aria-describedby={`${props.id}-note`}
      />
      <label htmlFor={props.id}>{props.label}</label>
      <span id={`${props.id}-note`} className="sub">
        {props.children}
      </span>
    </span>
  );
}
