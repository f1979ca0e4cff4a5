/** The host sampler against the real /proc, with a real busy child spawned the way ffmpeg is (detached). */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostSampler } from '../src/host/host-sampler.ts';

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('host sampler on the real /proc', () => {
  it('attributes a busy detached child to the agent and forgets it once it is gone', async (t) => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'host-live-'));
    dirs.push(spoolDir);
    const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore', detached: true });
    children.push(busy);
    const pid = busy.pid;
    assert.ok(pid);
    const host = new HostSampler({ spoolDir, minIntervalMs: 0 });

    await sleep(300);
    const before = await host.sample();
    assert.ok(before.children.has(pid), 'the child is found by its parent pid');
    await sleep(1200);
    const s = await host.sample();
    const child = s.children.get(pid);
    assert.ok(child);
    t.diagnostic(
      `interval ${s.intervalS.toFixed(2)} s; busy child ${child.cpuPercent.toFixed(1)} % of one core, ` +
        `rss ${(child.rssBytes / 2 ** 20).toFixed(1)} MiB; agent alone ${s.agent.cpuPercent.toFixed(1)} %, ` +
        `${(s.agent.rssBytes / 2 ** 20).toFixed(1)} MiB; total ${s.total.cpuPercent.toFixed(1)} %, ` +
        `${(s.total.rssBytes / 2 ** 20).toFixed(1)} MiB; host ${s.host.cpuPercent.toFixed(1)} % of all cores, ` +
        `load1 ${s.host.load1}`,
    );
    assert.ok(s.intervalS > 1 && s.intervalS < 3, `interval ${s.intervalS}`);
    assert.ok(child.cpuPercent >= 50, `child CPU ${child.cpuPercent} %`);
    assert.ok(child.cpuPercent <= 110, `one thread cannot use more than one core: ${child.cpuPercent} %`);
    assert.ok(child.rssBytes > 0);
    assert.equal(child.ppid, process.pid);
    assert.ok(s.total.cpuPercent >= child.cpuPercent);
    assert.ok(s.total.rssBytes >= s.agent.rssBytes + child.rssBytes);
    assert.ok(s.agent.rssBytes > 10 * 2 ** 20);
    assert.ok(s.host.cpuPercent > 0 && s.host.cpuPercent <= 100);
    assert.ok(s.host.memAvailableBytes > 0 && s.host.memAvailableBytes <= s.host.memTotalBytes);
    assert.ok(s.host.uptimeS > 0);
    assert.ok(s.disk.spoolTotalBytes > 0);

    busy.kill('SIGKILL');
    await exited(busy);
    const gone = await host.sample();
    assert.equal(gone.children.has(pid), false);
  });

  it('finds grandchildren through the children files', async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'host-live-'));
    dirs.push(spoolDir);
    // A shell that starts a sleep, as the Pi camera pipeline does: the sleep is a grandchild.
    const shell = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    children.push(shell);
    const grandchild = await new Promise<number>((resolve) =>
      shell.stdout?.once('data', (d: Buffer) => resolve(Number.parseInt(d.toString(), 10))),
    );
    const host = new HostSampler({ spoolDir, minIntervalMs: 0 });
    await sleep(200);
    const s = await host.sample();
    assert.ok(s.children.has(shell.pid ?? -1), 'the child');
    assert.equal(s.children.get(grandchild)?.ppid, shell.pid, 'the grandchild, by way of the shell');
    for (const c of s.children.values())
      assert.ok(
        c.pid === grandchild || c.ppid === process.pid || s.children.has(c.ppid),
        `${c.pid} is in the tree`,
      );
    shell.kill('SIGKILL');
    process.kill(grandchild, 'SIGKILL');
    await exited(shell);
  });
});
