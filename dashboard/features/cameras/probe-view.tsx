import { type ProbeOutcome, snapshotUrl } from './camera-probe';

/** What a probe found (codec, size, rate, transports, one frame), or why it failed. */
export function ProbeView({ outcome }: { outcome: ProbeOutcome }) {
  if (!outcome.ok)
    return (
      <p className="notice" role="alert" data-testid="probe-error" data-code={outcome.code}>
        Probe failed: {outcome.text}
      </p>
    );
  const r = outcome.result;
  return (
    <div className="probe-result" data-testid="probe-result" role="status">
      {/* biome-ignore lint/performance/noImgElement: a data URL from the probe, nothing to optimise */}
      <img
        src={snapshotUrl(r)}
        alt="One frame of the stream, as the node received it"
        data-testid="probe-snapshot"
      />
      <dl>
        <dt>Codec</dt>
        <dd data-testid="probe-codec">{r.codec}</dd>
        <dt>Size</dt>
        <dd data-testid="probe-size">
          {r.width}×{r.height}
        </dd>
        <dt>Frame rate</dt>
        <dd data-testid="probe-fps">{Math.round(r.fps * 100) / 100} fps</dd>
        <dt>Transports</dt>
        <dd data-testid="probe-transports">
          {r.transports.length > 0 ? r.transports.map((t) => t.toUpperCase()).join(', ') : 'not RTSP'}
        </dd>
        {r.hasAudio !== undefined ? (
          <>
            <dt>Audio</dt>
            <dd>{r.hasAudio ? 'yes' : 'no'}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}
