/** Host figures from a fake /proc tree: the parsers, process-tree deltas, host CPU, the shared sampler. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HostCpuSampler } from '../src/host/host-cpu.ts';
import { HostSampler } from '../src/host/host-sampler.ts';
import {
  parseCpuTimes,
  parseLoadavg,
  parseMeminfo,
  parsePidStat,
  parseRssBytes,
  parseUptime,
} from '../src/host/proc-files.ts';
import { ProcessTreeSampler, subtreeFigures } from '../src/host/process-tree.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

interface FakeProcess {
  pid: number;
  ppid: number;
  comm?: string;
  state?: string;
  utime: number;
  stime?: number;
  cutime?: number;
  cstime?: number;
  /** Ticks after boot. */
  start: number;
  rssKb?: number;
}

/** Writes a procfs look-alike: uptime, stat, meminfo, loadavg and <pid>/{stat,status}. */
async function writeProc(root: string, uptimeS: number, procs: FakeProcess[]): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const name of await readdir(root))
    if (/^\d+$/.test(name)) await rm(join(root, name), { recursive: true });
  await writeFile(join(root, 'uptime'), `${uptimeS.toFixed(2)} 1234.56\n`);
  for (const p of procs) {
    const dir = join(root, String(p.pid));
    await mkdir(dir);
    const times = `${p.utime} ${p.stime ?? 0} ${p.cutime ?? 0} ${p.cstime ?? 0}`;
    const stat = `${p.pid} (${p.comm ?? 'proc'}) ${p.state ?? 'S'} ${p.ppid} ${p.pid} ${p.pid} 0 -1 4194560 10 0 0 0 ${times} 20 0 4 0 ${p.start} 123456 789 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n`;
    await writeFile(join(dir, 'stat'), stat);
    const rss = p.rssKb === undefined ? '' : `VmRSS:\t${p.rssKb} kB\n`;
    await writeFile(join(dir, 'status'), `Name:\t${p.comm ?? 'proc'}\nPPid:\t${p.ppid}\n${rss}Threads:\t4\n`);
  }
}

describe('proc file parsers', () => {
  it('reads pid stat fields past a command name holding spaces and parentheses', () => {
    const s = parsePidStat('42 (ffmpeg (cam) x) R 7 42 42 0 -1 0 0 0 0 0 150 50 3 4 20 0 9 0 777 1 2 3');
    assert.deepEqual(s, { pid: 42, ppid: 7, state: 'R', ticks: 200, childTicks: 7, startTicks: 777 });
    assert.equal(parsePidStat('garbage'), null);
  });

  it('reads this very process from the real /proc', async () => {
    const s = parsePidStat(await readFile('/proc/self/stat', 'utf8'));
    assert.equal(s?.pid, process.pid);
    assert.equal(s?.ppid, process.ppid);
    assert.ok(parseRssBytes(await readFile('/proc/self/status', 'utf8')) > 1024 * 1024);
  });

  it('reads CPU times, memory, load and uptime', () => {
    assert.deepEqual(parseCpuTimes('cpu  100 5 30 800 20 1 2 3 7 0\ncpu0 1 2 3 4\n'), {
      idle: 820,
      total: 961,
    });
    assert.equal(parseCpuTimes('intr 1 2 3'), null);
    const mem = 'MemTotal:       4000000 kB\nMemFree:         500000 kB\nMemAvailable:   2500000 kB\n';
    assert.deepEqual(parseMeminfo(mem), {
      totalBytes: 4_096_000_000,
      freeBytes: 512_000_000,
      availableBytes: 2_560_000_000,
    });
    // Kernels before 3.14 have no MemAvailable.
    const old = 'MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n';
    assert.equal(parseMeminfo(old).availableBytes, 400 * 1024);
    assert.deepEqual(parseLoadavg('0.52 1.58 2.59 2/345 12345\n'), {
      load1: 0.52,
      load5: 1.58,
      load15: 2.59,
    });
    assert.equal(parseUptime('350735.47 234388.90\n'), 350735.47);
    assert.equal(parseUptime(''), null);
    assert.equal(parseRssBytes('Name:\tkworker\n'), 0);
  });
});

