/**
 * A recorder's ffmpeg that outlives its agent, so that an agent restart or upgrade leaves no gap
 * in the footage (docs/adr/0026-recorder-outlives-its-agent.md).
 *
 * The run is started through a small POSIX shell, the keeper, in its own process group:
 * ffmpeg runs under it with SIGPIPE ignored (once the agent is gone its progress and log writes
 * fail, harmlessly) and the keeper waits for it, passing its exit status on. Beside it a watcher
 * reads the keeper's stdin, the agent's pipe, which ends when the agent ends (stopped, killed or
 * crashed alike): from then on ffmpeg goes on for `graceS` seconds and is then asked to finish
 * (SIGINT: it closes its segment), killed 10 s later if it has not. Within that time the next
 * agent adopts it (`findPredecessor`): it starts its own run at once, follows the old run's
 * playlist, and ends the old run once its own has a segment, so the two overlap.
 *
 * A group SIGINT (the agent stopping the run as usual) reaches ffmpeg itself; the keeper only
 * waits on.
 */
import { readFile } from 'node:fs/promises';
import { playlistName, playlistRunId } from '../spool/segment.ts';

/** The keeper's $0: how its processes are told from any other ffmpeg's. */
export const KEEPER_NAME = 'cctv-recorder';

const KEEPER_SCRIPT = `grace=$1
shift
trap '' PIPE
exec 3<&0
"$@" </dev/null 3<&- &
f=$!
(
  read -r _ <&3
  sleep "$grace"
  kill -INT "$f" 2>/dev/null
  sleep 10
  kill -KILL "$f" 2>/dev/null
) &
w=$!
exec 3<&-
trap : INT TERM
s=0
while kill -0 "$f" 2>/dev/null; do
  wait "$f"
  s=$?
done
kill "$w" 2>/dev/null
exit "$s"`;

/** The command line that runs `command args` under a keeper with `graceS` of grace. */
export function keeperCommand(
  graceS: number,
  command: string,
  args: string[],
): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', KEEPER_SCRIPT, KEEPER_NAME, String(graceS), command, ...args] };
}

/** A run left by the previous agent, still recording into this camera's folder. */
export interface Predecessor {
  /** The keeper's pid, which leads its process group. */
  pid: number;
  runId: string;
}

/**
 * The run an earlier agent left running in `dir` (its pid from `ffmpeg.pid`): a keeper whose
 * ffmpeg writes a playlist in this folder. Null when there is none, or when the pid is another
 * process (an ffmpeg not kept, a pid reused), which the caller treats as stale.
 */
export async function findPredecessor(dir: string, pid: number): Promise<Predecessor | null> {
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (cmdline[0] !== '/bin/sh' || cmdline[3] !== KEEPER_NAME) return null;
  const playlist = cmdline.find((a) => a.startsWith(`${dir}/`) && a.endsWith('.m3u8'));
  const runId = playlist ? playlistRunId(playlist.slice(dir.length + 1)) : null;
  if (!runId || playlist !== `${dir}/${playlistName(runId)}`) return null;
  return { pid, runId };
}

/** True while the process runs (a zombie not yet reaped counts as gone). */
export async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}
