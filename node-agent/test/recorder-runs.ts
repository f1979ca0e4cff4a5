/**
 * What the recorder tests read back: a camera's ffmpeg runs on the host, the clock bars of a
 * spooled segment, and what a gateway stand-in was sent.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { decodeClockBars } from '../../bench/support/clock-bars.ts';
import { initName } from '../src/spool/segment.ts';

const run = promisify(execFile);

/** Pids of this camera's recording ffmpeg runs (by their output folder), with their command lines. */
export async function recorderRuns(cameraDir: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (args[0]?.endsWith('ffmpeg') && args.some((a) => a.startsWith(cameraDir)))
      found.push({ pid: Number(entry), cmdline: args.join(' ') });
  }
  return found;
}

/**
 * The clock-bar stamps of a spooled segment's frames, in order (null: a frame not decodable
 * alone); `scratch` takes the joined init + segment file.
 */
export async function frameStamps(
  cameraDir: string,
  segment: string,
  scratch: string,
  size: { width: number; height: number },
): Promise<(number | null)[]> {
  const runId = segment.split('-')[0] ?? '';
  const joined = join(scratch, `stamps-${segment}.mp4`);
  await writeFile(
    joined,
    Buffer.concat([
      await readFile(join(cameraDir, initName(runId))),
      await readFile(join(cameraDir, segment)),
    ]),
  );
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'quiet', '-i', joined, '-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
  );
  const frame = size.width * size.height * 4;
  const stamps: (number | null)[] = [];
  for (let at = 0; at + frame <= stdout.length; at += frame)
    stamps.push(decodeClockBars(stdout.subarray(at, at + frame), size.width, size.height));
  return stamps;
}

/** A segment as the gateway stand-in received it: what the real one indexes, and its bytes' hash. */
export interface Upload {
  name: string;
  startMs: number;
  durationMs: number;
  codec: string;
  sha256: string;
  /** The sha256 of the bytes received. */
  bodySha256: string;
}

/**
 * A gateway stand-in on a free port (closed after the test): answers every upload 201 and
 * keeps what it was sent of each segment, in arrival order.
 */
export async function startGatewayStandIn(): Promise<{ url: string; uploads: Upload[] }> {
  const uploads: Upload[] = [];
  const gateway = createServer((req, res) => {
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => {
      const name = decodeURIComponent(req.url?.split('/').at(-1) ?? '');
      const h = (k: string) => String(req.headers[k] ?? '');
      if (name.endsWith('.m4s'))
        uploads.push({
          name,
          startMs: Date.parse(h(SEGMENT_HEADERS.start)),
          durationMs: Number(h(SEGMENT_HEADERS.durationMs)),
          codec: h(SEGMENT_HEADERS.codec),
          sha256: h(SEGMENT_HEADERS.sha256),
          bodySha256: hash.digest('hex'),
        });
      res.writeHead(201).end('{}');
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  after(() => new Promise<void>((r) => gateway.close(() => r())));
  return { url: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`, uploads };
}
