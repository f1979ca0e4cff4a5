/**
 * Whether the host itself keeps its clock synchronised: chrony (`chronyc -c tracking`) or
 * systemd-timesyncd (`timedatectl show -p NTPSynchronized --value`). A host with neither, or
 * where they cannot answer (a container without systemd), reads `null`: unknown, not an error.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HostSyncState {
  synced: boolean | null;
  source: 'chrony' | 'timedatectl' | null;
}

export const UNKNOWN_SYNC: HostSyncState = { synced: null, source: null };

/**
 * `chronyc -c tracking`: one CSV line — reference id (hex), reference name, stratum, reference
 * time, system time offset, last offset, RMS offset, frequency, residual frequency, skew, root
 * delay, root dispersion, update interval, leap status. Synchronised when it has a reference
 * (id not zero, stratum above 0) and the leap status is not "Not synchronised". Null for
 * anything else (not chrony's output).
 */
export function parseChronyTracking(output: string): boolean | null {
  const line = output.trim().split('\n')[0] ?? '';
  const fields = line.split(',');
  if (fields.length < 14) return null;
  const refId = fields[0] ?? '';
  const stratum = Number(fields[2]);
  const leap = (fields[13] ?? '').trim();
  if (!/^[0-9A-Fa-f]{1,8}$/.test(refId) || !Number.isInteger(stratum)) return null;
  if (leap === 'Not synchronised') return false;
  return Number.parseInt(refId, 16) !== 0 && stratum > 0;
}

/** `timedatectl show -p NTPSynchronized --value`: `yes` or `no`; null for anything else. */
export function parseTimedatectl(output: string): boolean | null {
  const value = output.trim();
  return value === 'yes' ? true : value === 'no' ? false : null;
}

export type CommandRunner = (file: string, args: string[]) => Promise<string>;

const runCommand: CommandRunner = async (file, args) =>
  (await run(file, args, { timeout: 2000, env: { ...process.env, LC_ALL: 'C' } })).stdout;

/**
 * chrony first (it says more), then timedatectl; the first that answers with a state wins.
 * A missing tool, a failure or output that does not parse moves on to the next.
 */
export async function readHostSync(runner: CommandRunner = runCommand): Promise<HostSyncState> {
  const chrony = await runner('chronyc', ['-c', 'tracking']).then(parseChronyTracking, () => null);
  if (chrony !== null) return { synced: chrony, source: 'chrony' };
  const timedatectl = await runner('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']).then(
    parseTimedatectl,
    () => null,
  );
  if (timedatectl !== null) return { synced: timedatectl, source: 'timedatectl' };
  return UNKNOWN_SYNC;
}
