/**
 * CPU and memory of the agent and every process below it (ffmpeg, and anything ffmpeg or a
 * shell wrapper starts), read from /proc. Children run in their own process groups
 * (detached), so the tree is found by parent pid, not by group.
 *
 * CPU figures are in percent of ONE core over the interval since the previous sample (a
 * multi-threaded ffmpeg can exceed 100). A process not seen at the previous sample — new,
 * or the first sample — is measured over its lifetime. `total` also keeps the time of
 * children that exited between samples: the kernel adds a reaped child's time to its
 * parent's cutime/cstime, so the tree's sum of own + waited-for-children ticks never loses it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { type PidStat, parsePidStat, parseRssBytes, parseUptime, USER_HZ } from './proc-files.ts';

export interface ProcessFigures {
  pid: number;
  ppid: number;
  /** Percent of one core. */
  cpuPercent: number;
  /** Resident memory (VmRSS). */
  rssBytes: number;
}

export interface ProcessTreeSample {
  /** Seconds the agent's and total CPU figures cover. */
  intervalS: number;
  /** The agent process alone. */
  agent: ProcessFigures;
  /** Every live descendant of the agent, any depth, each with its own figures, by pid. */
  children: Map<number, ProcessFigures>;
  /** The agent with all its descendants; RSS is a plain sum (shared pages count twice). */
  total: { cpuPercent: number; rssBytes: number };
}

export interface ProcessTreeOptions {
  /** Where procfs is mounted; a fake tree in tests. */
  procRoot?: string;
  /** Root of the tree; the agent's own pid by default. */
  pid?: number;
  ticksPerS?: number;
}

interface Seen {
  startTicks: number;
  ticks: number;
}

interface Previous {
  uptimeS: number;
  treeTicks: number;
  procs: Map<number, Seen>;
}

export class ProcessTreeSampler {
  private readonly root: string;
  private readonly pid: number;
  private readonly hz: number;
  private prev: Previous | null = null;
  /** Whether /proc/<pid>/task/<pid>/children exists (CONFIG_PROC_CHILDREN); null until tried. */
  private childrenFiles: boolean | null = null;

  constructor(opts: ProcessTreeOptions = {}) {
    this.root = opts.procRoot ?? '/proc';
    this.pid = opts.pid ?? process.pid;
    this.hz = opts.ticksPerS ?? USER_HZ;
  }

  /** Reads the tree and returns the figures since the previous call. `uptimeS`: when already read. */
  async sample(uptimeS?: number): Promise<ProcessTreeSample> {
    const now = uptimeS ?? parseUptime(await this.read('uptime')) ?? 0;
    const stats = (await this.readTreeStats()) ?? (await this.readAllStats());
    const self = stats.get(this.pid);
    const tree = this.descendants(stats);
    const rss = new Map<number, number>();
    await Promise.all(
      [this.pid, ...tree.keys()].map(async (pid) =>
        rss.set(pid, parseRssBytes(await this.read(`${pid}/status`))),
      ),
    );

    const prev = this.prev;
    const procs = new Map<number, Seen>();
    const figures = (stat: PidStat, ticks: number): ProcessFigures => {
      procs.set(stat.pid, { startTicks: stat.startTicks, ticks });
      const before = prev?.procs.get(stat.pid);
      const known = prev && before && before.startTicks === stat.startTicks;
      const cpuPercent = known
        ? this.percent(ticks - before.ticks, now - prev.uptimeS)
        : this.percent(ticks, now - stat.startTicks / this.hz);
      return { pid: stat.pid, ppid: stat.ppid, cpuPercent, rssBytes: rss.get(stat.pid) ?? 0 };
    };

    // The agent's own figure leaves out its reaped children; theirs goes to `total` below.
    const agent = self
      ? figures(self, self.ticks)
      : { pid: this.pid, ppid: 0, cpuPercent: 0, rssBytes: rss.get(this.pid) ?? 0 };
    const children = new Map<number, ProcessFigures>();
    for (const stat of tree.values()) children.set(stat.pid, figures(stat, stat.ticks + stat.childTicks));

    let treeTicks = self ? self.ticks + self.childTicks : 0;
    for (const stat of tree.values()) treeTicks += stat.ticks + stat.childTicks;
    const agentStartS = (self?.startTicks ?? 0) / this.hz;
    const intervalS = prev ? now - prev.uptimeS : now - agentStartS;
    const totalCpu = prev
      ? this.percent(treeTicks - prev.treeTicks, intervalS)
      : this.percent(treeTicks, intervalS);
    let totalRss = agent.rssBytes;
    for (const c of children.values()) totalRss += c.rssBytes;

    this.prev = { uptimeS: now, treeTicks, procs };
    return {
      intervalS: Math.max(0, intervalS),
      agent,
      children,
      total: { cpuPercent: totalCpu, rssBytes: totalRss },
    };
  }

