/**
 * The shipped Prometheus configuration and rules against a running cluster: a master, a
 * storage gateway and one agent with its simulated camera, each its own process with /metrics
 * behind a bearer token (loopback not exempt), scraped by the real `prometheus` over HTTPS
 * with the site files laid out as deploy/prometheus/README.md says. Each /metrics passes
 * `promtool check metrics` and holds every metric the rules and dashboards read; when the
 * agent is killed, the node-down alerts fire. Intervals and `for` are shortened to seconds.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { enrolTestNodeFully } from '../support/enrol.ts';
import {
  freePort,
  onCleanup,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
  waitHealthy,
} from '../support/index.ts';
import { spawnKept } from '../support/plain.ts';
import { agentTlsConfig, testTls } from '../support/tls.ts';
import {
  dashboardExprs,
  installSite,
  metricsIn,
  prometheusToolsSkip,
  promtool,
  shippedAlerts,
} from './prometheus-tools.ts';

const NODE = 'prom-node-1';
const TOKENS = {
  master: 'master-scrape-token-0123456789',
  gateway: 'gateway-scrape-token-0123456789',
  agent: 'agent-scrape-token-0123456789',
};

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

describe('Prometheus scraping a running cluster', {
  skip: prometheusToolsSkip('promtool', 'prometheus'),
}, () => {
  const urls = { master: '', gateway: '', agent: '', prometheus: '' };
  let agent: ServiceProcess;
  let prometheus: ReturnType<typeof spawnKept>;

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${urls.prometheus}${path}`);
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return ((await res.json()) as { data: T }).data;
  };

  before(async () => {
    const dir = await tempDir('cctv-prom-live-');
    const [db, httpPort, mqttPort, gatewayPort, agentPort, promPort] = await Promise.all([
      startTestDatabase(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    urls.master = `https://127.0.0.1:${httpPort}`;
    urls.gateway = `https://127.0.0.1:${gatewayPort}`;
    urls.agent = `http://127.0.0.1:${agentPort}`;
    urls.prometheus = `http://127.0.0.1:${promPort}`;
    const master = startService('master/src/main.ts', {
      DATABASE_URL: db.url,
      MASTER_HTTP_HOST: '127.0.0.1',
      MASTER_HTTP_PORT: String(httpPort),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      MASTER_DATA_DIR: join(dir, 'master'),
      GATEWAY_PUBLIC_URL: urls.gateway,
      MASTER_METRICS_TOKEN: TOKENS.master,
      MASTER_METRICS_TOKEN_LOOPBACK: 'required',
    });
    const gateway = startService('storage-gateway/src/main.ts', {
      DATABASE_URL: db.gateway,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_DATA_DIR: join(dir, 'gateway'),
      GATEWAY_NAS_DIR: join(dir, 'nas'),
      GATEWAY_METRICS_TOKEN: TOKENS.gateway,
      GATEWAY_METRICS_TOKEN_LOOPBACK: 'required',
    });
    const { secret, uploadToken } = await enrolTestNodeFully(db.url, NODE);
    const tls = agentTlsConfig();
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        `nodeId: ${NODE}`,
        `mqtt: { url: "mqtt://127.0.0.1:${mqttPort}", username: ${NODE}, password: "${secret}" }`,
        `gateway: { url: "${urls.gateway}", token: "${uploadToken}" }`,
        `spool: { dir: "${join(dir, 'spool')}", minFreeBytes: 0 }`,
        `stateDir: "${join(dir, 'state')}"`,
        `tls: { ca: "${tls.ca}", cert: "${tls.cert}", key: "${tls.key}" }`,
        'heartbeatIntervalS: 1',
        'segmentSeconds: 2',
        `httpPort: ${agentPort}`,
        `metrics: { token: "${TOKENS.agent}", loopback: required }`,
        // Never the fixed default live port: another test may hold it.
        'live: { jsmpeg: { port: 0 } }',
        '',
      ].join('\n'),
    );
    await Promise.all([
      waitHealthy(master, `${urls.master}/healthz`),
      waitHealthy(gateway, `${urls.gateway}/healthz`, 90_000),
    ]);
    agent = startService('node-agent/src/main.ts', {}, ['--config', config]);

    // The site directory as an operator fills it, with the shipped rules' `for` shortened.
    const site = join(dir, 'prometheus');
    const configFile = await installSite(site, {
      caFile: testTls().caFile,
      tokens: TOKENS,
      targets: {
        master: [{ targets: [`127.0.0.1:${httpPort}`] }],
        gateway: [{ targets: [`127.0.0.1:${gatewayPort}`] }],
        agents: [{ targets: [`127.0.0.1:${agentPort}`], labels: { node: NODE } }],
      },
      rules: (doc) => {
        for (const g of (doc as { groups: { rules: { for?: string }[] }[] }).groups)
          for (const r of g.rules) if (r.for) r.for = '2s';
        return doc;
      },
      config: (doc) => {
        doc.global = { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
      },
    });
    prometheus = spawnKept(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      process.env,
    );
    onCleanup(() => prometheus.stop('SIGTERM', 5000));
    await waitFor(
      'prometheus ready',
      async () => (await fetch(`${urls.prometheus}/-/ready`)).ok,
      20_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${prometheus.output().slice(-4000)}`);
    });
  });

  it('scrapes the master, the gateway and the agent over TLS with their tokens', async () => {
    type Target = { labels: Record<string, string>; health: string; lastError: string };
    const targets = await waitFor(
      'every target up',
      async () => {
        const { activeTargets } = await api<{ activeTargets: Target[] }>('/api/v1/targets');
        return activeTargets.length === 3 && activeTargets.every((t) => t.health === 'up') && activeTargets;
      },
      45_000,
      250,
    ).catch(async (err: Error) => {
      const now = await api<unknown>('/api/v1/targets').catch(() => null);
      throw new Error(
        `${err.message}\n${JSON.stringify(now)}\n--- agent ---\n${agent.output().slice(-3000)}`,
      );
    });
    assert.deepEqual(targets.map((t) => t.labels.job).sort(), ['cctv-agents', 'cctv-gateway', 'cctv-master']);
    assert.equal(targets.find((t) => t.labels.job === 'cctv-agents')?.labels.node, NODE);
  });

  it('every /metrics passes promtool check metrics and holds what the rules and dashboards read', async () => {
    const scraped = new Set<string>();
    for (const [name, url] of [
      ['master', urls.master],
      ['gateway', urls.gateway],
      ['agent', urls.agent],
    ] as const) {
      // The agent's camera series appear once it has started the camera.
      const body = await waitFor(
        `${name} /metrics`,
        async () => {
          const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKENS[name]}` } });
          const text = await res.text();
          return res.ok && (name !== 'agent' || /^cctv_agent_camera_state\{/m.test(text)) && text;
        },
        30_000,
        250,
      );
      const check = await promtool(['check', 'metrics'], body);
      assert.equal(check.code, 0, `${name}: ${check.out}`);
      assert.equal(check.out.trim(), '', `${name}: ${check.out}`);
      for (const m of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        scraped.add(m[1] ?? '');
        if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) scraped.add(`${m[1]}${s}`);
      }
      // Each serves TLS here (the agent its live view) and reports its certificate's expiry.
      assert.match(body, /^cctv_tls_cert_expiry_timestamp_seconds\{listener="(https|live)"\} \d+/m, name);
    }
    scraped.add('up');
    const read = [
      ...(await shippedAlerts()).flatMap((a) => metricsIn(a.expr).map((m) => [a.alert, m])),
      ...(await dashboardExprs()).flatMap((d) => metricsIn(d.expr).map((m) => [d.where, m])),
    ];
    const missing = read.filter(([, m]) => !scraped.has(m ?? ''));
    assert.deepEqual(missing, [], 'metrics read by rules or dashboards but scraped from no service');
  });

  it('fires the node-down alerts once the agent is killed', async () => {
    const alerts = () => api<{ alerts: PromAlert[] }>('/api/v1/alerts').then((d) => d.alerts);
    const nodeDown = async () =>
      (await alerts()).filter((a) => /^(CctvNodeAgentDown|CctvNodesOffline)$/.test(a.labels.alertname ?? ''));
    // Up and online first (an enrolled node is offline until its agent connects): neither
    // alert is pending or firing before the kill, so what fires after it comes from the kill.
    await waitFor(
      'the agent online and no node-down alert',
      async () => (await nodeDown()).length === 0,
      20_000,
      250,
    );
    const killedAt = Date.now();
    await agent.kill('SIGKILL');
    const firing = await waitFor(
      'CctvNodeAgentDown and CctvNodesOffline firing',
      async () => {
        const now = (await alerts()).filter((a) => a.state === 'firing');
        const down = now.find((a) => a.labels.alertname === 'CctvNodeAgentDown');
        const offline = now.find((a) => a.labels.alertname === 'CctvNodesOffline');
        return down && offline && { down, offline };
      },
      30_000,
      250,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(await alerts())}`);
    });
    for (const a of [firing.down, firing.offline])
      assert.ok(
        Date.parse(a.activeAt) >= killedAt - 1000,
        `${a.labels.alertname} active since ${a.activeAt}`,
      );
    assert.equal(firing.down.labels.node, NODE);
    assert.equal(firing.down.labels.severity, 'critical');
    assert.equal(firing.offline.labels.job, 'cctv-master');
  });
});
