/**
 * The backup file on its own: packed and unpacked with the real tar, sealed with a passphrase
 * (AES-256-GCM), and checked against its manifest. A wrong passphrase, a changed byte of the
 * sealed file, a changed part and a part the manifest does not list are each refused.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  extractArchive,
  isSealed,
  newManifest,
  sha256File,
  verifiedManifest,
  writeArchive,
} from '../../scripts/backup/archive.ts';
import { tempDir } from '../support/index.ts';

const PASSPHRASE = 'correct horse battery staple';

async function stage(dir: string): Promise<void> {
  await mkdir(join(dir, 'db'), { recursive: true });
  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'db', '001-User.copy'), 'u1\tadmin\n');
  await writeFile(join(dir, 'keys', 'session.json'), '{"current":"k"}\n');
  const manifest = newManifest({
    createdAt: new Date().toISOString(),
    host: 'test',
    softwareVersion: 'cctv-cluster 0.0.0',
    layout: 'checkout',
    database: {
      serverVersion: '18',
      migrations: [],
      tables: [{ name: 'User', columns: ['id', 'username'], rows: 1, part: 'db/001-User.copy' }],
      sequences: [],
    },
  });
  for (const part of ['db/001-User.copy', 'keys/session.json']) {
    const path = join(dir, part);
    manifest.parts[part] = { bytes: (await stat(path)).size, sha256: await sha256File(path), mode: 0o600 };
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

describe('backup archive', () => {
  it('seals with a passphrase, private; opens with it and matches its manifest', async () => {
    const dir = await tempDir('cctv-bk-arch-');
    await stage(join(dir, 'stage'));
    const file = join(dir, 'b.tar.gz');
    await writeArchive(join(dir, 'stage'), file, PASSPHRASE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await isSealed(file), true);
    await assert.rejects(writeArchive(join(dir, 'stage'), file, null), /exists/, 'never overwrites');

    await mkdir(join(dir, 'out'));
    await extractArchive(file, join(dir, 'out'), PASSPHRASE);
    const manifest = await verifiedManifest(join(dir, 'out'));
    assert.equal(manifest.database.tables[0]?.rows, 1);
    assert.equal(await readFile(join(dir, 'out', 'keys', 'session.json'), 'utf8'), '{"current":"k"}\n');

    await mkdir(join(dir, 'none'));
    await assert.rejects(extractArchive(file, join(dir, 'none'), null), /sealed with a passphrase/);
    await mkdir(join(dir, 'wrong'));
    await assert.rejects(
      extractArchive(file, join(dir, 'wrong'), 'not the passphrase'),
      /wrong passphrase or altered/,
    );

    const bytes = await readFile(file);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 1;
    const altered = join(dir, 'altered.tar.gz');
    await writeFile(altered, bytes);
    await mkdir(join(dir, 'altered'));
    await assert.rejects(
      extractArchive(altered, join(dir, 'altered'), PASSPHRASE),
      /wrong passphrase or altered/,
    );
  });

  it('refuses a changed part and a part the manifest does not list', async () => {
    const dir = await tempDir('cctv-bk-arch-');
    await stage(dir);
    await writeFile(join(dir, 'keys', 'session.json'), '{"current":"x"}\n');
    await writeFile(join(dir, 'keys', 'extra.json'), '{}');
    await assert.rejects(
      verifiedManifest(dir),
      /keys\/session\.json: sha256 differs from the manifest\n\s+keys\/extra\.json: not in the manifest/,
    );
  });
});
