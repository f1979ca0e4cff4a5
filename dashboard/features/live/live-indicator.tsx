import type { SocketState } from '@/features/fleet/fleet-socket';

const labels: Record<SocketState, string> = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
};

export function LiveIndicator({ state, attempt }: { state: SocketState; attempt: number }) {
  return (
    <span className={`live-indicator live-${state}`} data-testid="live-indicator" data-state={state}>
      <span className="dot" aria-hidden="true" />
      {labels[state]}
      {state === 'reconnecting' && attempt > 1 ? ` (try ${attempt})` : ''}
    </span>
  );
}
