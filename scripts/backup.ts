/**
 * Backs up a cluster into one file: the database (every table's rows from one snapshot, the
 * applied migrations, the sequences), the keys and TLS files kept beside it, and the event
 * snapshots where they are on this host. Footage stays on the NAS; the restored segment index
 * points at it again. See docs/operations.md (Backup and restore) and docs/adr/0018.
 *
 *   npm run backup [-- --out <file or folder>] [--passphrase-file <file>]
 *   (a master release: node dist/backup.mjs …, or bin/backup …, with the master's environment
 *   and DATABASE_OWNER_URL set to the owner role's URL)
 *
 * The file holds secrets: it is written 0600; CCTV_BACKUP_PASSPHRASE or --passphrase-file
 * seals it (AES-256-GCM). The last line printed is the file's path.
 */
import { cp, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type Manifest, newManifest, sha256File, writeArchive } from './backup/archive.ts';
import { forBackup } from './backup/connect.ts';
import { dumpDatabase } from './backup/database.ts';
import { layoutFromEnv, type Place, software } from './backup/layout.ts';
import { readPassphrase } from './backup/passphrase.ts';

const stamp = () =>
  new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** Copies one place into the staging folder and lists its files in the manifest. */
async function stagePlace(place: Place, stage: string, manifest: Manifest): Promise<number> {
  const info = await lstat(place.path).catch(() => null);
  if (!info) return 0;
  if (place.kind === 'file' && !info.isFile()) throw new Error(`${place.path} is not a file`);
  if (place.kind === 'dir' && !info.isDirectory()) throw new Error(`${place.path} is not a folder`);
  const target = join(stage, place.part);
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  await cp(place.path, target, { recursive: true, dereference: true, preserveTimestamps: true });
  const files = place.kind === 'file' ? [''] : await listFiles(target);
  for (const rel of files) {
    const part = rel ? `${place.part}/${rel}` : place.part;
    const source = rel ? join(place.path, rel) : place.path;
    const path = join(stage, part);
    manifest.parts[part] = {
      bytes: (await stat(path)).size,
      sha256: await sha256File(path),
      mode: (await stat(source)).mode & 0o777,
    };
  }
  return files.length;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

async function outputFile(out: string | undefined, defaultDir: string): Promise<string> {
  const name = `cctv-backup-${stamp()}.tar.gz`;
  if (!out) {
    await mkdir(defaultDir, { recursive: true, mode: 0o700 });
    return join(defaultDir, name);
  }
  const path = resolve(out);
  const isDir = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return isDir ? join(path, name) : path;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'passphrase-file': { type: 'string' } },
  });
  const sw = software();
  const layout = layoutFromEnv(process.env, sw);
  const passphrase = await readPassphrase(values['passphrase-file']);
  const file = await outputFile(
    values.out,
    layout.name === 'checkout' ? join(sw.root, 'data', 'backups') : process.cwd(),
  );
  await mkdir(dirname(file), { recursive: true });
  const stage = await mkdtemp(join(dirname(file), `.${basename(file)}.stage-`));
  const db = await forBackup(layout.database);
  try {
    console.log(`backup: database: ${db.where}`);
    await mkdir(join(stage, 'db'), { mode: 0o700 });
    const parts: Manifest['parts'] = {};
    const client = new pg.Client({ connectionString: db.ownerUrl });
    await client.connect();
    let database: Manifest['database'];
    try {
      database = await dumpDatabase(client, stage, (part, digest) => {
        parts[part] = digest;
      });
    } finally {
      await client.end();
    }
    const manifest = newManifest({
      createdAt: new Date().toISOString(),
      host: hostname(),
      softwareVersion: `${sw.name} ${sw.version}`,
      layout: layout.name,
      database,
    });
    Object.assign(manifest.parts, parts);
    const rows = database.tables.reduce((n, t) => n + t.rows, 0);
    console.log(
      `backup: ${database.tables.length} tables, ${rows} rows, ${database.migrations.length} migrations, ${database.sequences.length} sequences`,
    );
    for (const place of layout.places) {
      const n = await stagePlace(place, stage, manifest);
      console.log(
        `backup: ${place.part}: ${n ? `${n} file${n > 1 ? 's' : ''} from ${place.path}` : `none at ${place.path}`}`,
      );
    }
    await writeFile(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    await writeArchive(stage, file, passphrase);
    const size = (await stat(file)).size;
    console.log(
      `backup: wrote ${size} bytes, mode 0600${passphrase ? ', sealed with the passphrase' : ' (holds secrets: keep it private, or seal it with a passphrase)'}`,
    );
    console.log(file);
  } finally {
    await db.close();
    await rm(stage, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`backup: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
