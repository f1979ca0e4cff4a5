/**
 * What the Prometheus tests share: Debian's `promtool` and `prometheus` (skipped where they are
 * missing, a failure under CI), the shipped rules and configuration read from deploy/prometheus,
 * and the metric names the services export, read from their own registries.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CERT_EXPIRY_METRIC, registerCertificateExpiry } from '@cctv/tls/service-metrics';
import { Registry } from 'prom-client';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createMetrics } from '../../master/src/metrics.ts';
import type { HostSampler } from '../../node-agent/src/host/host-sampler.ts';
import { AnalysisMetrics } from '../../node-agent/src/metrics/analysis-metrics.ts';
import { ClockGauge } from '../../node-agent/src/metrics/clock-gauge.ts';
import { LiveMetrics } from '../../node-agent/src/metrics/live-metrics.ts';
import { AgentMetrics } from '../../node-agent/src/metrics/metrics.ts';
import { GatewayMetrics } from '../../storage-gateway/src/metrics/gateway-metrics.ts';
import { repoRoot } from '../support/index.ts';

export const promDir = join(repoRoot, 'deploy', 'prometheus');
export const rulesDir = join(promDir, 'rules');
/** Where the shipped prometheus.yml expects the site's files. */
const SITE_DIR = '/etc/prometheus/cctv';

const onPath = (bin: string) =>
  spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/**
 * The `skip` option for tests that need these binaries (Debian's package `prometheus`): the
 * reason when one is missing; under CI (`CI=true`) a missing binary fails the file instead.
 */
export function prometheusToolsSkip(...bins: string[]): string | false {
  const missing = bins.filter((b) => !onPath(b));
  if (missing.length === 0) return false;
  const reason = `${missing.join(' and ')} not installed (Debian package prometheus; node scripts/bootstrap.mjs --test)`;
  if (process.env.CI === 'true') throw new Error(`CI must run the Prometheus tests: ${reason}`);
  return reason;
}

const run = promisify(execFile);

/** Runs promtool; resolves with its exit code and output, whether it fails or not. */
export async function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  if (stdin !== undefined) {
    const r = spawnSync('promtool', args, { input: stdin, encoding: 'utf8', cwd: repoRoot });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  }
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: repoRoot, maxBuffer: 16 << 20 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export interface AlertRule {
  file: string;
  group: string;
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export async function ruleFiles(): Promise<string[]> {
  return (await readdir(rulesDir)).filter((f) => f.endsWith('.yml')).sort();
}

/** Every alerting rule of deploy/prometheus/rules. */
export async function shippedAlerts(): Promise<AlertRule[]> {
  const out: AlertRule[] = [];
  for (const file of await ruleFiles()) {
    const doc = parseYaml(await readFile(join(rulesDir, file), 'utf8')) as {
      groups: { name: string; rules: Omit<AlertRule, 'file' | 'group'>[] }[];
    };
    for (const g of doc.groups) for (const r of g.rules) if (r.alert) out.push({ ...r, file, group: g.name });
  }
  return out;
}

/** The metric names an expression reads (ours, the default process ones, and `up`). */
export function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:cctv_|nodejs_|process_)[a-zA-Z0-9_:]*|\bup\b(?!\s*\()/g) ?? [];
  return [...new Set(names)];
}

/**
 * The names the master, the gateway and the agent put on /metrics, from their own registries
 * (histograms with their `_bucket`, `_sum` and `_count` series), plus Prometheus's `up`.
 */
export function exportedMetricNames(): Set<string> {
  const master = createMetrics();
  const gateway = new GatewayMetrics();
  // Registration only: nothing here is collected, so the sampler is never asked.
  const agent = new AgentMetrics(() => [], { host: {} as HostSampler });
  new AnalysisMetrics(agent.registry);
  new LiveMetrics(agent.registry);
  // Registered at the agent's first clock measurement.
  new ClockGauge(agent.registry).set(0);
  const certs = new Registry();
  registerCertificateExpiry(certs, { https: 'unread.crt' });
  const names = new Set(['up']);
  for (const registry of [master.registry, gateway.registry, agent.registry, certs])
    for (const m of registry.getMetricsAsArray()) {
      const { name, type } = m as unknown as { name: string; type: string };
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    }
  if (!names.has(CERT_EXPIRY_METRIC)) throw new Error('the certificate gauge was not registered');
  return names;
}

