/**
 * Node agent cost per camera: CPU (% of one core), RSS and PSS of the agent with its ffmpeg
 * children while it records 1080p cameras and uploads the segments to a real storage gateway,
 * against the physical floor measured in the same windows: bare ffmpeg recording the same
 * streams with the same command line.
 *
 *   node --import tsx bench/agent-recording.ts [--only copy-1080p,copy-1080p-x4]
 *       [--windows 3] [--window-s 30] [--warmup-s 10] [--agent-cpu-prof DIR]
 *       [--agent-node-args="--max-semi-space-size=1"]
 *
 * Scenarios (run one after another, each with a fresh agent and camera): copy-1080p and
 * copy-1080p-x4 with the release bundle as it ships (built from this tree by
 * scripts/release.ts, run with plain `node`), the same two with the sources through tsx
 * (`-src`), and transcode-1080p (release); transcode-720p only when named in --only. Targets
 * (docs/TARGETS.md): ≤ 2 % of one core for one camera that already sends H.265, agent + ffmpeg
 * ≤ 1.5 × bare ffmpeg per camera, agent PSS ≤ 150 MB with 4 cameras. Clips are encoded once
 * and cached (clips.ts). Warm-up: until every camera has uploaded a segment, then --warmup-s
 * more. --agent-cpu-prof writes a V8 CPU profile of each agent run into DIR (it costs the agent
 * some CPU itself).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type AgentBuild,
  runScenario,
  type Scenario,
  type ScenarioResult,
  startShared,
} from './agent-scenario.ts';
import { type ClipSpec, ensureClip } from './clips.ts';
import { type Cleanups, repoRoot, runBench } from './support.ts';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    windows: { type: 'string', default: '3' },
    'window-s': { type: 'string', default: '30' },
    'warmup-s': { type: 'string', default: '10' },
    'agent-cpu-prof': { type: 'string' },
    'agent-node-args': { type: 'string' },
  },
});
const timing = {
  windows: Number(opts.windows),
  windowS: Number(opts['window-s']),
  warmupS: Number(opts['warmup-s']),
};

const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);

const clip1080 = { width: 1920, height: 1080, fps: 15, seconds: 30, gop: 30, kbps: 3500 } as const;
const specs: Record<string, ClipSpec> = {
  h265_1080: { codec: 'h265', ...clip1080 },
  h264_1080: { codec: 'h264', ...clip1080 },
  h264_720: { codec: 'h264', ...clip1080, width: 1280, height: 720, kbps: 2000 },
};

type Plan = Omit<Scenario, 'clip' | 'agent'> & {
  clip: keyof typeof specs;
  byDefault: boolean;
  agent: AgentBuild['kind'];
  /** Agent + ffmpeg CPU at most this many times the bare ffmpeg's, per camera. */
  floorRatioTarget?: number;
  /** Agent tree PSS in MB. */
  pssTargetMB?: number;
};
// Recording alone: detection is measured by bench/agent-analysis.ts.
const RECORD_ONLY = 'detect: { enabled: false }';
const copy1 = {
  cameras: 1,
  clip: 'h265_1080',
  mode: 'copy',
  cpuTargetPerCamera: 2,
  floorRatioTarget: 1.5,
  cameraFields: RECORD_ONLY,
  floor: true,
  byDefault: true,
} as const;
const copy4 = { ...copy1, cameras: 4, pssTargetMB: 150, cpuTargetPerCamera: undefined } as const;
const plans: Plan[] = [
  { name: 'copy-1080p', ...copy1, agent: 'release' },
  { name: 'copy-1080p-x4', ...copy4, agent: 'release' },
  { name: 'copy-1080p-src', ...copy1, agent: 'source' },
  { name: 'copy-1080p-x4-src', ...copy4, agent: 'source' },
  {
    name: 'transcode-1080p',
    cameras: 1,
    clip: 'h264_1080',
    mode: 'transcode',
    cameraFields: RECORD_ONLY,
    agent: 'release',
    floor: false,
    byDefault: true,
  },
  {
    name: 'transcode-720p',
    cameras: 1,
    clip: 'h264_720',
    mode: 'transcode',
    cameraFields: RECORD_ONLY,
    agent: 'release',
    floor: false,
    byDefault: false,
  },
];

