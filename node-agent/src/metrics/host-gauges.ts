/** Host, agent and per-camera ffmpeg CPU/memory/disk gauges, read from the shared host sampler. */
import { Gauge, type Registry } from 'prom-client';
import type { HostSample, HostSampler } from '../host/host-sampler.ts';
import { subtreeFigures } from '../host/process-tree.ts';
import type { CameraGaugeSource } from './metrics.ts';

export function registerHostGauges(
  registry: Registry,
  host: HostSampler,
  cameras: () => CameraGaugeSource[],
): void {
  const registers = [registry];
  // Every gauge asks the sampler; one scrape gets one reading (it is cached and shared).
  const gauge = (name: string, help: string, value: (s: HostSample) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.set(value(await host.sample()));
      },
    });
  gauge(
    'cctv_agent_host_cpu_percent',
    'Host CPU use, percent of all cores (100 = all busy)',
    (s) => s.host.cpuPercent,
  );
  gauge(
    'cctv_agent_cpu_percent',
    'Agent CPU with its ffmpeg children, percent of one core',
    (s) => s.total.cpuPercent,
  );
  gauge('cctv_agent_rss_bytes', 'Agent resident memory with its ffmpeg children', (s) => s.total.rssBytes);
  gauge('cctv_agent_load1', 'Host load average over 1 minute', (s) => s.host.load1);
  gauge('cctv_agent_load5', 'Host load average over 5 minutes', (s) => s.host.load5);
  gauge('cctv_agent_load15', 'Host load average over 15 minutes', (s) => s.host.load15);
  gauge('cctv_agent_host_memory_total_bytes', 'Host memory (MemTotal)', (s) => s.host.memTotalBytes);
  gauge(
    'cctv_agent_host_memory_available_bytes',
    'Host memory available (MemAvailable)',
    (s) => s.host.memAvailableBytes,
  );
  gauge('cctv_agent_host_uptime_seconds', 'Seconds since the host booted', (s) => s.host.uptimeS);
  // Labelled by zone: an unlabelled gauge always shows a value, and 0 °C would be a lie.
  new Gauge({
    name: 'cctv_agent_soc_temperature_celsius',
    help: 'SoC temperature by thermal zone type; absent when the host has none',
    labelNames: ['zone'],
    registers,
    async collect() {
      const s = await host.sample();
      this.reset();
      if (s.tempC !== null) this.set({ zone: s.thermalZone ?? 'unknown' }, s.tempC);
    },
  });
  gauge('cctv_agent_spool_free_bytes', 'Free bytes on the spool file system', (s) => s.disk.spoolFreeBytes);
  gauge('cctv_agent_spool_total_bytes', 'Size of the spool file system', (s) => s.disk.spoolTotalBytes);
  gauge('cctv_agent_spool_used_bytes', 'Bytes of segments in the spool', (s) => s.disk.spoolUsedBytes);
  const ffmpegGauge = (name: string, help: string, pick: 'cpuPercent' | 'rssBytes') =>
    new Gauge({
      name,
      help,
      labelNames: ['camera'],
      registers,
      async collect() {
        const s = await host.sample();
        this.reset();
        for (const c of cameras()) {
          const f = c.ffmpegPid !== undefined ? subtreeFigures(s, c.ffmpegPid) : null;
          if (f) this.set({ camera: c.id }, f[pick]);
        }
      },
    });
  ffmpegGauge('cctv_agent_camera_cpu_percent', "The camera's ffmpeg CPU, percent of one core", 'cpuPercent');
  ffmpegGauge('cctv_agent_camera_rss_bytes', "The camera's ffmpeg resident memory", 'rssBytes');
}