/** The metric names of a /metrics body (its `# TYPE` lines), histogram series included. */
export function scrapedMetricNames(body: string): Set<string> {
  const names = new Set<string>();
  for (const m of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

export interface SiteFiles {
  caFile: string;
  tokens: { master: string; gateway: string; agent: string };
  /** file_sd entries per job file (master.yml, gateway.yml, agents.yml). */
  targets: Record<'master' | 'gateway' | 'agents', { targets: string[]; labels?: Record<string, string> }[]>;
  /** Rewrites each shipped rule file before it is installed (e.g. shorter `for`). */
  rules?: (doc: unknown) => unknown;
  /** Rewrites the configuration (e.g. shorter intervals). */
  config?: (doc: Record<string, unknown>) => void;
}

/**
 * The shipped prometheus.yml with its site directory moved to `dir`, and that directory
 * filled as an operator would: CA, token files, file_sd targets, the rules. Returns the path
 * of the configuration.
 */
export async function installSite(dir: string, site: SiteFiles): Promise<string> {
  for (const sub of ['tokens', 'targets', 'rules']) await mkdir(join(dir, sub), { recursive: true });
  await copyFile(site.caFile, join(dir, 'ca.crt'));
  for (const [name, token] of Object.entries(site.tokens))
    await writeFile(join(dir, 'tokens', name), `${token}\n`, { mode: 0o600 });
  for (const [name, entries] of Object.entries(site.targets))
    await writeFile(join(dir, 'targets', `${name}.yml`), stringifyYaml(entries));
  for (const file of await ruleFiles()) {
    const text = await readFile(join(rulesDir, file), 'utf8');
    const out = site.rules ? stringifyYaml(site.rules(parseYaml(text))) : text;
    await writeFile(join(dir, 'rules', file), out);
  }
  const shipped = await readFile(join(promDir, 'prometheus.yml'), 'utf8');
  if (!shipped.includes(SITE_DIR)) throw new Error(`prometheus.yml no longer names ${SITE_DIR}`);
  const doc = parseYaml(shipped.replaceAll(SITE_DIR, dir)) as Record<string, unknown>;
  site.config?.(doc);
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringifyYaml(doc));
  return configFile;
}

export const dashboardsDir = join(repoRoot, 'deploy', 'compose', 'grafana', 'dashboards');

interface GrafanaPanel {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: GrafanaPanel[];
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

export async function dashboards(): Promise<{ file: string; dashboard: GrafanaDashboard }[]> {
  const files = (await readdir(dashboardsDir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      dashboard: JSON.parse(await readFile(join(dashboardsDir, file), 'utf8')) as GrafanaDashboard,
    })),
  );
}

/** Every panel of a dashboard, those inside collapsed rows included. */
export function panelsOf(d: GrafanaDashboard): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  const walk = (ps: GrafanaPanel[]) => {
    for (const p of ps) {
      out.push(p);
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/**
 * The PromQL of every panel and of every query variable (the series selector of its
 * `label_values(…)`), with Grafana's variables replaced by what they stand for at run time.
 */
export async function dashboardExprs(): Promise<{ where: string; expr: string }[]> {
  const grafana = (expr: string) =>
    expr
      .replaceAll('$__rate_interval', '5m')
      .replaceAll('$__interval', '1m')
      .replace(/\$\{?[a-z_]+\}?/g, '.*');
  const out: { where: string; expr: string }[] = [];
  for (const { file, dashboard } of await dashboards()) {
    for (const p of panelsOf(dashboard))
      for (const t of p.targets ?? [])
        if (t.expr !== undefined) out.push({ where: `${file}: ${p.title}`, expr: grafana(t.expr) });
    for (const v of dashboard.templating.list) {
      if (v.type !== 'query') continue;
      const selector = /^label_values\((.+),\s*[a-zA-Z_]+\)$/.exec(v.definition ?? '')?.[1];
      if (!selector) throw new Error(`${file}: variable ${v.name} is not label_values(<selector>, <label>)`);
      out.push({ where: `${file}: variable ${v.name}`, expr: grafana(selector) });
    }
  }
  return out;
}
