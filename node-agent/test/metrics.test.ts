/** The agent's Prometheus registry: host, agent, spool and per-camera series over real /proc and /metrics. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HostSampler } from '../src/host/host-sampler.ts';
import { AgentMetrics, type CameraGaugeSource, startMetricsServer } from '../src/metrics/metrics.ts';

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The value of one series, e.g. `cctv_agent_load1` or `cctv_agent_camera_fps{camera="front"}`; null when absent. */
function value(text: string, series: string): number | null {
  for (const line of text.split('\n'))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return null;
}

describe('agent metrics', () => {
  it('exposes host, agent, spool and per-camera figures next to the existing series', async () => {
    const spoolDir = await temp('metrics-spool-');
    await mkdir(join(spoolDir, 'front'));
    await writeFile(join(spoolDir, 'front', 'a.m4s'), Buffer.alloc(1234));
    const thermalRoot = await temp('metrics-thermal-');
    await mkdir(join(thermalRoot, 'thermal_zone0'));
    await writeFile(join(thermalRoot, 'thermal_zone0', 'type'), 'cpu-thermal\n');
    await writeFile(join(thermalRoot, 'thermal_zone0', 'temp'), '51234\n');
    const ffmpeg = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    children.push(ffmpeg);
    assert.ok(ffmpeg.pid);

    const now = new Date('2026-11-23T10:15:00.000Z');
    const cameras: CameraGaugeSource[] = [
      {
        id: 'front',
        state: 'recording',
        fps: 12.5,
        bitrateKbps: 900,
        lastSegmentAt: new Date('2026-11-23T10:14:58.000Z'),
        backlog: { files: 3, bytes: 1234, oldestAt: new Date('2026-11-23T10:14:30.000Z') },
        ffmpegPid: ffmpeg.pid,
      },
      { id: 'back', state: 'reconnecting', lastSegmentAt: null, backlog: { files: 0, bytes: 0 } },
    ];
    const host = new HostSampler({ spoolDir, thermalRoot });
    const metrics = new AgentMetrics(() => cameras, { host, now: () => now });
    metrics.segmentDropped('front', 'quota');
    metrics.ffmpegRestarted('front', 'stall');
    metrics.ffmpegRestarted('front', 'stall');
    metrics.ffmpegRestarted('back', 'unreachable');

    const text = await metrics.registry.metrics();
    const v = (series: string) => value(text, series);

    // Host and agent.
    const hostCpu = v('cctv_agent_host_cpu_percent');
    assert.ok(hostCpu !== null && hostCpu >= 0 && hostCpu <= 100, `host cpu ${hostCpu}`);
    assert.ok((v('cctv_agent_cpu_percent') ?? -1) >= 0);
    const rss = v('cctv_agent_rss_bytes') ?? 0;
    assert.ok(rss > (v('cctv_agent_process_resident_memory_bytes') ?? 0), 'children are counted in');
    assert.ok((v('cctv_agent_load1') ?? -1) >= 0);
    assert.ok((v('cctv_agent_load15') ?? -1) >= 0);
    assert.ok((v('cctv_agent_host_memory_available_bytes') ?? 0) > 0);
    assert.ok(
      (v('cctv_agent_host_memory_total_bytes') ?? 0) >= (v('cctv_agent_host_memory_available_bytes') ?? 0),
    );
    assert.equal(v('cctv_agent_soc_temperature_celsius{zone="cpu-thermal"}'), 51.2);
    assert.ok((v('cctv_agent_spool_free_bytes') ?? 0) > 0);
    assert.ok((v('cctv_agent_spool_total_bytes') ?? 0) >= (v('cctv_agent_spool_free_bytes') ?? 0));
    assert.equal(v('cctv_agent_spool_used_bytes'), 1234);

    // Per camera.
    assert.equal(v('cctv_agent_camera_fps{camera="front"}'), 12.5);
    assert.equal(v('cctv_agent_camera_bitrate_kbps{camera="front"}'), 900);
    assert.equal(
      v('cctv_agent_camera_last_segment_timestamp_seconds{camera="front"}'),
      now.getTime() / 1000 - 2,
    );
    assert.equal(v('cctv_agent_camera_last_segment_timestamp_seconds{camera="back"}'), null);
    assert.equal(v('cctv_agent_backlog_oldest_age_seconds{camera="front"}'), 30);
    assert.equal(v('cctv_agent_backlog_oldest_age_seconds{camera="back"}'), 0);
    assert.ok((v('cctv_agent_camera_rss_bytes{camera="front"}') ?? 0) > 0);
    assert.ok((v('cctv_agent_camera_cpu_percent{camera="front"}') ?? -1) >= 0);
    assert.equal(v('cctv_agent_camera_cpu_percent{camera="back"}'), null, 'no ffmpeg, no series');
    assert.equal(v('cctv_agent_segments_dropped_total{camera="front",reason="quota"}'), 1);
    assert.equal(v('cctv_agent_segments_dropped_total{camera="back",reason="quota"}'), 0);
    assert.equal(v('cctv_agent_ffmpeg_restarts_total{camera="front",reason="stall"}'), 2);
    assert.equal(v('cctv_agent_ffmpeg_restarts_total{camera="front",reason="exit"}'), 0);
    assert.equal(v('cctv_agent_ffmpeg_restarts_total{camera="back",reason="unreachable"}'), 1);

    // The existing series are still there.
    assert.equal(v('cctv_agent_backlog_files{camera="front"}'), 3);
    assert.equal(v('cctv_agent_camera_state{camera="back",state="reconnecting"}'), 1);
    assert.match(text, /^# TYPE cctv_agent_segments_recorded_total counter$/m);

    // Over HTTP, one scrape after another within a second reuses the reading heartbeats also read.
    const server = await startMetricsServer(metrics.registry, 0, '127.0.0.1');
    after(() => new Promise((resolve) => server.close(resolve)));
    const first = host.latest;
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^cctv_agent_host_cpu_percent /m);
    assert.equal(host.latest, first);
  });

  it('asks a bearer token of every peer when told to, and counts the refusals', async () => {
    const metrics = new AgentMetrics(() => []);
    const token = 'agent-scrape-token-0123';
    const serve = async (loopback: 'exempt' | 'required') => {
      const server = await startMetricsServer(metrics.registry, 0, '127.0.0.1', { token, loopback }, (r) =>
        metrics.scrapeRefused(r),
      );
      after(() => new Promise((resolve) => server.close(resolve)));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    };
    const get = (url: string, authorization?: string) =>
      fetch(url, authorization ? { headers: { authorization } } : {}).then((r) => r.status);
    // Loopback peers are exempt by default.
    assert.equal(await get(await serve('exempt')), 200);
    const strict = await serve('required');
    assert.equal(await get(strict), 401);
    assert.equal(await get(strict, 'Bearer agent-scrape-token-0124'), 401);
    assert.equal(await get(strict, `Bearer ${token}`), 200);
    const text = await metrics.registry.metrics();
    assert.match(text, /^cctv_agent_metrics_refused_total\{reason="missing"\} 1$/m);
    assert.match(text, /^cctv_agent_metrics_refused_total\{reason="wrong"\} 1$/m);
  });

  it('leaves the temperature out when the host has none, and host series out without a sampler', async () => {
    const spoolDir = await temp('metrics-spool-');
    const host = new HostSampler({ spoolDir, thermalRoot: join(spoolDir, 'no-thermal') });
    const withHost = await new AgentMetrics(() => [], { host }).registry.metrics();
    assert.match(withHost, /^cctv_agent_spool_free_bytes /m);
    assert.doesNotMatch(withHost, /^cctv_agent_soc_temperature_celsius/m);
    const without = await new AgentMetrics(() => []).registry.metrics();
    assert.doesNotMatch(without, /^cctv_agent_host_cpu_percent /m);
  });
});
