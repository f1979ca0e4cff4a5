'use client';

import type { CameraChoice } from './user-form';

export interface PickableCamera {
  id: string;
  name: string;
  nodeId: string;
}

/** "All cameras" (including ones added later), or a list chosen by ticking cameras. */
export function CameraPicker({
  cameras,
  value,
  onChange,
  idPrefix,
}: {
  cameras: readonly PickableCamera[];
  value: CameraChoice;
  onChange(choice: CameraChoice): void;
  idPrefix: string;
}) {
  const toggle = (id: string, on: boolean) =>
    onChange({ all: false, ids: on ? [...value.ids, id] : value.ids.filter((x) => x !== id) });
  return (
    <fieldset className="camera-picker" data-testid="camera-picker">
      <legend>Cameras</legend>
      <label className="check">
        <input
          type="checkbox"
          checked={value.all}
          onChange={(e) => onChange({ all: e.target.checked, ids: value.ids })}
        />
        All cameras, also ones added later
      </label>
      {value.all ? null : cameras.length === 0 ? (
        <p className="sub">No cameras are registered yet.</p>
      ) : (
        <ul className="camera-choices">
          {cameras.map((c) => {
            const id = `${idPrefix}-${c.id}`;
            return (
              <li key={c.id}>
                <label className="check" htmlFor={id}>
                  <input
                    id={id}
                    type="checkbox"
                    value={c.id}
                    checked={value.ids.includes(c.id)}
                    onChange={(e) => toggle(c.id, e.target.checked)}
                  />
                  {c.name || c.id}{' '}
                  <span className="sub">
                    {c.id !== c.name ? `${c.id} · ` : ''}
                    {c.nodeId}
                  </span>
                </label>
              </li>
            );
          })}
        </ul>
      )}
    </fieldset>
  );
}
