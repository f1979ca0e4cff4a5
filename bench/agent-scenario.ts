/**
 * One scenario of the agent recording benchmark: a stand-in RTSP camera serving a clip, the
 * real agent (the release bundle `dist/main.mjs` under plain `node`, or `node-agent/src/main.ts`
 * through tsx; its own process) recording N cameras from it, warm-up, then back-to-back
 * measurement windows. The agent's figures are read from /proc for its whole process tree
 * (Node + ffmpeg + anything else below it), next to what the agent itself reports. Beside it, in
 * the same windows, the physical floor: N bare ffmpeg processes recording N more mounts of the
 * same camera with the agent's own ffmpeg command line, and nothing else (no upload, no Node).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ffmpegArgs } from '../node-agent/src/recorder/camera-plan.ts';
import { decideCodec } from '../node-agent/src/recorder/codec-policy.ts';
import { inputArgs, parseSource } from '../node-agent/src/recorder/source.ts';
import { enrolTestNodeFully, registerTestCameras } from '../test/support/enrol.ts';
import { AgentMetricsProbe, HeartbeatWatcher, metricSum, type Sample } from './agent-probes.ts';
import type { Clip } from './clips.ts';
import {
  cpuBetween,
  descendants,
  hostTicks,
  killSurvivors,
  type ProcessId,
  type RssSplit,
  rssNow,
  snapshot,
} from './proc-tree.ts';
import {
  Cleanups,
  freePort,
  GiveUp,
  type Service,
  sleep,
  startBroker,
  startDatabase,
  startGatewayService,
  startNodeService,
  startProcess,
  startRtspCamera,
  trustBenchTls,
  waitFor,
} from './support.ts';

export interface Scenario {
  name: string;
  cameras: number;
  clip: Clip;
  /** What the agent is expected to do with this source. */
  mode: 'copy' | 'transcode';
  /** % of one core per camera; undefined: no target. */
  cpuTargetPerCamera?: number;
  /** More keys for every camera entry, YAML flow style (e.g. `detect: { enabled: false }`). */
  cameraFields?: string;
  /** Which agent runs: the release bundle (as it ships) or the sources through tsx. */
  agent: AgentBuild;
  /** Record as many more mounts with bare ffmpeg in the same windows (the physical floor). */
  floor: boolean;
}

/**
 * `release`: an unpacked release started by its own launcher (`bin/cctv-agent`: plain node, the
 * Node.js options it ships with); `source`: node-agent/src/main.ts through tsx, Node's defaults.
 */
export type AgentBuild = { kind: 'release'; launcher: string } | { kind: 'source' };

export interface Shared {
  /** The run's cleanups; a scenario's own are registered there too, for Ctrl-C in its middle. */
  cleanups: Cleanups;
  dir: string;
  brokerUrl: string;
  gatewayUrl: string;
  /** The database the gateway checks upload tokens in (agents are enrolled there). */
  databaseUrl: string;
  gateway: Service;
  heartbeats: HeartbeatWatcher;
  log: (line: string) => void;
  /** Extra options for the agent's Node (e.g. `--cpu-prof`). */
  agentNodeArgs?: string[];
}

export interface Timing {
  warmupS: number;
  windowS: number;
  windows: number;
}

export interface WindowResult {
  seconds: number;
  /** Agent tree, % of one core: total and its parts (`nodeSystem`: the kernel's share of `node`). */
  cpu: { total: number; node: number; nodeSystem: number; ffmpeg: number; other: number };
  cpuPerCamera: number;
  /** Agent tree RSS in MB: highest and mean of 1 s samples; the split at the highest. */
  rssMB: {
    max: number;
    mean: number;
    node: number;
    ffmpeg: number;
    other: number;
    /** Tree PSS at the same sample (see RssSplit.pss), and that of the Node process and of ffmpeg. */
    pss: number;
    pssNode: number;
    pssFfmpeg: number;
    processes: number;
  };
  /**
   * Means of what the agent's /metrics says, scraped every 10 s: `cctv_agent_cpu_percent` and
   * `cctv_agent_rss_bytes` (its tree), and the Node process's V8 heap in use and external memory.
   */
  reported: {
    cpuPercent: number | null;
    rssMB: number | null;
    heapUsedMB: number | null;
    externalMB: number | null;
    scrapes: number;
  };
  /** The stand-in camera (gst-rtsp-server) and the gateway (Node + children), % of one core. */
  sourceCpu: number;
  gatewayCpu: number;
  /** This script with the broker and PostgreSQL (its tree less the processes above), % of one core. */
  harnessCpu: number;
  /** Host CPU not spent by this benchmark's processes (other work on a shared box), % of one core. */
  elsewhereCpu: number;
  /** Whole host, % of all cores. */
  hostCpu: number;
  segmentsUploaded: number;
  ffmpegRestarts: number;
  /** The bare ffmpeg processes beside the agent (same cameras, same command line), or null. */
  floor: { cpu: number; cpuPerCamera: number; rssMB: number; pssMB: number } | null;
}

