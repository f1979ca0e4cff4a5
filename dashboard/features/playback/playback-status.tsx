import {
  type PlaybackErrorTexts,
  type PlaybackStatus,
  playbackErrorText,
} from '@/features/playback/playback';

/** The player's state in a word: `data-state` is loading, ready or error. */
export function PlaybackStatusBadge({ status, testId }: { status: PlaybackStatus; testId: string }) {
  return (
    <span className={`player-status status-${status.kind}`} data-testid={testId} data-state={status.kind}>
      {status.kind === 'loading' ? 'loading…' : status.kind === 'ready' ? 'playing' : 'cannot play'}
    </span>
  );
}

/** Why the player cannot play, in the player's own words; nothing while it can. */
export function PlaybackErrorNotice({
  status,
  testId,
  texts,
}: {
  status: PlaybackStatus;
  testId: string;
  texts: PlaybackErrorTexts;
}) {
  if (status.kind !== 'error') return null;
  return (
    <p className="notice" role="alert" data-testid={testId} data-cause={status.cause}>
      {playbackErrorText(status, texts)}
    </p>
  );
}
