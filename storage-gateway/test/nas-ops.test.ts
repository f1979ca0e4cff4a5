/**
 * The NAS copy itself (NasOps, run in the NAS worker): the kernel copies, one read-back hash
 * checks both copies, and a buffered copy that no longer hashes right is told apart from a bad
 * NAS write without ever replacing a good copy already on the NAS.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { NasError } from '../src/nas/nas-errors.ts';
import { NasOps } from '../src/nas/nas-ops.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function setup() {
  const dir = await tempDir('cctv-nasops-');
  const buffer = join(dir, 'buffer', 'cam-o');
  const nas = join(dir, 'nas');
  await mkdir(buffer, { recursive: true });
  await mkdir(nas, { recursive: true });
  return { buffer, nas, ops: new NasOps({ nasDir: nas, requireMount: false }) };
}

describe('NAS copy', () => {
  it('copies a segment, several megabytes and odd sizes, and leaves no temp file', async () => {
    const { buffer, nas, ops } = await setup();
    for (const [name, size] of [
      ['s1.m4s', 0],
      ['s2.m4s', 1],
      ['s3.m4s', 3 * 1024 * 1024 + 17],
    ] as const) {
      const data = randomBytes(size);
      await writeFile(join(buffer, name), data);
      assert.deepEqual(await ops.copy(join(buffer, name), 'cam-o', name, sha256(data)), {
        status: 'copied',
        bytes: size,
      });
      assert.ok((await readFile(join(nas, 'cam-o', name))).equals(data));
    }
    assert.deepEqual((await readdir(join(nas, 'cam-o'))).sort(), ['s1.m4s', 's2.m4s', 's3.m4s']);
  });

  it('says source_missing when the buffered copy is gone, and leaves nothing', async () => {
    const { buffer, nas, ops } = await setup();
    assert.deepEqual(await ops.copy(join(buffer, 'gone.m4s'), 'cam-o', 'gone.m4s', 'a'.repeat(64)), {
      status: 'source_missing',
    });
    assert.deepEqual(await readdir(join(nas, 'cam-o')), []);
  });

  it('refuses a damaged buffered copy as buffer_corrupt and keeps the good NAS copy already there', async () => {
    const { buffer, nas, ops } = await setup();
    const good = randomBytes(200_000);
    await mkdir(join(nas, 'cam-o'), { recursive: true });
    await writeFile(join(nas, 'cam-o', 's1.m4s'), good);
    const damaged = Buffer.from(good);
    damaged[1234] = (damaged[1234] as number) ^ 0xff;
    await writeFile(join(buffer, 's1.m4s'), damaged);
    await assert.rejects(
      ops.copy(join(buffer, 's1.m4s'), 'cam-o', 's1.m4s', sha256(good)),
      (err: unknown) => err instanceof NasError && err.reason === 'buffer_corrupt',
    );
    assert.ok((await readFile(join(nas, 'cam-o', 's1.m4s'))).equals(good), 'the NAS copy was replaced');
    assert.deepEqual(await readdir(join(nas, 'cam-o')), ['s1.m4s']);
  });

  it('refuses names that would leave the NAS root', async () => {
    const { buffer, ops } = await setup();
    await assert.rejects(
      ops.copy(join(buffer, 's1.m4s'), '..', 's1.m4s', 'a'.repeat(64)),
      (err: unknown) => err instanceof NasError && err.reason === 'write_error',
    );
    await assert.rejects(
      ops.copy(join(buffer, 's1.m4s'), 'cam-o', '../s1.m4s', 'a'.repeat(64)),
      (err: unknown) => err instanceof NasError && err.reason === 'write_error',
    );
  });
});
