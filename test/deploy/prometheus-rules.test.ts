/**
 * The shipped Prometheus files pass Prometheus's own checker: `promtool check rules`, the
 * rule unit tests of deploy/prometheus/tests (`promtool test rules`), and `promtool check
 * config` of prometheus.yml with a site directory filled as the README says. Every alert has
 * its runbook section and a unit test in which it fires, and reads only metrics the services
 * export.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { repoRoot, tempDir } from '../support/index.ts';
import { testTls } from '../support/tls.ts';
import {
  exportedMetricNames,
  installSite,
  metricsIn,
  promDir,
  prometheusToolsSkip,
  promtool,
  ruleFiles,
  rulesDir,
  shippedAlerts,
} from './prometheus-tools.ts';

const testsDir = join(promDir, 'tests');

/** The `###` headings under `## Prometheus alerts` of docs/operations.md, as GitHub anchors. */
async function runbookAnchors(): Promise<Set<string>> {
  const text = await readFile(join(repoRoot, 'docs', 'operations.md'), 'utf8');
  const section = /^## Prometheus alerts$([\s\S]*?)(?=^## |$(?![\s\S]))/m.exec(text)?.[1];
  assert.ok(section, 'docs/operations.md has a "## Prometheus alerts" section');
  const anchors = [...section.matchAll(/^### (.+)$/gm)].map(([, h = '']) =>
    h
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9 _-]/g, '')
      .replace(/ /g, '-'),
  );
  return new Set(anchors);
}

describe('Prometheus rules and configuration', { skip: prometheusToolsSkip('promtool') }, () => {
  it('promtool check rules accepts every rule file', async () => {
    const files = (await ruleFiles()).map((f) => join(rulesDir, f));
    assert.ok(files.length >= 5, `rule files: ${files.join(', ')}`);
    const r = await promtool(['check', 'rules', ...files]);
    assert.equal(r.code, 0, r.out);
  });

  it('the rule unit tests pass (promtool test rules)', async () => {
    const tests = (await readdir(testsDir)).filter((f) => f.endsWith('.yml')).map((f) => join(testsDir, f));
    assert.ok(tests.length > 0);
    const r = await promtool(['test', 'rules', ...tests]);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /FAILED/);
  });

  it('every alert has a summary, a description, a runbook section and a unit test where it fires', async () => {
    const alerts = await shippedAlerts();
    const anchors = await runbookAnchors();
    const fired = new Set<string>();
    for (const f of await readdir(testsDir)) {
      const doc = parseYaml(await readFile(join(testsDir, f), 'utf8')) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      };
      for (const t of doc.tests)
        for (const a of t.alert_rule_test ?? []) if ((a.exp_alerts ?? []).length > 0) fired.add(a.alertname);
    }
    const names = alerts.map((a) => a.alert);
    assert.equal(new Set(names).size, names.length, `alert names repeat: ${names.join(', ')}`);
    for (const a of alerts) {
      assert.ok(a.annotations?.summary, `${a.alert}: summary`);
      assert.ok(a.annotations?.description, `${a.alert}: description`);
      assert.match(a.labels?.severity ?? '', /^(warning|critical)$/, `${a.alert}: severity`);
      const anchor = a.alert.toLowerCase();
      assert.equal(a.annotations?.runbook_url, `docs/operations.md#${anchor}`, `${a.alert}: runbook_url`);
      assert.ok(anchors.has(anchor), `${a.alert}: no "### ${a.alert}" under "## Prometheus alerts"`);
      assert.ok(fired.has(a.alert), `${a.alert}: no unit test in deploy/prometheus/tests where it fires`);
    }
    // The kinds of alert the operations guide promises.
    for (const kind of [
      'CctvNodeAgentDown',
      'CctvNodesOffline',
      'CctvCameraFailed',
      'CctvCameraReconnecting',
      'CctvSpoolFreeSpaceLow',
      'CctvNasDown',
      'CctvNasBacklogGrowing',
      'CctvNasFreeSpaceLow',
      'CctvNodeClockSkew',
      'CctvCertificateExpiresSoon',
      'CctvIngestRejected',
      'CctvForeignUploads',
    ])
      assert.ok(names.includes(kind), `no alert ${kind}`);
  });

  it('rules read only metrics the master, the gateway or the agent export', async () => {
    const exported = exportedMetricNames();
    for (const a of await shippedAlerts()) {
      const names = metricsIn(a.expr);
      assert.ok(names.length > 0, `${a.alert}: no metric found in ${a.expr}`);
      for (const name of names)
        assert.ok(exported.has(name), `${a.alert} reads ${name}, which nobody exports`);
    }
  });

  it('prometheus.yml passes promtool check config with the site files in place', async () => {
    const dir = await tempDir('cctv-prom-config-');
    const token = 'scrape-token-for-the-config-check';
    const config = await installSite(dir, {
      caFile: testTls().caFile,
      tokens: { master: token, gateway: token, agent: token },
      targets: {
        master: parseYaml(await readFile(join(promDir, 'targets', 'master.example.yml'), 'utf8')),
        gateway: parseYaml(await readFile(join(promDir, 'targets', 'gateway.example.yml'), 'utf8')),
        agents: parseYaml(await readFile(join(promDir, 'targets', 'agents.example.yml'), 'utf8')),
      },
    });
    const r = await promtool(['check', 'config', config]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });
});