describe('process tree sampler', () => {
  it('follows the ppid chain, measures deltas, and keeps the time of children that exit', async () => {
    const root = join(await temp('fake-proc-'), 'proc');
    // Agent 100 (started 900 s after boot) → shell 200 → ffmpeg 300; 400 → 500 are someone else's.
    const agent = { pid: 100, ppid: 1, comm: 'node', utime: 5000, stime: 1000, start: 90_000, rssKb: 50_000 };
    const shell = { pid: 200, ppid: 100, comm: 'sh', utime: 10, start: 99_000, rssKb: 1_000 };
    const ffmpeg = {
      pid: 300,
      ppid: 200,
      comm: 'ffmpeg',
      utime: 1500,
      stime: 500,
      start: 99_000,
      rssKb: 90_000,
    };
    const others = [
      { pid: 400, ppid: 1, utime: 99_999, start: 10, rssKb: 5 },
      { pid: 500, ppid: 400, utime: 99_999, start: 10, rssKb: 5 },
    ];
    await writeProc(root, 1000, [agent, shell, ffmpeg, ...others]);
    const sampler = new ProcessTreeSampler({ procRoot: root, pid: 100 });

    // First sample: each process over its lifetime.
    const first = await sampler.sample();
    assert.equal(first.intervalS, 100);
    assert.equal(first.agent.cpuPercent, 60); // 60 s of CPU in 100 s
    assert.equal(first.agent.rssBytes, 50_000 * 1024);
    assert.deepEqual([...first.children.keys()].sort(), [200, 300]);
    assert.equal(first.children.get(300)?.cpuPercent, 200); // 20 s in 10 s: two cores
    assert.equal(first.total.rssBytes, (50_000 + 1_000 + 90_000) * 1024);

    // Two seconds later: agent +1 s of CPU, ffmpeg +3 s (a multi-threaded ffmpeg exceeds one core).
    await writeProc(root, 1002, [{ ...agent, utime: 5100 }, shell, { ...ffmpeg, utime: 1800 }, ...others]);
    const second = await sampler.sample();
    assert.equal(second.intervalS, 2);
    assert.equal(second.agent.cpuPercent, 50);
    assert.equal(second.children.get(200)?.cpuPercent, 0);
    assert.equal(second.children.get(300)?.cpuPercent, 150);
    assert.equal(second.total.cpuPercent, 200);
    assert.deepEqual(subtreeFigures(second, 200), { cpuPercent: 150, rssBytes: 91_000 * 1024 });
    assert.equal(subtreeFigures(second, 999), null);

    // ffmpeg 300 used 0.5 s more, exited and was reaped by the shell (its 2350 ticks move to the
    // shell's cutime); a new ffmpeg 301 started at 1003 s and used 0.4 s. Nothing is lost in the
    // total: 0.5 + 0.4 s over 2 s.
    await writeProc(root, 1004, [
      { ...agent, utime: 5100 },
      { ...shell, cutime: 2350 },
      { ...ffmpeg, pid: 301, utime: 40, stime: 0, start: 100_300 },
      ...others,
    ]);
    const third = await sampler.sample();
    assert.deepEqual([...third.children.keys()].sort(), [200, 301]);
    assert.equal(third.total.cpuPercent, 45);
    assert.equal(third.children.get(301)?.cpuPercent, 40); // 0.4 s over the 1 s it has lived

    // pid 301 reused by another process (another start time): measured as new, not as a delta.
    await writeProc(root, 1006, [
      { ...agent, utime: 5100 },
      { ...shell, cutime: 2350 },
      { ...ffmpeg, pid: 301, utime: 10, stime: 0, start: 100_500 },
      ...others,
    ]);
    const fourth = await sampler.sample();
    assert.equal(fourth.children.get(301)?.cpuPercent, 10); // 0.1 s over 1 s alive
  });

  it('reads zeros rather than failing when the tree is unreadable', async () => {
    const sampler = new ProcessTreeSampler({ procRoot: join(await temp('no-proc-'), 'missing'), pid: 100 });
    const s = await sampler.sample(50);
    assert.deepEqual(s.total, { cpuPercent: 0, rssBytes: 0 });
    assert.equal(s.children.size, 0);
  });
});

