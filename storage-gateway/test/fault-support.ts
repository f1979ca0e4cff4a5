/**
 * Fault-test support: real mounts (tmpfs, bind, read-only, loop ext4 + fsfreeze) for a "NAS",
 * an agent-like uploader that retries until acknowledged, and the zero-loss check by sha256.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PrismaClient } from '@cctv/db';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { onCleanup, tempDir } from '../../test/support/index.ts';
import { sha256 } from './gateway-harness.ts';

const run = promisify(execFile);

async function sh(cmd: string, args: string[]): Promise<void> {
  await run(cmd, args, { timeout: 30_000 });
}

/** Why mounting is impossible here (not root, no CAP_SYS_ADMIN), or null when it works. */
export async function mountUnavailable(): Promise<string | null> {
  const dir = await tempDir('cctv-mnt-probe-');
  try {
    await sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    await sh('umount', [dir]);
    return null;
  } catch (err) {
    return `cannot mount here (${(err as Error).message.split('\n')[0]}); NAS fault tests need root`;
  }
}

/** Unmounts `dir` (lazily, so a busy mount goes too) when the test file ends. */
function unmountLater(dir: string): void {
  onCleanup(() => sh('umount', ['-l', dir]).catch(() => {}));
}

export async function mountTmpfs(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  unmountLater(dir);
}

export async function bindMount(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  await sh('mount', ['--bind', source, target]);
  unmountLater(target);
}

export async function remount(target: string, mode: 'ro' | 'rw'): Promise<void> {
  await sh('mount', ['-o', `remount,${mode},bind`, target]);
}

export async function unmount(target: string): Promise<void> {
  await sh('umount', ['-l', target]);
}

/**
 * A small ext4 filesystem in a file, loop-mounted at `dir`: unlike tmpfs it can be frozen
 * (fsfreeze), which makes every write to it block in the kernel, as on a dead NFS server.
 */
export async function mountLoopExt4(
  dir: string,
  sizeBytes: number,
): Promise<{ freeze(): Promise<void>; thaw(): Promise<void> }> {
  const img = join(await tempDir('cctv-loop-'), 'nas.img');
  await mkdir(dir, { recursive: true });
  await run('truncate', ['-s', String(sizeBytes), img]);
  await sh('mkfs.ext4', ['-q', '-F', img]);
  await sh('mount', ['-o', 'loop', img, dir]);
  let frozen = false;
  const thaw = async () => {
    if (!frozen) return;
    frozen = false;
    await sh('fsfreeze', ['-u', dir]);
  };
  // Registered after the unmount so that it runs first: a frozen filesystem cannot be unmounted.
  unmountLater(dir);
  onCleanup(() => thaw().catch(() => {}));
  return {
    async freeze() {
      await sh('fsfreeze', ['-f', dir]);
      frozen = true;
    },
    thaw,
  };
}

export interface Acked {
  name: string;
  sha256: string;
  bytes: number;
}

export interface UploaderStats {
  acked: Acked[];
  /** Attempts answered with something other than 2xx (or no answer), by status ('error' for none). */
  refused: Map<string, number>;
  /** Longest time one attempt took, ms. */
  maxAttemptMs: number;
}

/**
 * Uploads `count` media segments of `bytes` random bytes for `camera`, one every `intervalMs`,
 * each retried until acknowledged, like an agent's uploader. Start times follow each other.
 */
export function startUploader(opts: {
  url: () => string;
  camera: string;
  node: string;
  token: string;
  count: number;
  bytes: number;
  intervalMs: number;
  start: Date;
  durationMs?: number;
}): { done: Promise<UploaderStats>; stats: UploaderStats; stop(): void } {
  const stats: UploaderStats = { acked: [], refused: new Map(), maxAttemptMs: 0 };
  let stopped = false;
  const durationMs = opts.durationMs ?? 2000;
  const done = (async () => {
    for (let i = 0; i < opts.count && !stopped; i++) {
      const data = randomBytes(opts.bytes);
      const name = `seg-${String(i).padStart(5, '0')}.m4s`;
      const digest = sha256(data);
      const headers = {
        'content-type': 'application/octet-stream',
        authorization: `Bearer ${opts.token}`,
        [SEGMENT_HEADERS.sha256]: digest,
        [SEGMENT_HEADERS.node]: opts.node,
        [SEGMENT_HEADERS.start]: new Date(opts.start.getTime() + i * durationMs).toISOString(),
        [SEGMENT_HEADERS.durationMs]: String(durationMs),
        [SEGMENT_HEADERS.init]: 'init-a.mp4',
        [SEGMENT_HEADERS.codec]: 'hvc1',
      };
      const next = Date.now() + opts.intervalMs;
      for (;;) {
        const t0 = Date.now();
        let status = 'error';
        try {
          const res = await fetch(`${opts.url()}/v1/segments/${opts.camera}/${name}`, {
            method: 'PUT',
            body: new Uint8Array(data),
            headers,
            signal: AbortSignal.timeout(20_000),
          });
          await res.arrayBuffer();
          status = String(res.status);
        } catch {
          // connection refused or reset: the gateway is down; try again like an agent
        }
        stats.maxAttemptMs = Math.max(stats.maxAttemptMs, Date.now() - t0);
        if (status === '200' || status === '201') break;
        stats.refused.set(status, (stats.refused.get(status) ?? 0) + 1);
        if (stopped) return stats;
        await new Promise((r) => setTimeout(r, 100));
      }
      stats.acked.push({ name, sha256: digest, bytes: opts.bytes });
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return stats;
  })();
  return {
    done,
    stats,
    stop() {
      stopped = true;
    },
  };
}

/**
 * Zero loss: every acknowledged segment has its row, says `nas`, and its NAS file hashes to
 * the acknowledged sha256; none is left in the buffer. Returns a list of problems (empty: none).
 */
export async function lossReport(
  prisma: PrismaClient,
  dirs: { bufferDir: string; nasDir: string },
  camera: string,
  acked: Acked[],
): Promise<string[]> {
  const problems: string[] = [];
  const rows = new Map(
    (
      await prisma.segment.findMany({
        where: { cameraId: camera },
        select: { name: true, sha256: true, location: true },
      })
    ).map((r) => [r.name, r]),
  );
  for (const seg of acked) {
    const row = rows.get(seg.name);
    if (!row) problems.push(`${seg.name}: no index row`);
    else if (row.sha256 !== seg.sha256) problems.push(`${seg.name}: row sha256 ${row.sha256}`);
    else if (row.location !== 'nas') problems.push(`${seg.name}: location ${row.location}`);
    const onNas = await readFile(join(dirs.nasDir, camera, seg.name)).catch(() => null);
    if (!onNas) problems.push(`${seg.name}: not on the NAS`);
    else if (sha256(onNas) !== seg.sha256) problems.push(`${seg.name}: NAS copy hashes to ${sha256(onNas)}`);
  }
  const left = (await readdir(join(dirs.bufferDir, camera)).catch(() => [] as string[])).filter((n) =>
    n.endsWith('.m4s'),
  );
  if (left.length > 0) problems.push(`${left.length} segments left in the buffer`);
  return problems;
}

/** Fills a filesystem with one file of `bytes` (a real write, so tmpfs counts it). */
export async function fill(path: string, bytes: number): Promise<void> {
  await writeFile(path, randomBytes(bytes));
}
