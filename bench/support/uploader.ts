/**
 * Agent-like segment uploaders for the gateway benchmarks: one keep-alive connection per camera
 * (HTTPS or plain HTTP, after the gateway URL), one PUT at a time with the agent's headers and
 * its node's upload token, each segment retried until acknowledged, as an agent does.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { pct, sleep } from '../support.ts';

export interface Body {
  data: Buffer;
  sha256: string;
}

/** `count` random bodies of `bytes` each, hashed (made before anything is timed). */
export function makeBodies(count: number, bytes: number): Body[] {
  return Array.from({ length: count }, () => {
    const data = randomBytes(bytes);
    return { data, sha256: createHash('sha256').update(data).digest('hex') };
  });
}

export interface Acked {
  camera: string;
  name: string;
  sha256: string;
  bytes: number;
  startMs: number;
  /** performance.now() when the request went out / the 2xx arrived (last attempt). */
  sentAt: number;
  ackedAt: number;
  /** When it was due (paced cameras), performance.now(). */
  dueAt: number;
  attempts: number;
}

function putOnce(
  agent: http.Agent,
  url: URL,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
  handshakes: { full: number; resumed: number },
): Promise<{ status: number; retryAfterS: number | null }> {
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'PUT',
        agent,
        timeout: 60_000,
        headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': body.length },
      },
      (res) => {
        const retryAfter = Number(res.headers['retry-after']);
        const answer = {
          status: res.statusCode ?? 0,
          retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
        };
        res.resume();
        res.on('end', () => resolve(answer));
        res.on('error', () => resolve({ status: 0, retryAfterS: null }));
      },
    );
    req.on('socket', (socket) => {
      if (socket instanceof TLSSocket && socket.connecting)
        socket.once('secureConnect', () => {
          if (socket.isSessionReused()) handshakes.resumed++;
          else handshakes.full++;
        });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, retryAfterS: null }));
    req.end(body);
  });
}

export interface UploaderRun {
  acked: Acked[];
  refused: Map<string, number>;
  /** TLS handshakes made (new connections), and of them resumed sessions; 0 over plain HTTP. */
  handshakes(): { full: number; resumed: number };
  stop(): Promise<void>;
}

/**
 * One camera's uploader: segment after segment, each retried until acknowledged. `paceMs`:
 * segment i is sent no earlier than `t0 + i * paceMs` (a recording camera); 0: back to back.
 */
export function startUploader(opts: {
  url: string;
  camera: string;
  node: string;
  token: string | null;
  bodies: Body[];
  bodyOffset: number;
  recordStartMs: number;
  segmentMs: number;
  paceMs: number;
  t0: number;
}): UploaderRun {
  const url = new URL(opts.url);
  const agent =
    url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 1 })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const handshakes = { full: 0, resumed: 0 };
  const acked: Acked[] = [];
  const refused = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const dueAt = opts.t0 + i * opts.paceMs;
      const wait = dueAt - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopped) break;
      const body = opts.bodies[(opts.bodyOffset + i) % opts.bodies.length] as Body;
      const name = `seg-${String(i).padStart(6, '0')}.m4s`;
      const startMs = opts.recordStartMs + i * opts.segmentMs;
      const headers: Record<string, string> = {
        [SEGMENT_HEADERS.sha256]: body.sha256,
        [SEGMENT_HEADERS.node]: opts.node,
        [SEGMENT_HEADERS.start]: new Date(startMs).toISOString(),
        [SEGMENT_HEADERS.durationMs]: String(opts.segmentMs),
        [SEGMENT_HEADERS.init]: 'init-bench.mp4',
        [SEGMENT_HEADERS.codec]: 'hvc1',
      };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      for (let attempt = 1; ; attempt++) {
        const sentAt = performance.now();
        const { status, retryAfterS } = await putOnce(
          agent,
          url,
          `/v1/segments/${opts.camera}/${name}`,
          body.data,
          headers,
          handshakes,
        );
        if (status === 200 || status === 201) {
          const ackedAt = performance.now();
          acked.push({
            camera: opts.camera,
            name,
            sha256: body.sha256,
            bytes: body.data.length,
            startMs,
            sentAt,
            ackedAt,
            dueAt,
            attempts: attempt,
          });
          break;
        }
        refused.set(String(status), (refused.get(String(status)) ?? 0) + 1);
        // Like an agent: the segment is kept and sent again (after the gateway's Retry-After,
        // when it says one); a stopping run gives up on it.
        if (stopped) return;
        await sleep(retryAfterS !== null ? retryAfterS * 1000 : 200);
      }
    }
  })();
  return {
    acked,
    refused,
    handshakes: () => ({ ...handshakes }),
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
    },
  };
}

export const mergeRefused = (runs: UploaderRun[]) => {
  const all = new Map<string, number>();
  for (const r of runs) for (const [k, v] of r.refused) all.set(k, (all.get(k) ?? 0) + v);
  return [...all].map(([k, v]) => `${k === '0' ? 'no answer' : k}×${v}`).join(', ') || 'none';
};

export interface IngestWindow {
  seconds: number;
  mbPerS: number;
  segmentsPerS: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Longest a segment was acknowledged after it was due (the camera's own lag). */
  maxLagMs: number;
}

/** What was acknowledged between `from` and `to` (performance.now()): MB/s, PUT times, lag. */
export function ingestWindow(acked: Acked[], from: number, to: number): IngestWindow {
  const xs = acked.filter((a) => a.ackedAt >= from && a.ackedAt < to);
  const seconds = (to - from) / 1000;
  const lat = xs.map((a) => a.ackedAt - a.sentAt);
  return {
    seconds,
    mbPerS: xs.reduce((n, a) => n + a.bytes, 0) / 1e6 / seconds,
    segmentsPerS: xs.length / seconds,
    p50Ms: pct(lat, 50),
    p95Ms: pct(lat, 95),
    p99Ms: pct(lat, 99),
    maxLagMs: xs.reduce((m, a) => Math.max(m, a.ackedAt - a.dueAt), 0),
  };
}
