/**
 * CPU per call of the two spool walks the agent repeats while recording, against how much a
 * run has recorded: the recorder's playlist scan (`readFinishedSegments`: read + parse the
 * run's whole playlist, stat every entry; run on every spool file event and every second) and
 * the quota's byte count (`spoolUsedBytes`: stat every spool file; run per finished segment and
 * per host sample). Both grow with the entries, which agent-recording.ts cannot show in its
 * two-minute runs.
 *
 *   node --import tsx bench/spool-scan.ts [--entries 900,1800,10800]
 *
 * 1,800 entries = one hour of 2 s segments in one ffmpeg run.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readFinishedSegments, spoolUsedBytes } from '../node-agent/src/spool/scan.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '900,1800,10800' } } });
const counts = (values.entries ?? '').split(',').map(Number);
const run = '20261123T101500123Z';

/** A camera folder as ffmpeg leaves it after `n` segments of one run (segment files of 1 byte). */
async function fakeRun(root: string, n: number): Promise<string> {
  const dir = join(root, 'cam-1');
  await rm(root, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `init-${run}.mp4`), 'ftypisomhvc1');
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0'];
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-MAP:URI="init-${run}.mp4"`);
  const t0 = Date.parse('2026-11-23T10:15:00.123Z');
  for (let i = 0; i < n; i++) {
    const name = `${run}-${String(i).padStart(6, '0')}.m4s`;
    lines.push(
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(t0 + i * 2000).toISOString()}`,
      '#EXTINF:2.000000,',
      name,
    );
    await writeFile(join(dir, name), 'x');
  }
  await writeFile(join(dir, `${run}.m3u8`), `${lines.join('\n')}\n`);
  return dir;
}

/** Median CPU milliseconds (user + system of this process, thread pool included) per call. */
async function cpuPerCall(fn: () => Promise<unknown>, calls: number): Promise<number> {
  await fn();
  const each: number[] = [];
  for (let i = 0; i < calls; i++) {
    const before = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(before);
    each.push((used.user + used.system) / 1000);
  }
  each.sort((a, b) => a - b);
  return each[Math.floor(each.length / 2)] ?? 0;
}

const root = await mkdtemp(join(tmpdir(), 'cctv-bench-spool-'));
try {
  const rows = [];
  for (const n of counts) {
    const dir = await fakeRun(join(root, 'spool'), n);
    const calls = n > 5000 ? 3 : 9;
    const scan = await cpuPerCall(() => readFinishedSegments('cam-1', dir, `${run}.m3u8`), calls);
    const used = await cpuPerCall(() => spoolUsedBytes(join(root, 'spool')), calls);
    rows.push({
      entries: n,
      'recorded (h)': (n * 2) / 3600,
      'playlist scan ms CPU': scan.toFixed(1),
      'µs per entry': ((scan * 1000) / n).toFixed(0),
      'spool byte count ms CPU': used.toFixed(1),
    });
  }
  console.log('CPU per call (median) of the spool walks, by entries in the run / files in the spool');
  console.table(rows);
} finally {
  await rm(root, { recursive: true, force: true });
}