export interface ScenarioResult {
  scenario: string;
  cameras: number;
  windows: WindowResult[];
  /** From the last heartbeat: per camera mode, encoder, fps and bitrate as the agent saw them. */
  cameraFigures: {
    id: string;
    mode?: string;
    encoder?: string;
    fps: number;
    bitrateKbps: number;
    state: string;
  }[];
  /** The agent's /metrics at the end of the last window. */
  metrics: Sample[];
}

const MB = 1024 * 1024;

function agentConfig(
  s: Scenario,
  shared: Shared,
  base: string,
  port: number,
  urls: string[],
  uploadToken: string,
): string {
  return [
    `nodeId: bench-${s.name}`,
    `mqtt: { url: "${shared.brokerUrl}" }`,
    `gateway: { url: "${shared.gatewayUrl}", token: "${uploadToken}" }`,
    `spool: { dir: "${join(base, 'spool')}", quotaBytes: ${2 * 1024 ** 3}, minFreeBytes: 0 }`,
    `stateDir: "${join(base, 'state')}"`,
    `httpPort: ${port}`,
    // Never the fixed default live port: another agent on this machine may hold it.
    'live: { jsmpeg: { port: 0 } }',
    'cameras:',
    ...urls.map(
      (url, i) =>
        `  - { id: ${cameraId(s, i)}, name: Bench camera ${i + 1}, url: "${url}"${s.cameraFields ? `, ${s.cameraFields}` : ''} }`,
    ),
    '',
  ].join('\n');
}

/**
 * A camera id of its own per scenario: the scenarios share one database, and a camera belongs to
 * the node that registered it first (the next scenario's node would be refused its uploads).
 */
const cameraId = (s: Scenario, i: number) => `${s.name}-cam-${i + 1}`;

const total = (samples: Sample[], name: string) => metricSum(samples, name) ?? 0;

export async function runScenario(s: Scenario, shared: Shared, timing: Timing): Promise<ScenarioResult> {
  const cleanups = new Cleanups();
  shared.cleanups.add(`scenario ${s.name}`, () => cleanups.run());
  try {
    return await measure(s, shared, timing, cleanups);
  } finally {
    await cleanups.run();
  }
}