describe('host CPU', () => {
  it('is the busy share of all cores since boot, then since the previous reading', () => {
    const cpu = new HostCpuSampler('/nonexistent');
    assert.equal(cpu.next({ idle: 750, total: 1000 }), 25);
    assert.equal(cpu.next({ idle: 850, total: 1200 }), 50);
    assert.equal(cpu.next({ idle: 850, total: 1200 }), 0);
    assert.equal(cpu.next({ idle: 850, total: 1400 }), 100);
  });
});

describe('host sampler', () => {
  it('reads every figure once per interval and shares the reading between callers', async () => {
    const base = await temp('fake-host-');
    const root = join(base, 'proc');
    const thermal = join(base, 'thermal');
    const spool = join(base, 'spool');
    await writeProc(root, 500, [{ pid: 100, ppid: 1, utime: 1000, start: 40_000, rssKb: 10 }]);
    await writeFile(join(root, 'stat'), 'cpu  100 0 100 600 200 0 0 0 0 0\n');
    await writeFile(join(root, 'meminfo'), 'MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\n');
    await writeFile(join(root, 'loadavg'), '1.50 0.75 0.25 1/90 4242\n');
    await mkdir(join(thermal, 'thermal_zone0'), { recursive: true });
    await writeFile(join(thermal, 'thermal_zone0', 'type'), 'cpu-thermal\n');
    await writeFile(join(thermal, 'thermal_zone0', 'temp'), '48312\n');
    await mkdir(join(spool, 'cam1'), { recursive: true });
    await writeFile(join(spool, 'cam1', 'seg.m4s'), Buffer.alloc(1234));

    let clock = 0;
    const host = new HostSampler({
      spoolDir: spool,
      procRoot: root,
      thermalRoot: thermal,
      pid: 100,
      now: () => clock,
    });
    const [a, b] = await Promise.all([host.sample(), host.sample()]);
    assert.equal(a, b, 'concurrent callers share one reading');
    assert.deepEqual(a.host, {
      cpuPercent: 20,
      load1: 1.5,
      load5: 0.75,
      load15: 0.25,
      memTotalBytes: 1000 * 1024,
      memFreeBytes: 200 * 1024,
      memAvailableBytes: 600 * 1024,
      uptimeS: 500,
    });
    assert.equal(a.tempC, 48.3);
    assert.equal(a.thermalZone, 'cpu-thermal');
    assert.equal(a.disk.spoolUsedBytes, 1234);
    assert.ok(a.disk.spoolTotalBytes >= a.disk.spoolFreeBytes && a.disk.spoolFreeBytes > 0);
    assert.equal(a.agent.cpuPercent, 10); // 10 s over its 100 s

    clock = 999;
    assert.equal(await host.sample(), a, 'younger than a second: the same reading');
    clock = 1000;
    await writeProc(root, 501, [{ pid: 100, ppid: 1, utime: 1030, start: 40_000, rssKb: 10 }]);
    await writeFile(join(root, 'stat'), 'cpu  200 0 100 700 200 0 0 0 0 0\n');
    const c = await host.sample();
    assert.notEqual(c, a);
    assert.equal(host.latest, c);
    assert.equal(c.intervalS, 1);
    assert.equal(c.agent.cpuPercent, 30);
    assert.equal(c.host.cpuPercent, 50); // 100 busy of 200 ticks
  });
});
