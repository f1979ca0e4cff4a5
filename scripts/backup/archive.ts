/**
 * One backup file: a gzipped tar of a staging folder (`manifest.json` and the parts it lists),
 * written 0600 because it holds secrets, and optionally sealed with a passphrase (AES-256-GCM,
 * key from scrypt). Reading it back checks every part's sha256 against the manifest and that
 * nothing unlisted came along, before anything is restored.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatabaseDump } from './database.ts';

export const MANIFEST = 'manifest.json';
const FORMAT = 'cctv-backup';
const FORMAT_VERSION = 1;
/** A sealed backup starts with these bytes, then salt, IV, ciphertext and the GCM tag. */
const SEALED_MAGIC = Buffer.from('CCTVBAK1');
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// scrypt's cost: about 0.1 s and 32 MiB per backup or restore.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface PartEntry {
  bytes: number;
  sha256: string;
  /** File mode on the host it came from (restored as is). */
  mode?: number;
}

export interface Manifest {
  format: typeof FORMAT;
  formatVersion: number;
  createdAt: string;
  host: string;
  /** The software that made it (the master's release version, or the checkout's). */
  softwareVersion: string;
  layout: string;
  database: DatabaseDump;
  /** Every other file of the archive, by its name in it. */
  parts: Record<string, PartEntry>;
}

export function newManifest(fields: Omit<Manifest, 'format' | 'formatVersion' | 'parts'>): Manifest {
  return { format: FORMAT, formatVersion: FORMAT_VERSION, ...fields, parts: {} };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase, salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function tar(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    proc.once('error', reject);
    proc.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar exited ${code}: ${err.trim().slice(-500)}`)),
    );
  });
}

/**
 * Packs `stageDir` into `file` (written beside it and renamed, mode 0600), sealed when a
 * passphrase is given. An existing file is never overwritten.
 */
export async function writeArchive(stageDir: string, file: string, passphrase: string | null): Promise<void> {
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (exists) throw new Error(`${file} exists; name a new file`);
  const tmp = `${file}.partial`;
  const plain = `${file}.plain`;
  try {
    await writeFile(passphrase === null ? tmp : plain, '', { mode: 0o600, flag: 'wx' });
    await tar(['--sort=name', '-C', stageDir, '-czf', passphrase === null ? tmp : plain, '.']);
    if (passphrase !== null) {
      const salt = randomBytes(SALT_BYTES);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', await deriveKey(passphrase, salt), iv);
      const out = createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
      out.write(Buffer.concat([SEALED_MAGIC, salt, iv]));
      await pipeline(createReadStream(plain), cipher, out, { end: false });
      await new Promise<void>((resolve, reject) => {
        out.once('error', reject);
        out.end(cipher.getAuthTag(), resolve);
      });
    }
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
    await rm(plain, { force: true });
  }
}

/** Is `file` sealed with a passphrase? */
export async function isSealed(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(SEALED_MAGIC.length);
    await fh.read(head, 0, head.length, 0);
    return head.equals(SEALED_MAGIC);
  } finally {
    await fh.close();
  }
}

/**
 * Unpacks `file` into the (empty, private) folder `into`. A sealed file is opened and its tag
 * checked first, so a wrong passphrase or an altered byte fails before anything is unpacked.
 */
export async function extractArchive(file: string, into: string, passphrase: string | null): Promise<void> {
  const sealed = await isSealed(file);
  if (!sealed) return tar(['-C', into, '--no-same-owner', '-xzf', file]);
  if (passphrase === null)
    throw new Error(
      `${file} is sealed with a passphrase: give it (--passphrase-file or CCTV_BACKUP_PASSPHRASE)`,
    );
  const size = (await stat(file)).size;
  const headBytes = SEALED_MAGIC.length + SALT_BYTES + IV_BYTES;
  if (size < headBytes + TAG_BYTES) throw new Error(`${file} is too short to be a sealed backup`);
  const fh = await open(file, 'r');
  const head = Buffer.alloc(headBytes);
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    await fh.read(head, 0, headBytes, 0);
    await fh.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    await fh.close();
  }
  const salt = head.subarray(SEALED_MAGIC.length, SEALED_MAGIC.length + SALT_BYTES);
  const iv = head.subarray(SEALED_MAGIC.length + SALT_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', await deriveKey(passphrase, salt), iv);
  decipher.setAuthTag(tag);
  const plain = join(into, '.archive.tar.gz');
  try {
    const body =
      size - TAG_BYTES > headBytes
        ? createReadStream(file, { start: headBytes, end: size - TAG_BYTES - 1 })
        : Readable.from([]);
    await pipeline(body, decipher, createWriteStream(plain, { mode: 0o600 })).catch((err: Error) => {
      throw new Error(`${file}: wrong passphrase or altered file (${err.message})`);
    });
    await tar(['-C', into, '--no-same-owner', '-xzf', plain]);
  } finally {
    await rm(plain, { force: true });
  }
}

async function filesUnder(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(path, base)));
    else out.push(relative(base, path));
  }
  return out;
}

/**
 * Reads and checks an unpacked backup: its manifest's format, every part's size and sha256,
 * and no file the manifest does not list. Throws naming every problem.
 */
export async function verifiedManifest(dir: string): Promise<Manifest> {
  const manifest = JSON.parse(
    await readFile(join(dir, MANIFEST), 'utf8').catch(() => 'null'),
  ) as Manifest | null;
  if (!manifest || manifest.format !== FORMAT)
    throw new Error('not a cctv backup: no manifest.json of its format');
  if (manifest.formatVersion > FORMAT_VERSION)
    throw new Error(
      `backup format ${manifest.formatVersion} is newer than this release reads (${FORMAT_VERSION})`,
    );
  const problems: string[] = [];
  const present = new Set((await filesUnder(dir)).filter((f) => f !== MANIFEST));
  for (const [part, entry] of Object.entries(manifest.parts)) {
    if (!present.delete(part)) {
      problems.push(`${part}: missing`);
      continue;
    }
    const path = join(dir, part);
    const size = (await stat(path)).size;
    if (size !== entry.bytes) problems.push(`${part}: ${size} bytes, the manifest says ${entry.bytes}`);
    else if ((await sha256File(path)) !== entry.sha256)
      problems.push(`${part}: sha256 differs from the manifest`);
  }
  for (const extra of present) problems.push(`${extra}: not in the manifest`);
  for (const t of manifest.database.tables)
    if (!manifest.parts[t.part]) problems.push(`table ${t.name}: its part ${t.part} is not in the manifest`);
  if (problems.length) throw new Error(`the backup does not match its manifest:\n  ${problems.join('\n  ')}`);
  return manifest;
}