  private percent(ticks: number, seconds: number): number {
    // A process younger than one tick still gets a finite figure.
    const s = Math.max(seconds, 1 / this.hz);
    return Math.max(0, (ticks / this.hz / s) * 100);
  }

  private descendants(stats: Map<number, PidStat>): Map<number, PidStat> {
    const byParent = new Map<number, PidStat[]>();
    for (const s of stats.values()) {
      const list = byParent.get(s.ppid);
      if (list) list.push(s);
      else byParent.set(s.ppid, [s]);
    }
    const found = new Map<number, PidStat>();
    const queue = [this.pid];
    for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
      for (const child of byParent.get(pid) ?? []) {
        if (child.pid === this.pid || found.has(child.pid)) continue;
        found.set(child.pid, child);
        queue.push(child.pid);
      }
    }
    return found;
  }

  /**
   * The stats of the agent and its descendants only, found through each one's `children` file:
   * a handful of reads instead of one per process on the host (hundreds on a Pi with a desktop,
   * every few seconds: a tenth of the agent's CPU went there). Children are spawned by a
   * process's main thread (libuv and shells fork from it), whose task's file lists them. Null
   * when the kernel has no such files (built without CONFIG_PROC_CHILDREN): then every process
   * is read, as before.
   */
  private async readTreeStats(): Promise<Map<number, PidStat> | null> {
    if (this.childrenFiles === false) return null;
    const map = new Map<number, PidStat>();
    const queue = [this.pid];
    for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
      const [stat, children] = await Promise.all([
        this.read(`${pid}/stat`),
        readFile(`${this.root}/${pid}/task/${pid}/children`, 'utf8').catch(() => null),
      ]);
      if (pid === this.pid && this.childrenFiles === null) {
        this.childrenFiles = children !== null;
        if (!this.childrenFiles) return null;
      }
      const parsed = parsePidStat(stat);
      if (!parsed) continue;
      map.set(pid, parsed);
      for (const child of (children ?? '').split(' ')) {
        const n = Number.parseInt(child, 10);
        if (n > 0 && !map.has(n) && !queue.includes(n)) queue.push(n);
      }
    }
    return map;
  }

  /** Every process's stat; ones that vanish while reading are skipped. */
  private async readAllStats(): Promise<Map<number, PidStat>> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return new Map();
    }
    const stats = await Promise.all(
      names.filter((n) => /^\d+$/.test(n)).map(async (n) => parsePidStat(await this.read(`${n}/stat`))),
    );
    const map = new Map<number, PidStat>();
    for (const s of stats) if (s) map.set(s.pid, s);
    return map;
  }

  private read(path: string): Promise<string> {
    return readFile(`${this.root}/${path}`, 'utf8').catch(() => '');
  }
}

/** A process with everything below it (a shell wrapper and its ffmpeg); null when it is gone. */
export function subtreeFigures(
  sample: Pick<ProcessTreeSample, 'children'>,
  pid: number,
): { cpuPercent: number; rssBytes: number } | null {
  const top = sample.children.get(pid);
  if (!top) return null;
  const members = new Set([pid]);
  let cpuPercent = top.cpuPercent;
  let rssBytes = top.rssBytes;
  // Descendants come after their parent in the map only by chance; repeat until nothing is added.
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of sample.children.values()) {
      if (members.has(c.pid) || !members.has(c.ppid)) continue;
      members.add(c.pid);
      cpuPercent += c.cpuPercent;
      rssBytes += c.rssBytes;
      grew = true;
    }
  }
  return { cpuPercent, rssBytes };
}