async function measure(s: Scenario, shared: Shared, t: Timing, cleanups: Cleanups): Promise<ScenarioResult> {
  const { log } = shared;
  const mounts = Array.from({ length: s.cameras }, (_, i) => `/cam${i + 1}`);
  const floorMounts = s.floor ? Array.from({ length: s.cameras }, (_, i) => `/floor${i + 1}`) : [];
  const camera = await startRtspCamera(cleanups, {
    codec: s.clip.codec,
    file: s.clip.path,
    fps: s.clip.fps,
    gop: s.clip.gop,
    mounts: [...mounts, ...floorMounts],
  });
  const agentUrls = camera.urls.slice(0, mounts.length);
  const base = join(shared.dir, s.name);
  await mkdir(base, { recursive: true });
  const port = await freePort();
  const configPath = join(base, 'agent.yaml');
  const { uploadToken } = await enrolTestNodeFully(shared.databaseUrl, `bench-${s.name}`);
  // The gateway takes uploads only from a camera's owner; without a master here (a bare broker),
  // the cameras are registered as the master does on the agent's hello.
  await registerTestCameras(
    shared.databaseUrl,
    `bench-${s.name}`,
    mounts.map((_, i) => cameraId(s, i)),
  );
  await writeFile(configPath, agentConfig(s, shared, base, port, agentUrls, uploadToken));
  const nodeId = `bench-${s.name}`;
  const startedAt = Date.now();
  const agent =
    s.agent.kind === 'release'
      ? await startRelease(cleanups, s.agent.launcher, configPath, shared.agentNodeArgs ?? [])
      : startNodeService(
          cleanups,
          'agent',
          'node-agent/src/main.ts',
          {},
          ['--config', configPath],
          shared.agentNodeArgs,
        );
  const floorSet = await startFloor(s, camera.urls.slice(mounts.length), join(base, 'floor'), cleanups);
  // ffmpeg is stopped by the agent; should the agent be killed, make sure none outlives it.
  let children: ProcessId[] = [];
  cleanups.add('kill what the agent left', async () => {
    const killed = await killSurvivors(children);
    if (killed > 0) log(`${s.name}: killed ${killed} process(es) that outlived the agent`);
  });
  cleanups.add('stop agent', async () => {
    children = await descendants(agent.pid);
    await agent.stop(15_000);
  });

  const probe = new AgentMetricsProbe(`http://127.0.0.1:${port}/metrics`);
  const ids = mounts.map((_, i) => cameraId(s, i));
  try {
    await waitFor(
      'every camera to upload a segment',
      async () => {
        if (agent.exited()) throw new GiveUp('the agent exited');
        const m = await probe.scrape();
        return ids.every(
          (id) => (metricSum(m, 'cctv_agent_segments_uploaded_total', { camera: id }) ?? 0) >= 1,
        );
      },
      60_000,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- agent output ---\n${agent.output().slice(-5000)}`);
  }
  log(
    `${s.name}: uploading after ${((Date.now() - startedAt) / 1000).toFixed(1)} s; warming up ${t.warmupS} s`,
  );
  await floorSet.settle();
  await sleep(t.warmupS * 1000);
  const floor = floorSet.procs;

  const windows: WindowResult[] = [];
  for (let w = 0; w < t.windows; w++) {
    windows.push(await window(s, t.windowS, agent, floor, camera.pid, shared.gateway.pid, probe));
    const r = windows.at(-1);
    if (r)
      log(
        `${s.name} window ${w + 1}/${t.windows}: agent ${r.cpu.total.toFixed(2)} % ` +
          `(node ${r.cpu.node.toFixed(2)}, ffmpeg ${r.cpu.ffmpeg.toFixed(2)}, other ${r.cpu.other.toFixed(2)}), ` +
          `RSS ${r.rssMB.max.toFixed(1)} MB (PSS ${r.rssMB.pss.toFixed(1)}: node ${r.rssMB.pssNode.toFixed(1)}, ffmpeg ${r.rssMB.pssFfmpeg.toFixed(1)}); /metrics ${r.reported.cpuPercent?.toFixed(2) ?? 'n/a'} %, ` +
          `${r.reported.rssMB?.toFixed(1) ?? 'n/a'} MB; source ${r.sourceCpu.toFixed(2)} %; ${r.segmentsUploaded} segments up` +
          (r.floor
            ? `; bare ffmpeg ${r.floor.cpu.toFixed(2)} %, RSS ${r.floor.rssMB.toFixed(1)} MB (PSS ${r.floor.pssMB.toFixed(1)})`
            : ''),
      );
  }
  if (agent.exited())
    throw new Error(`the agent exited during the measurement\n${agent.output().slice(-5000)}`);
  for (const f of floor)
    if (f.exited()) throw new Error(`${f.name} exited during the measurement\n${f.output().slice(-3000)}`);

  const beat = shared.heartbeats.latest(nodeId);
  const cameraFigures = (beat?.cameras ?? []).map((c) => ({
    id: c.id,
    mode: c.mode,
    encoder: c.encoder,
    fps: c.fps,
    bitrateKbps: c.bitrateKbps,
    state: c.state,
  }));
  if (cameraFigures.length !== s.cameras) log(`${s.name}: no heartbeat for every camera; modes not checked`);
  for (const c of cameraFigures)
    if (c.mode !== s.mode)
      throw new Error(`${s.name}: ${c.id} records in mode ${c.mode}, expected ${s.mode}`);
  const metrics = await probe.scrape();
  return { scenario: s.name, cameras: s.cameras, windows, cameraFigures, metrics };
}

/**
 * The release through its launcher, which execs node (same pid) with the options it ships.
 * With options of the benchmark's own (`--cpu-prof`, which NODE_OPTIONS refuses), node is
 * started here with the launcher's options read from it, then the benchmark's.
 */
async function startRelease(
  cleanups: Cleanups,
  launcher: string,
  configPath: string,
  nodeArgs: string[],
): Promise<Service> {
  if (nodeArgs.length === 0)
    return startProcess(cleanups, 'agent', launcher, ['--config', configPath], { NODE: process.execPath });
  const text = await readFile(launcher, 'utf8');
  const shipped = /exec "\$\{NODE:-node\}" (.*?)"\$here\/\.\.\/dist\/main\.mjs"/.exec(text)?.[1] ?? '';
  const main = join(dirname(dirname(launcher)), 'dist', 'main.mjs');
  return startProcess(cleanups, 'agent', process.execPath, [
    ...shipped.split(' ').filter(Boolean),
    ...nodeArgs,
    main,
    '--config',
    configPath,
  ]);
}

/**
 * The floor: one ffmpeg per camera with the agent's own command line for a camera that already
 * sends H.265 (RTSP over TCP, `-c copy`, fMP4 HLS with progress on stdout), writing into a
 * folder of its own; nothing reads, uploads or deletes its segments.
 */
async function startFloor(s: Scenario, urls: string[], dir: string, cleanups: Cleanups): Promise<Floor> {
  const out: Service[] = [];
  const starts: (() => Service)[] = [];
  const gop = s.clip.gop;
  const copy = decideCodec({
    sourceCodec: s.clip.codec === 'h265' ? 'hevc' : 'h264',
    width: s.clip.width,
    height: s.clip.height,
    fps: s.clip.fps,
    target: 'source',
    hwEncoders: [],
    encoder: 'auto',
    hwFailed: false,
    gop,
    x265Preset: 'ultrafast',
  });
  for (const [i, url] of urls.entries()) {
    const camDir = join(dir, `cam${i + 1}`);
    await mkdir(camDir, { recursive: true });
    const input = inputArgs(parseSource(url), { transport: 'tcp', timeoutS: 10, gop });
    const args = ffmpegArgs(
      { inputArgs: input.args, encodeArgs: copy.args },
      { dir: camDir, playlist: 'index.m3u8', init: 'init.mp4', segmentPattern: 'seg-%06d.m4s' },
      2,
    );
    starts.push(() => startProcess(cleanups, `bare ffmpeg ${i + 1}`, 'ffmpeg', args));
    out.push((starts[i] as () => Service)());
  }
  return {
    procs: out,
    // The stand-in camera serves twice the mounts; under load one may refuse or cut the first
    // connection. Before the windows: each ffmpeg running and past its first segment.
    async settle(): Promise<void> {
      for (let attempt = 0; ; attempt++) {
        for (const [i, p] of out.entries()) if (p.exited()) out[i] = (starts[i] as () => Service)();
        const ready = await Promise.all(
          out.map(async (_, i) =>
            (await readdir(join(dir, `cam${i + 1}`)).catch(() => [])).some((f) => f.endsWith('.m4s')),
          ),
        );
        if (ready.every(Boolean) && out.every((p) => !p.exited())) return;
        if (attempt >= 30) throw new Error('bare ffmpeg did not record within 30 s');
        await sleep(1000);
      }
    },
  };
}

interface Floor {
  procs: Service[];
  settle(): Promise<void>;
}

async function window(
  s: Scenario,
  seconds: number,
  agent: Service,
  floor: Service[],
  sourcePid: number,
  gatewayPid: number,
  probe: AgentMetricsProbe,
): Promise<WindowResult> {
  const before = await probe.scrape();
  const floor0 = await Promise.all(floor.map((f) => snapshot(f.pid)));
  const [a, src0, gw0, all0, host0] = await Promise.all([
    snapshot(agent.pid),
    snapshot(sourcePid),
    snapshot(gatewayPid),
    snapshot(process.pid),
    hostTicks(),
  ]);
  const start = Date.now();
  const rss: RssSplit[] = [];
  const floorMem: { rss: number; pss: number }[] = [];
  const reported = {
    cpu: [] as number[],
    rss: [] as number[],
    heap: [] as number[],
    external: [] as number[],
  };
  const keep = (list: number[], v: number | null, scale = 1) => {
    if (v !== null) list.push(v / scale);
  };
  for (let tick = 1; Date.now() - start < seconds * 1000; tick++) {
    await sleep(Math.max(0, start + tick * 1000 - Date.now()));
    if (Date.now() - start > seconds * 1000) break;
    rss.push(await rssNow(agent.pid));
    if (floor.length > 0) {
      const each = await Promise.all(floor.map((f) => rssNow(f.pid)));
      floorMem.push({
        rss: each.reduce((sum, r) => sum + r.total, 0),
        pss: each.reduce((sum, r) => sum + r.pss, 0),
      });
    }
    // As often as a Prometheus would scrape; every scrape makes the agent walk /proc.
    if (tick % 10 === 0) {
      const m = await probe.scrape();
      keep(reported.cpu, metricSum(m, 'cctv_agent_cpu_percent'));
      keep(reported.rss, metricSum(m, 'cctv_agent_rss_bytes'), MB);
      keep(reported.heap, metricSum(m, 'cctv_agent_nodejs_heap_size_used_bytes'), MB);
      keep(reported.external, metricSum(m, 'cctv_agent_nodejs_external_memory_bytes'), MB);
    }
  }
  const floor1 = await Promise.all(floor.map((f) => snapshot(f.pid)));
  const [b, src1, gw1, all1, host1] = await Promise.all([
    snapshot(agent.pid),
    snapshot(sourcePid),
    snapshot(gatewayPid),
    snapshot(process.pid),
    hostTicks(),
  ]);
  const after = await probe.scrape();
  const cpu = cpuBetween(a, b);
  const [sourceCpu, gatewayCpu] = [cpuBetween(src0, src1).total, cpuBetween(gw0, gw1).total];
  const ours = cpuBetween(all0, all1).total;
  const floorCpu = floor0.reduce((sum, f0, i) => {
    const f1 = floor1[i];
    return f1 ? sum + cpuBetween(f0, f1).total : sum;
  }, 0);
  const floorPeak = floorMem.reduce((m, r) => (r.rss > m.rss ? r : m), floorMem[0] ?? { rss: 0, pss: 0 });
  const hostCpu = ((host1.busy - host0.busy) / Math.max(1, host1.total - host0.total)) * 100;
  const peak = rss.reduce((m, r) => (r.total > m.total ? r : m), rss[0] ?? (await rssNow(agent.pid)));
  const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((x, y) => x + y, 0) / xs.length);
  return {
    seconds: b.at - a.at,
    cpu: {
      total: cpu.total,
      node: cpu.root,
      nodeSystem: cpu.rootSystem,
      ffmpeg: cpu.ffmpeg,
      other: cpu.other,
    },
    cpuPerCamera: cpu.total / s.cameras,
    rssMB: {
      max: peak.total / MB,
      mean: (mean(rss.map((r) => r.total)) ?? 0) / MB,
      node: peak.root / MB,
      ffmpeg: peak.ffmpeg / MB,
      other: peak.other / MB,
      pss: peak.pss / MB,
      pssNode: peak.pssRoot / MB,
      pssFfmpeg: peak.pssFfmpeg / MB,
      processes: peak.processes,
    },
    reported: {
      cpuPercent: mean(reported.cpu),
      rssMB: mean(reported.rss),
      heapUsedMB: mean(reported.heap),
      externalMB: mean(reported.external),
      scrapes: reported.cpu.length,
    },
    sourceCpu,
    gatewayCpu,
    // The bare ffmpegs are children of this script: not part of its own cost.
    harnessCpu: ours - cpu.total - sourceCpu - gatewayCpu - floorCpu,
    elsewhereCpu: Math.max(0, hostCpu * cpus().length - ours),
    hostCpu,
    segmentsUploaded:
      total(after, 'cctv_agent_segments_uploaded_total') -
      total(before, 'cctv_agent_segments_uploaded_total'),
    ffmpegRestarts:
      total(after, 'cctv_agent_ffmpeg_restarts_total') - total(before, 'cctv_agent_ffmpeg_restarts_total'),
    floor:
      floor.length === 0
        ? null
        : {
            cpu: floorCpu,
            cpuPerCamera: floorCpu / floor.length,
            rssMB: floorPeak.rss / MB,
            pssMB: floorPeak.pss / MB,
          },
  };
}

/** PostgreSQL, a broker, the gateway and a heartbeat watcher in a fresh temp dir, for every scenario of a run. */
export async function startShared(
  cleanups: Cleanups,
  prefix: string,
  log: (line: string) => void,
  agentNodeArgs: string[] = [],
): Promise<Shared> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
  const dbUrl = await startDatabase(cleanups, join(dir, 'pg'));
  const brokerUrl = await startBroker(cleanups);
  // The gateway over HTTPS, as deployed; the agent trusts the benchmarks' CA (NODE_EXTRA_CA_CERTS).
  const { svc: gateway, url: gatewayUrl } = await startGatewayService(
    cleanups,
    'gateway',
    {
      DATABASE_URL: dbUrl,
      GATEWAY_DATA_DIR: join(dir, 'gateway'),
      GATEWAY_NAS_DIR: join(dir, 'nas'),
      LOG_LEVEL: 'warn',
    },
    await trustBenchTls(),
  );
  const heartbeats = await HeartbeatWatcher.start(cleanups, brokerUrl);
  log('PostgreSQL, broker and gateway up');
  return {
    cleanups,
    dir,
    brokerUrl,
    gatewayUrl,
    databaseUrl: dbUrl,
    gateway,
    heartbeats,
    log,
    agentNodeArgs,
  };
}
