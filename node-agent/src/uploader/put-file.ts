/**
 * Sends one file to the gateway with PUT, hashed first over the same bytes: a segment (a few
 * MB at most) is read once into memory, hashed and sent from there; a larger file is read
 * twice as a stream, for the hash and for the body.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Files up to this size are read whole (one read instead of two streams of 64 KiB chunks). */
export const WHOLE_READ_MAX_BYTES = 16 * 1024 * 1024;

/** A file about to be sent: its path, its hash, and its bytes when read whole. */
export interface UploadFile {
  path: string;
  sha256: string;
  data: Buffer | null;
}

/**
 * A buffer one sender reuses from file to file: a fresh megabyte per segment would leave
 * glibc's heap holding megabytes per camera between uploads (its mmap threshold rises after
 * the first large free), where one kept buffer per camera is all the memory this needs.
 */
export class ReadBuffer {
  private buf = Buffer.alloc(0);

  /** At least `size` bytes; grown in whole MiB. The previous contents are not kept. */
  take(size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(Math.ceil(size / 2 ** 20) * 2 ** 20);
    return this.buf;
  }
}

/**
 * Reads a file for upload. One read plus a hash of the buffer costs a fraction of hashing a
 * stream and streaming it again (for a 2 s 1080p segment: 1 read against ~30 through the
 * thread pool, and one write into the TLS socket). With `into`, the bytes land in that
 * buffer, which must not be reused before the PUT has ended.
 */
export async function readForUpload(path: string, into: ReadBuffer = new ReadBuffer()): Promise<UploadFile> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > WHOLE_READ_MAX_BYTES) return { path, sha256: await sha256File(path), data: null };
    const buf = into.take(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(buf, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const data = buf.subarray(0, got);
    return { path, sha256: createHash('sha256').update(data).digest('hex'), data };
  } finally {
    await fh.close();
  }
}

export interface PutResult {
  status: number;
  /** The start of the response body (error JSON from the gateway), at most 4 KiB. */
  body: string;
  /** The gateway's `Retry-After` (a 503 when its buffer is full), in ms; absent when not sent. */
  retryAfterMs?: number;
}

export type PutFile = (url: URL, file: UploadFile, headers: Record<string, string>) => Promise<PutResult>;

export interface HttpPutOptions {
  timeoutMs?: number;
  /** The node's upload token, sent as `Authorization: Bearer`. */
  token?: string | undefined;
  /** For `https://`: the only CA trusted (config `tls.ca`); without it the system's roots. */
  ca?: Buffer | undefined;
}

/**
 * PUTs files with the node's upload token (`Authorization: Bearer`), when it has one. Over
 * https the gateway's certificate is verified, host name included, against `ca` when given.
 */
export function httpPutFile({ timeoutMs = 60_000, token, ca }: HttpPutOptions = {}): PutFile {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return async (url, file, headers) => {
    const size = file.data ? file.data.length : (await stat(file.path)).size;
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<PutResult>((resolve, reject) => {
      const req = request(
        url,
        {
          ...(ca && url.protocol === 'https:' ? { ca } : {}),
          method: 'PUT',
          headers: {
            'content-type': 'application/octet-stream',
            ...auth,
            ...headers,
            'content-length': String(size),
          },
          timeout: timeoutMs,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (body.length < 4096) body += chunk;
          });
          res.on('end', () => {
            const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
            resolve({
              status: res.statusCode ?? 0,
              body: body.slice(0, 4096),
              ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`upload timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      if (file.data) {
        req.end(file.data);
        return;
      }
      const stream = createReadStream(file.path);
      stream.on('error', (err) => req.destroy(err));
      stream.pipe(req);
    });
  };
}

/** `Retry-After` in seconds (the gateway never sends a date), capped at 10 minutes. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Math.min(Number(value.trim()), 600) * 1000;
}

/** The gateway's `{error:{code,message}}`, or the raw text. */
export function describeError(result: PutResult): string {
  try {
    const doc = JSON.parse(result.body) as { error?: { code?: string; message?: string } };
    if (doc.error) return `${result.status} ${doc.error.code ?? ''}: ${doc.error.message ?? ''}`.trim();
  } catch {
    // not JSON
  }
  return `${result.status} ${result.body.slice(0, 200)}`.trim();
}
