/** A coloured pill for a node or camera state; the colour comes from the state name in CSS. */
export function StateBadge({ state }: { state: string }) {
  return <span className={`badge badge-${state.replace(/[^a-z-]/g, '')}`}>{state}</span>;
}
