/**
 * `/metrics` behind a bearer token, on a real master and a real gateway process. Every test
 * service listens on loopback, which is exempt by default; `*_METRICS_TOKEN_LOOPBACK=required`
 * takes the exemption away so that these requests are judged as a remote scraper's would be
 * (the exemption itself: tls/test/metrics-access.test.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { freePort, startService, startTestDatabase, tempDir, waitHealthy } from '../support/index.ts';

const TOKEN = 'prometheus-scrape-token-7f3a';

async function scrape(url: string, authorization?: string) {
  const res = await fetch(`${url}/metrics`, authorization ? { headers: { authorization } } : {});
  return { status: res.status, auth: res.headers.get('www-authenticate'), text: await res.text() };
}

/** The value of one series, read with the token. */
async function counter(url: string, series: string): Promise<number> {
  const { text } = await scrape(url, `Bearer ${TOKEN}`);
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('/metrics with a bearer token', () => {
  let masterUrl: string;
  let gatewayUrl: string;
  let masterOutput: () => string;
  let gatewayOutput: () => string;

  before(async () => {
    const db = await startTestDatabase();
    const dir = await tempDir('cctv-metrics-token-');
    const [httpPort, mqttPort, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
    masterUrl = `https://127.0.0.1:${httpPort}`;
    gatewayUrl = `https://127.0.0.1:${gatewayPort}`;
    const master = startService('master/src/main.ts', {
      DATABASE_URL: db.url,
      MASTER_HTTP_HOST: '127.0.0.1',
      MASTER_HTTP_PORT: String(httpPort),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      MASTER_DATA_DIR: join(dir, 'master'),
      GATEWAY_PUBLIC_URL: gatewayUrl,
      MASTER_METRICS_TOKEN: TOKEN,
      MASTER_METRICS_TOKEN_LOOPBACK: 'required',
    });
    const gateway = startService('storage-gateway/src/main.ts', {
      DATABASE_URL: db.gateway,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_DATA_DIR: join(dir, 'gateway'),
      GATEWAY_NAS_DIR: join(dir, 'nas'),
      GATEWAY_METRICS_TOKEN: TOKEN,
      GATEWAY_METRICS_TOKEN_LOOPBACK: 'required',
    });
    masterOutput = master.output;
    gatewayOutput = gateway.output;
    await Promise.all([
      waitHealthy(master, `${masterUrl}/healthz`),
      waitHealthy(gateway, `${gatewayUrl}/healthz`, 90_000),
    ]);
  });

  it('the master answers 401 without the token or with a wrong one, counts both, serves with it', async () => {
    const missing = 'cctv_http_refused_total{reason="metrics_no_token"}';
    const wrong = 'cctv_http_refused_total{reason="metrics_bad_token"}';
    const before = { missing: await counter(masterUrl, missing), wrong: await counter(masterUrl, wrong) };
    const none = await scrape(masterUrl);
    assert.equal(none.status, 401);
    assert.equal(none.auth, 'Bearer realm="metrics"');
    assert.doesNotMatch(none.text, /cctv_/);
    assert.equal((await scrape(masterUrl, `Bearer ${TOKEN.slice(0, -1)}`)).status, 401);
    assert.equal((await scrape(masterUrl, `Basic ${TOKEN}`)).status, 401);
    const ok = await scrape(masterUrl, `Bearer ${TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^# TYPE cctv_http_refused_total counter$/m);
    assert.equal(await counter(masterUrl, missing), before.missing + 2);
    assert.equal(await counter(masterUrl, wrong), before.wrong + 1);
    // Health stays public.
    assert.equal((await fetch(`${masterUrl}/healthz`)).status, 200);
  });

  it('the gateway does the same', async () => {
    const missing = 'cctv_gateway_metrics_refused_total{reason="missing"}';
    const wrong = 'cctv_gateway_metrics_refused_total{reason="wrong"}';
    const none = await scrape(gatewayUrl);
    assert.equal(none.status, 401);
    assert.equal(none.auth, 'Bearer realm="metrics"');
    assert.equal((await scrape(gatewayUrl, 'Bearer not-the-token-at-all')).status, 401);
    const ok = await scrape(gatewayUrl, `Bearer ${TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^cctv_gateway_segments_ingested_total/m);
    assert.equal(await counter(gatewayUrl, missing), 1);
    assert.equal(await counter(gatewayUrl, wrong), 1);
  });

  it('neither warns of a public /metrics: they have a token and listen on loopback', () => {
    assert.doesNotMatch(masterOutput(), /metrics is public/);
    assert.doesNotMatch(gatewayOutput(), /metrics is public/);
  });
});
