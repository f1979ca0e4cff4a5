import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { rootOnlySkip } from '../../test/support/root-only.ts';
import { BodyAbortedError, BodyTooLargeError, DurableStore } from '../src/files/durable-store.ts';
import { mountTmpfs, mountUnavailable } from './fault-support.ts';

/** `data` cut into chunks of the given sizes, in turn (TLS hands over 16 KiB records). */
function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length] as number;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function store(): Promise<DurableStore> {
  const s = new DurableStore(await tempDir('cctv-durable-'));
  await s.prepare();
  return s;
}

async function incoming(s: DurableStore): Promise<string[]> {
  return readdir(join(s.dir, '.incoming'));
}

const skipMount = rootOnlySkip(await mountUnavailable());

describe('durable store: receiving a body', () => {
  it('writes every byte in order, whatever the chunking, with the right sha256, size and head', async () => {
    const s = await store();
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const digest = createHash('sha256').update(data).digest('hex');
    for (const sizes of [[16 * 1024], [1, 7, 16_384, 65_536, 300_000], [4099], [data.length]]) {
      const body = Readable.from(chunked(data, sizes));
      const got = await s.receive(body, data.length);
      assert.equal(got.sha256, digest);
      assert.equal(got.bytes, data.length);
      assert.deepEqual(got.head, data.subarray(0, 16));
      assert.ok((await readFile(got.tempPath)).equals(data), `file differs for chunks ${sizes}`);
    }
    // Many tiny chunks: more than a gathered write takes at once.
    const small = randomBytes(40_000);
    const got = await s.receive(Readable.from(chunked(small, [3])), small.length);
    assert.ok((await readFile(got.tempPath)).equals(small));
  });

  it('refuses a body that grows past the limit and leaves no temp file', async () => {
    const s = await store();
    const data = randomBytes(1024 * 1024);
    await assert.rejects(s.receive(Readable.from(chunked(data, [16 * 1024])), 600_000), BodyTooLargeError);
    assert.deepEqual(await incoming(s), []);
  });

  it('reports a connection that dies mid-body as aborted and leaves no temp file', async () => {
    const s = await store();
    const data = randomBytes(2 * 1024 * 1024);
    const chunks = chunked(data, [16 * 1024]);
    let i = 0;
    const body = new Readable({
      read() {
        if (i === 70) {
          this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
          return;
        }
        this.push(chunks[i++]);
      },
    });
    await assert.rejects(s.receive(body, data.length), BodyAbortedError);
    assert.deepEqual(await incoming(s), []);
  });

  it('fails with the write error, not a hang or a crash, when the disk fills mid-body', {
    skip: skipMount,
  }, async () => {
    const dir = await tempDir('cctv-durable-full-');
    await mountTmpfs(dir, '1m');
    const s = new DurableStore(dir);
    await s.prepare();
    const data = randomBytes(4 * 1024 * 1024);
    await assert.rejects(s.receive(Readable.from(chunked(data, [16 * 1024])), data.length), {
      code: 'ENOSPC',
    });
    assert.deepEqual(await incoming(s), []);
    // The store still takes what fits.
    const small = randomBytes(100_000);
    const got = await s.receive(Readable.from([small]), small.length);
    assert.ok((await readFile(got.tempPath)).equals(small));
  });
});