const only = opts.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !plans.some((p) => p.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${plans.map((p) => p.name).join(', ')}`);
  process.exit(2);
}
const chosen = plans.filter((p) => (only ? only.includes(p.name) : p.byDefault));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const spread = (xs: number[], digits: number) =>
  `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;

interface Summary {
  scenario: string;
  agent: AgentBuild['kind'];
  cameras: number;
  cpuPerCamera: { median: number; min: number; max: number };
  /** Bare ffmpeg, % of one core per camera, and agent ÷ bare per window (median). */
  floorCpuPerCamera: number | null;
  floorRatio: number | null;
  rssTotalMB: { median: number; max: number };
  pssTotalMB: { median: number; max: number };
  targets: { target: string; pass: boolean }[];
  pass: boolean | null;
}

/** Agent ÷ bare ffmpeg CPU per window (both measured over the same seconds). */
const ratios = (r: ScenarioResult) =>
  r.windows.flatMap((w) => (w.floor && w.floor.cpu > 0 ? [w.cpu.total / w.floor.cpu] : []));

function summarize(p: Plan, r: ScenarioResult): Summary {
  const cpu = r.windows.map((w) => w.cpuPerCamera);
  const rss = r.windows.map((w) => w.rssMB.max);
  const pss = r.windows.map((w) => w.rssMB.pss);
  const floorCpu = r.windows.flatMap((w) => (w.floor ? [w.floor.cpuPerCamera] : []));
  const ratio = ratios(r);
  const targets: { target: string; pass: boolean }[] = [];
  if (p.cpuTargetPerCamera !== undefined)
    targets.push({ target: `≤ ${p.cpuTargetPerCamera} %/cam`, pass: median(cpu) <= p.cpuTargetPerCamera });
  if (p.floorRatioTarget !== undefined)
    targets.push({
      target: `≤ ${p.floorRatioTarget} × bare`,
      pass: ratio.length > 0 && median(ratio) <= p.floorRatioTarget,
    });
  if (p.pssTargetMB !== undefined)
    targets.push({ target: `PSS ≤ ${p.pssTargetMB} MB`, pass: Math.max(...pss) <= p.pssTargetMB });
  return {
    scenario: r.scenario,
    agent: p.agent,
    cameras: r.cameras,
    cpuPerCamera: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) },
    floorCpuPerCamera: floorCpu.length > 0 ? median(floorCpu) : null,
    floorRatio: ratio.length > 0 ? median(ratio) : null,
    rssTotalMB: { median: median(rss), max: Math.max(...rss) },
    pssTotalMB: { median: median(pss), max: Math.max(...pss) },
    targets,
    pass: targets.length === 0 ? null : targets.every((t) => t.pass),
  };
}

/** Change per minute from the first window to the last (windows are back to back). */
function trend(perWindow: number[]): string {
  const [first, last] = [perWindow[0], perWindow.at(-1)];
  if (perWindow.length < 2 || first === undefined || last === undefined) return '—';
  return (((last - first) / ((perWindow.length - 1) * timing.windowS)) * 60).toFixed(2);
}

function printTables(results: { plan: Plan; result: ScenarioResult }[]): void {
  const main = results.map(({ plan, result }) => {
    const s = summarize(plan, result);
    const floor = result.windows.flatMap((w) => (w.floor ? [w.floor] : []));
    return {
      scenario: s.scenario,
      agent: s.agent,
      cameras: s.cameras,
      'bare ffmpeg CPU %/cam':
        floor.length > 0
          ? spread(
              floor.map((f) => f.cpuPerCamera),
              2,
            )
          : '—',
      'agent+ffmpeg CPU %/cam': spread(
        result.windows.map((w) => w.cpuPerCamera),
        2,
      ),
      'ratio to bare': floor.length > 0 ? spread(ratios(result), 2) : '—',
      'RSS MB total': spread(
        result.windows.map((w) => w.rssMB.max),
        1,
      ),
      'PSS MB total': spread(
        result.windows.map((w) => w.rssMB.pss),
        1,
      ),
      'bare RSS / PSS MB':
        floor.length > 0
          ? `${median(floor.map((f) => f.rssMB)).toFixed(1)} / ${median(floor.map((f) => f.pssMB)).toFixed(1)}`
          : '—',
      target: s.targets.map((t) => `${t.target} ${t.pass ? 'met' : 'NOT MET'}`).join(', ') || 'none',
    };
  });
  console.log(
    '\nAgent recording cost (median [min–max] over windows; CPU in % of one core; bare ffmpeg: the same cameras recorded by ffmpeg alone in the same windows)',
  );
  console.table(main);
  const detail = results.map(({ result }) => {
    const m = (pick: (w: ScenarioResult['windows'][number]) => number | null, digits: number) => {
      const values = result.windows.map(pick).filter((v): v is number => v !== null);
      return values.length === 0 ? '—' : median(values).toFixed(digits);
    };
    return {
      scenario: result.scenario,
      'CPU total %': m((w) => w.cpu.total, 2),
      'node %': m((w) => w.cpu.node, 2),
      'node sys %': m((w) => w.cpu.nodeSystem, 2),
      // Growth from the first window to the last: per-scan work that grows with the recording.
      'node Δ %/min': trend(result.windows.map((w) => w.cpu.node)),
      'ffmpeg %': m((w) => w.cpu.ffmpeg, 2),
      'other %': m((w) => w.cpu.other, 2),
      '/metrics CPU %': m((w) => w.reported.cpuPercent, 2),
      'RSS node MB': m((w) => w.rssMB.node, 1),
      'RSS ffmpeg MB': m((w) => w.rssMB.ffmpeg, 1),
      'PSS node MB': m((w) => w.rssMB.pssNode, 1),
      'PSS ffmpeg MB': m((w) => w.rssMB.pssFfmpeg, 1),
      'RSS other MB': m((w) => w.rssMB.other, 1),
      '/metrics RSS MB': m((w) => w.reported.rssMB, 1),
      'V8 heap MB': m((w) => w.reported.heapUsedMB, 1),
      'source %': m((w) => w.sourceCpu, 2),
      'gateway %': m((w) => w.gatewayCpu, 2),
      'bench+pg %': m((w) => w.harnessCpu, 1),
      'elsewhere %': m((w) => w.elsewhereCpu, 1),
      'host % (all cores)': m((w) => w.hostCpu, 1),
    };
  });
  console.log('Split (medians): agent Node process, its ffmpeg, other children; what the agent reports;');
  console.log(
    'the stand-in camera (gst-rtsp-server), the gateway, this script with the broker and PostgreSQL,',
  );
  console.log('and host CPU spent by none of these (other work on the box); all % of one core except host');
  console.table(detail);
  const cams = results.map(({ result }) => ({
    scenario: result.scenario,
    cameras: result.cameraFigures
      .map((c) => `${c.id} ${c.mode}/${c.encoder} ${c.fps.toFixed(1)} fps ${Math.round(c.bitrateKbps)} kb/s`)
      .join('; '),
    segments: result.windows.map((w) => w.segmentsUploaded).join('/'),
    restarts: result.windows.reduce((a, w) => a + w.ffmpegRestarts, 0),
  }));
  console.log('As the agent saw the cameras (last heartbeat), segments uploaded per window, ffmpeg restarts');
  console.table(cams);
}

