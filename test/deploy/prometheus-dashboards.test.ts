/**
 * The Grafana dashboards and provisioning of deploy/compose (Grafana itself does not run
 * here): each dashboard parses, every panel queries the provisioned Prometheus through the
 * dashboard's datasource variable, every expression is PromQL that `promtool check rules`
 * accepts (each put in a recording rule), and reads only metrics the services export. The
 * monitoring profile of compose.yaml mounts files that exist and passes `docker-compose config`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { repoRoot, tempDir } from '../support/index.ts';
import {
  dashboardExprs,
  dashboards,
  exportedMetricNames,
  metricsIn,
  panelsOf,
  prometheusToolsSkip,
  promtool,
} from './prometheus-tools.ts';

const composeDir = join(repoRoot, 'deploy', 'compose');
const grafanaDir = join(composeDir, 'grafana');
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template string
const DATASOURCE_VARIABLE = '${datasource}';

describe('Grafana dashboards', () => {
  it('parse, have unique uids and query the datasource variable in every panel', async () => {
    const all = await dashboards();
    assert.deepEqual(
      all.map((d) => d.file),
      ['cctv-fleet.json', 'cctv-master-ingest.json', 'cctv-recording-storage.json'],
    );
    assert.equal(new Set(all.map((d) => d.dashboard.uid)).size, all.length);
    for (const { file, dashboard } of all) {
      assert.ok(dashboard.title, file);
      assert.ok(
        dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'),
        `${file}: no datasource variable`,
      );
      const panels = panelsOf(dashboard).filter((p) => p.type !== 'row');
      assert.ok(panels.length >= 6, `${file}: ${panels.length} panels`);
      for (const p of panels) {
        assert.equal(p.datasource?.uid, DATASOURCE_VARIABLE, `${file}: ${p.title}`);
        assert.ok((p.targets ?? []).length > 0, `${file}: ${p.title} has no query`);
        for (const t of p.targets ?? []) assert.ok(t.expr?.trim(), `${file}: ${p.title} has an empty query`);
      }
    }
  });

  it('read only metrics the master, the gateway or the agent export', async () => {
    const exported = exportedMetricNames();
    for (const { where, expr } of await dashboardExprs()) {
      const names = metricsIn(expr);
      assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
      for (const name of names) assert.ok(exported.has(name), `${where} reads ${name}, which nobody exports`);
    }
  });

  it('every query is PromQL that promtool accepts', { skip: prometheusToolsSkip('promtool') }, async () => {
    const exprs = await dashboardExprs();
    const rules = exprs.map(({ expr }, i) => ({ record: `cctv:dashboard_query:${i}`, expr }));
    const file = join(await tempDir('cctv-dashboards-'), 'queries.yml');
    await writeFile(file, stringifyYaml({ groups: [{ name: 'dashboard-queries', rules }] }));
    const r = await promtool(['check', 'rules', file]);
    assert.equal(r.code, 0, `${r.out}\n${exprs.map((e, i) => `${i}: ${e.where}`).join('\n')}`);
    assert.match(r.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    // The check can fail: a query Grafana would reject is refused here too.
    await writeFile(
      file,
      stringifyYaml({ groups: [{ name: 'bad', rules: [{ record: 'x', expr: 'rate(x[5m]' }] }] }),
    );
    assert.notEqual((await promtool(['check', 'rules', file])).code, 0);
  });

  it('provisioning names the Prometheus service and the path compose.yaml mounts the dashboards at', async () => {
    const ds = parseYaml(
      await readFile(join(grafanaDir, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
    );
    assert.equal(ds.datasources[0].type, 'prometheus');
    assert.equal(ds.datasources[0].url, 'http://prometheus:9090');
    const providers = parseYaml(
      await readFile(join(grafanaDir, 'provisioning', 'dashboards', 'cctv.yml'), 'utf8'),
    );
    const path = providers.providers[0].options.path as string;
    const compose = parseYaml(await readFile(join(composeDir, 'compose.yaml'), 'utf8'));
    const grafana = compose.services.grafana;
    const prometheus = compose.services.prometheus;
    assert.deepEqual(grafana.profiles, ['monitoring']);
    assert.deepEqual(prometheus.profiles, ['monitoring']);
    assert.ok(
      grafana.volumes.includes(`./grafana/dashboards:${path}:ro`),
      `dashboards not mounted at ${path}`,
    );
    // Every file or folder the two services mount from this checkout exists.
    for (const v of [...grafana.volumes, ...prometheus.volumes]) {
      if (typeof v !== 'string' || !v.startsWith('.')) continue;
      const source = v.split(':')[0] ?? '';
      assert.ok(existsSync(resolve(composeDir, source)), `${v}: ${source} does not exist`);
    }
    // The compose file's targets for the central services, in the shipped file_sd format.
    for (const name of ['master', 'gateway']) {
      const t = parseYaml(await readFile(join(composeDir, 'prometheus', 'targets', `${name}.yml`), 'utf8'));
      assert.ok(Array.isArray(t) && t[0].targets.length === 1, name);
    }
  });

  it('docker-compose accepts the monitoring profile with the example settings', {
    skip:
      spawnSync('sh', ['-c', 'command -v docker-compose']).status === 0 ? false : 'docker-compose missing',
  }, async () => {
    const { stdout } = await promisify(execFile)(
      'docker-compose',
      ['-f', 'compose.yaml', '--env-file', '.env.example', '--profile', 'monitoring', 'config'],
      { cwd: composeDir },
    );
    assert.match(stdout, /^ {2}prometheus:$/m);
    assert.match(stdout, /^ {2}grafana:$/m);
    // Loopback only unless the site says otherwise: neither has its own TLS.
    assert.match(stdout, /127\.0\.0\.1:9090:9090/);
    assert.match(stdout, /127\.0\.0\.1:3001:3000/);
  });
});
