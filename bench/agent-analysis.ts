/**
 * The agent's whole analysis path on a 720p substream at 5 analysis fps: the real agent, a
 * stand-in RTSP camera (gst-rtsp-server serving a cached H.264 720p 15 fps clip), the gateway,
 * PostgreSQL and a broker. Three runs, each a fresh agent with one camera recorded with
 * `-c copy`:
 *   record-only     detection off: the baseline;
 *   motion          decode at 5 fps + motion, faces off (the path TARGETS.md holds to ≤ 10 %);
 *   motion-faces    the same with face detection on motion frames.
 * The analysis cost is each run's agent-tree CPU minus the baseline's (same clip, same camera).
 * The clip (testsrc2 with noise) moves everywhere all the time, so faces run on every frame:
 * an upper bound for a busy scene. In-agent timings come from its /metrics histograms.
 *
 *   node --import tsx bench/agent-analysis.ts [--windows 3] [--window-s 30] [--warmup-s 10]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { metricSum } from './agent-probes.ts';
import { runScenario, type ScenarioResult, startShared } from './agent-scenario.ts';
import { ensureClip } from './clips.ts';
import { type Cleanups, runBench } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    windows: { type: 'string', default: '3' },
    'window-s': { type: 'string', default: '30' },
    'warmup-s': { type: 'string', default: '10' },
  },
});
const timing = {
  windows: Number(opts.windows),
  windowS: Number(opts['window-s']),
  warmupS: Number(opts['warmup-s']),
};
const TARGET = 10;

const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const range = (xs: number[], d = 2) =>
  `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;

const runs = [
  { name: 'record-only', cameraFields: 'record: { codec: source }, detect: { enabled: false }' },
  {
    name: 'motion',
    cameraFields: 'record: { codec: source }, detect: { fps: 5, faces: { enabled: false } }',
  },
  { name: 'motion-faces', cameraFields: 'record: { codec: source }, detect: { fps: 5 }' },
];

/** Mean of a Prometheus histogram in ms. */
function histogramMeanMs(r: ScenarioResult, name: string): string {
  const sum = metricSum(r.metrics, `${name}_sum`);
  const count = metricSum(r.metrics, `${name}_count`);
  return sum !== null && count ? `${((sum / count) * 1000).toFixed(3)} (${count} calls)` : '—';
}

async function main(cleanups: Cleanups): Promise<void> {
  const clip = await ensureClip(
    { codec: 'h264', width: 1280, height: 720, fps: 15, seconds: 30, gop: 30, kbps: 2000 },
    log,
  );
  log(`clip ${clip.path}${clip.made ? ` (encoded in ${clip.encodeS.toFixed(0)} s)` : ' (cached)'}`);
  const shared = await startShared(cleanups, 'cctv-bench-analysis-', log);

  const results: ScenarioResult[] = [];
  for (const run of runs) {
    log(`${run.name}: 1 camera, h264 1280x720 15 fps, recorded with -c copy`);
    results.push(
      await runScenario(
        { ...run, cameras: 1, clip, mode: 'copy', agent: { kind: 'source' }, floor: false },
        shared,
        timing,
      ),
    );
  }
  const base = median((results[0]?.windows ?? []).map((w) => w.cpu.total));
  const rows = results.map((r, i) => {
    const total = r.windows.map((w) => w.cpu.total);
    const extra = median(total) - base;
    return {
      run: r.scenario,
      'agent tree CPU %': range(total),
      'node %': range(r.windows.map((w) => w.cpu.node)),
      'ffmpeg %': range(r.windows.map((w) => w.cpu.ffmpeg)),
      'analysis % (− record-only)': i === 0 ? '—' : extra.toFixed(2),
      'RSS MB': range(
        r.windows.map((w) => w.rssMB.max),
        1,
      ),
      'motion ms/frame': histogramMeanMs(r, 'cctv_agent_motion_frame_seconds'),
      'face ms/inference': histogramMeanMs(r, 'cctv_agent_face_inference_seconds'),
      'events started': metricSum(r.metrics, 'cctv_agent_events_total') ?? 0,
      target: r.scenario === 'motion' ? `≤ ${TARGET} %` : '—',
      pass: r.scenario === 'motion' ? (extra <= TARGET ? 'pass' : 'FAIL') : '—',
    };
  });
  console.log(
    '\nAgent analysis path, 720p substream at 5 analysis fps (median [min–max] over windows, % of one core)',
  );
  console.table(rows);
  const out = join(
    tmpdir(),
    'cctv-bench',
    `agent-analysis-${new Date().toISOString().replaceAll(':', '')}.json`,
  );
  await mkdir(join(tmpdir(), 'cctv-bench'), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify({ bench: 'agent-analysis', at: new Date().toISOString(), timing, rows, results }, null, 2)}\n`,
  );
  log(`JSON: ${out}`);
}

runBench(log, main);
