/**
 * An agent killed hard (OOM, SIGKILL) leaves its ffmpeg running, still writing into the spool.
 * Each recorder notes its ffmpeg's pid in `<camera>/ffmpeg.pid`; on start it ends a leftover
 * one — only when that pid still runs ffmpeg with this camera folder in its arguments (a run
 * left for the next agent to take over is adopted instead: adopted-run.ts).
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

const PID_FILE = 'ffmpeg.pid';

export async function notePid(dir: string, pid: number | undefined): Promise<void> {
  if (pid) await writeFile(join(dir, PID_FILE), `${pid}\n`).catch(() => {});
}

/** The pid noted in the folder, or null. */
export async function notedPid(dir: string): Promise<number | null> {
  const pid = Number((await readFile(join(dir, PID_FILE), 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

export async function clearPid(dir: string): Promise<void> {
  await unlink(join(dir, PID_FILE)).catch(() => {});
}

export async function reapStaleFfmpeg(dir: string, logger: Logger): Promise<void> {
  const pid = await notedPid(dir);
  if (pid === null) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.includes('ffmpeg') && cmdline.includes(dir)) {
    logger.warn({ pid }, 'recorder: ending an ffmpeg left over from a previous agent');
    try {
      // Its whole group: a run under a keeper (keeper.ts) is the keeper's pid, ffmpeg beside it.
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await clearPid(dir);
}
