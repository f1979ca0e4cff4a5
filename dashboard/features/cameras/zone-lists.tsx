import { deletePolygon, renameZone, setMode, type ZoneDraft } from './zone-draft';

interface Props {
  draft: ZoneDraft;
  onEdit: (next: ZoneDraft) => void;
  /** A zone's name field took focus: that zone becomes the selected one. */
  onSelectZone: (zone: number) => void;
}

/** The zones (with their names, typed here) and the masks of the draft, each deletable. */
export function ZoneLists({ draft, onEdit, onSelectZone }: Props) {
  return (
    <div className="zone-lists">
      <ol className="zone-list" aria-label="Zones" data-testid="zone-list">
        {draft.zones.map((z, i) => (
          <li
            // biome-ignore lint/suspicious/noArrayIndexKey: the name is being typed; the place is the identity
            key={i}
            className={draft.mode === 'zones' && draft.selected?.polygon === i ? 'zone-selected' : ''}
          >
            <label className="events-field">
              <input
                aria-label={`Name of zone ${i + 1}`}
                value={z.name}
                maxLength={63}
                onChange={(e) => onEdit(renameZone(draft, i, e.target.value))}
                onFocus={() => onSelectZone(i)}
                data-testid="zone-name"
              />
            </label>
            <span className="sub">{z.points.length} points</span>
            <button
              type="button"
              className="button-quiet"
              onClick={() => onEdit(deletePolygon(setMode(draft, 'zones'), i))}
            >
              Delete
            </button>
          </li>
        ))}
      </ol>
      <ol className="zone-list" aria-label="Masks" data-testid="mask-list">
        {draft.masks.map((m, i) => (
          <li
            // biome-ignore lint/suspicious/noArrayIndexKey: masks have no identity but their place
            key={i}
            className={draft.mode === 'masks' && draft.selected?.polygon === i ? 'zone-selected' : ''}
          >
            <span>Mask {i + 1}</span>
            <span className="sub">{m.length} points</span>
            <button
              type="button"
              className="button-quiet"
              onClick={() => onEdit(deletePolygon(setMode(draft, 'masks'), i))}
            >
              Delete
            </button>
          </li>
        ))}
      </ol>
    </div>
  );
}