async function main(cleanups: Cleanups): Promise<void> {
  const clips = new Map<string, Awaited<ReturnType<typeof ensureClip>>>();
  for (const key of new Set(chosen.map((p) => p.clip))) {
    const spec = specs[key];
    if (!spec) continue;
    const clip = await ensureClip(spec, log);
    clips.set(key, clip);
    log(`clip ${clip.path}${clip.made ? ` (encoded in ${clip.encodeS.toFixed(0)} s)` : ' (cached)'}`);
  }
  const measureFrom = Date.now();

  const profDir = opts['agent-cpu-prof'];
  const agentNodeArgs = [
    ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    ...(opts['agent-node-args']?.split(' ').filter(Boolean) ?? []),
  ];
  const shared = await startShared(cleanups, 'cctv-bench-agent-', log, agentNodeArgs);
  const release = chosen.some((p) => p.agent === 'release') ? await buildRelease(cleanups) : null;

  const results: { plan: Plan; result: ScenarioResult }[] = [];
  for (const plan of chosen) {
    const clip = clips.get(plan.clip);
    if (!clip) continue;
    const agent: AgentBuild =
      plan.agent === 'release' && release ? { kind: 'release', launcher: release } : { kind: 'source' };
    log(
      `${plan.name}: ${plan.cameras} camera(s), ${clip.codec} ${clip.width}x${clip.height} → ${plan.mode}, ${agent.kind} agent${plan.floor ? ', bare ffmpeg beside it' : ''}`,
    );
    results.push({ plan, result: await runScenario({ ...plan, clip, agent }, shared, timing) });
  }
  printTables(results);

  const runS = (Date.now() - measureFrom) / 1000;
  const out = join(
    tmpdir(),
    'cctv-bench',
    `agent-recording-${new Date().toISOString().replaceAll(':', '')}.json`,
  );
  await mkdir(join(tmpdir(), 'cctv-bench'), { recursive: true });
  const report = {
    bench: 'agent-recording',
    at: new Date().toISOString(),
    host: { hostname: hostname(), cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    timing,
    runSeconds: runS,
    clips: [...clips.values()],
    summary: results.map(({ plan, result }) => summarize(plan, result)),
    results: results.map((r) => r.result),
  };
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`measured in ${runS.toFixed(0)} s (clip preparation excluded); JSON: ${out}`);
}

/**
 * The agent as it ships: scripts/release.ts builds this tree's release for this machine's
 * architecture, unpacked into a temp dir; returns the path of its launcher `bin/cctv-agent`.
 */
async function buildRelease(cleanups: Cleanups): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-bench-release-'));
  cleanups.add('remove release', () => rm(dir, { recursive: true, force: true }));
  const began = Date.now();
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/release.ts', 'agent', '--arch', arch, '--out', dir],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tar.gz'));
  if (!tarball) throw new Error(`scripts/release.ts wrote no tarball into ${dir}`);
  execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir]);
  log(`release ${tarball} built and unpacked in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  return join(dir, tarball.replace(/\.tar\.gz$/, ''), 'bin', 'cctv-agent');
}

runBench(log, main);
