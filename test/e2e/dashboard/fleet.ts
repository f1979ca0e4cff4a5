/**
 * The fleet page and the alert bell: node figures, sorting by a column, the text and state
 * filters, a node's cameras expanded, and alerts the master raises by its built-in rules for a
 * new event and a node going offline, pushed live, acknowledged and kept by the master. A second real agent (simulated camera,
 * 160×90 at 5 fps) joins the cluster's for the sorting and filtering, then is killed.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AlertPage, AlertRuleView } from '@cctv/protocol';
import type { BrowserContext, Page } from 'playwright-core';
import { enrolTestNodeFully } from '../../support/enrol.ts';
import { type ServiceProcess, startService, tempDir, waitFor } from '../../support/index.ts';
import type { DashboardCluster } from './cluster.ts';

const NODE_B = 'e2e-dash-node-b';
const CAMERA_B = `${NODE_B}-sim`;

const row = (nodeId: string, state?: string) =>
  `[data-testid="node-row"][data-node-id="${nodeId}"]${state ? `[data-state="${state}"]` : ''}`;
const countIs = (n: number) => `[data-testid="alerts-count"][data-count="${n}"]`;

/** A built-in alert rule with some of its parameters changed (as an admin would on /settings/alerts). */
async function tuneBuiltIn(c: DashboardCluster, id: string, params: Record<string, unknown>): Promise<void> {
  const rules = await c.admin.getJson<AlertRuleView[]>('/api/alert-rules');
  const rule = rules.find((r) => r.id === id);
  assert.ok(rule, `no built-in rule ${id}`);
  const res = await c.admin.fetch(`/api/alert-rules/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: rule.name,
      enabled: true,
      severity: rule.severity,
      channels: rule.channels,
      params: { ...rule.params, ...params },
    }),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Node ids of the table's rows, top to bottom. */
async function rowOrder(page: Page): Promise<string[]> {
  const rows = page.locator('[data-testid="node-row"]');
  const ids: string[] = [];
  for (let i = 0; i < (await rows.count()); i += 1)
    ids.push((await rows.nth(i).getAttribute('data-node-id')) ?? '');
  return ids;
}

/** A second agent on the cluster's broker and gateway, configured like the cluster's own. */
async function startSecondAgent(c: DashboardCluster): Promise<ServiceProcess> {
  const enrolment = await enrolTestNodeFully(c.databaseUrl, NODE_B);
  const dir = await tempDir('cctv-e2e-dash-b-');
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    JSON.stringify({
      nodeId: NODE_B,
      mqtt: { url: c.mqttUrl, username: NODE_B, password: enrolment.secret },
      gateway: { url: c.gatewayUrl, token: enrolment.uploadToken },
      spool: { dir: join(dir, 'spool') },
      stateDir: join(dir, 'state'),
      heartbeatIntervalS: 1,
      live: { enabled: false },
      simulatedCamera: { width: 160, height: 90, fps: 5, detect: { enabled: false } },
    }),
  );
  const agent = startService('node-agent/src/main.ts', {}, ['--config', config]);
  await waitFor(
    `${NODE_B} online with its camera and a heartbeat`,
    async () => {
      const nodes =
        await c.admin.getJson<{ id: string; state: string; lastHeartbeatAt: string | null }[]>('/api/nodes');
      const cams = await c.admin.getJson<{ id: string; online: boolean }[]>('/api/cameras');
      const b = nodes.find((n) => n.id === NODE_B);
      return b?.state === 'online' && b.lastHeartbeatAt && cams.some((x) => x.id === CAMERA_B && x.online);
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- ${NODE_B} output ---\n${agent.output().slice(-5000)}`);
  });
  return agent;
}

export function register(c: DashboardCluster): void {
  describe('fleet page and alerts', () => {
    let agentB: ServiceProcess;
    let ctx: BrowserContext;
    let page: Page;
    const errors: string[] = [];

    before(async () => {
      agentB = await startSecondAgent(c);
      ctx = await c.context();
      page = await ctx.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
    });
    after(async () => {
      await ctx?.close();
    });

    test('fleet: each node with state, heartbeat, CPU, memory, spool disk, agent version and backlog', async () => {
      await page.goto(c.dashboardUrl);
      await page.waitForSelector('[data-testid="live-indicator"][data-state="live"]');
      for (const id of [c.nodeId, NODE_B]) {
        const r = row(id, 'online');
        // Figures arrive with the heartbeats, live over the websocket.
        await page.waitForSelector(`${r} [data-testid="cell-cpu"]:has-text("%")`, { timeout: 20_000 });
        await page.waitForSelector(`${r} [data-testid="cell-backlog"]:has-text("seg")`, { timeout: 20_000 });
        const text = async (cell: string) =>
          ((await page.locator(`${r} [data-testid="${cell}"]`).textContent()) ?? '').trim();
        assert.match(await text('cell-memory'), /\d+(\.\d)? (MiB|GiB)/, `${id} memory`);
        assert.match(await text('cell-disk'), /\d+(\.\d)? (B|KiB|MiB|GiB)/, `${id} spool disk`);
        assert.match(await text('cell-agent'), /^\d+\.\d+\.\d+/, `${id} agent version`);
        assert.match(await text('heartbeat-age'), /^\d+s ago$/, `${id} heartbeat age`);
      }
      await page.waitForSelector(`[data-testid="camera-item"][data-camera-id="${CAMERA_B}"]`);
      await c.screenshot(page, 'fleet');
      assert.deepEqual(errors, []);
    });

    test('fleet: clicking a column header sorts by it, again reverses it; the keyboard does the same', async () => {
      const header = page.getByTestId('sort-node');
      const node = header.getByRole('button');
      assert.equal(await header.getAttribute('aria-sort'), 'ascending');
      let order = (await rowOrder(page)).filter((id) => id === c.nodeId || id === NODE_B);
      assert.deepEqual(order, [c.nodeId, NODE_B]);

      await node.click();
      await page.waitForSelector('[data-testid="sort-node"][aria-sort="descending"]');
      order = (await rowOrder(page)).filter((id) => id === c.nodeId || id === NODE_B);
      assert.deepEqual(order, [NODE_B, c.nodeId], 'descending by node id');
      assert.match(new URL(page.url()).search, /sort=node&dir=desc/);

      // Another column: the first click sorts by it and leaves the node column unsorted.
      await page.getByTestId('sort-cameras').getByRole('button').click();
      await page.waitForSelector('[data-testid="sort-cameras"][aria-sort="descending"]');
      assert.equal(await header.getAttribute('aria-sort'), 'none');

      // Keyboard: focus the node header's button and press Enter twice (ascending, descending).
      await header.getByRole('button').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-testid="sort-node"][aria-sort="ascending"]');
      order = (await rowOrder(page)).filter((id) => id === c.nodeId || id === NODE_B);
      assert.deepEqual(order, [c.nodeId, NODE_B], 'ascending by node id');
    });

    test('fleet: the text filter hides the other node, the state filter hides online ones; a row shows its cameras', async () => {
      const filter = page.getByLabel('Filter', { exact: true });
      await filter.fill('node-b');
      await page.waitForSelector(`${row(c.nodeId)}`, { state: 'detached' });
      assert.deepEqual(await rowOrder(page), [NODE_B]);
      assert.equal(await page.getByTestId('fleet-shown').getAttribute('data-shown'), '1');

      // A camera id matches too.
      await filter.fill(c.cameraId);
      await page.waitForSelector(row(c.nodeId));
      await page.waitForSelector(row(NODE_B), { state: 'detached' });

      // The filter is in the URL: a reload keeps it.
      await filter.fill(NODE_B);
      await page.waitForSelector(row(c.nodeId), { state: 'detached' });
      await page.reload();
      await page.waitForSelector(row(NODE_B));
      assert.equal(await page.getByLabel('Filter', { exact: true }).inputValue(), NODE_B);
      assert.equal(await page.locator(row(c.nodeId)).count(), 0);

      // Expanded: the camera with codec, resolution and frame rate, linked to its page.
      const expand = page.locator(`${row(NODE_B)} [data-testid="node-expand"]`);
      assert.equal(await expand.getAttribute('aria-expanded'), 'false');
      await expand.click();
      const detail = page.locator(
        `[data-testid="node-detail"][data-node-id="${NODE_B}"] [data-testid="camera-detail"][data-camera-id="${CAMERA_B}"]`,
      );
      await detail.waitFor();
      assert.equal(await expand.getAttribute('aria-expanded'), 'true');
      assert.equal((await detail.getByTestId('camera-resolution').textContent())?.trim(), '160×90');
      assert.match((await detail.getByTestId('camera-fps').textContent()) ?? '', /^5/);
      assert.match((await detail.getByTestId('camera-codec').textContent()) ?? '', /\S/);
      assert.equal(
        await detail.getByRole('link').first().getAttribute('href'),
        `/cameras/${encodeURIComponent(CAMERA_B)}`,
      );
      await c.screenshot(page, 'fleet-expanded');

      // State filter: nothing is offline yet.
      await page.getByLabel('Filter', { exact: true }).fill('');
      await page.getByLabel('State').selectOption('offline');
      await page.getByTestId('fleet-empty').waitFor();
      assert.equal(await page.getByTestId('node-row').count(), 0);
      await page.getByRole('button', { name: 'Clear filter' }).click();
      await page.waitForSelector(row(c.nodeId));
      await page.waitForSelector(row(NODE_B));
      assert.deepEqual(errors, []);
    });

    test('alerts: a new event and a node going offline raise the count live; acknowledged ones stay so', async () => {
      // The earlier pages' events raised alerts too: acknowledged, so the count starts at 0; the
      // built-in rules without their waits, so the alerts come at once.
      assert.equal((await c.admin.postJson('/api/alerts/ack', {})).status, 200);
      await tuneBuiltIn(c, 'detections', { cooldownS: 0 });
      await tuneBuiltIn(c, 'node-offline', { afterS: 0 });
      await page.goto(c.dashboardUrl);
      await page.waitForSelector('[data-testid="live-indicator"][data-state="live"]');
      const bell = page.getByTestId('alerts-bell');
      await page.waitForSelector(countIs(0));

      const eventId = await c.publishEvent({
        type: 'motion',
        startedAt: new Date(),
        durationMs: 2_000,
        score: 0.8,
      });
      // Its start and end were both pushed: one alert per event.
      await page.waitForSelector(countIs(1), { timeout: 10_000 });
      // The cue: the count pulses.
      assert.match((await page.getByTestId('alerts-count').getAttribute('class')) ?? '', /alerts-pulse/);
      assert.match((await bell.getAttribute('aria-label')) ?? '', /1 unacknowledged/);

      await bell.click();
      const panel = page.getByRole('dialog', { name: 'Alerts' });
      await panel.waitFor();
      const item = panel.locator(
        `[data-testid="alert-item"][data-kind="detection"]:has(a[href="/events/${eventId}"])`,
      );
      await item.waitFor();
      const alertId = await item.getAttribute('data-alert-id');
      assert.equal(await item.getAttribute('data-acked'), 'false');
      assert.match((await item.textContent()) ?? '', new RegExp(`${c.eventCameraId}.*motion`));
      await c.screenshot(page, 'fleet-alerts');

      await item.getByRole('button', { name: /^Acknowledge/ }).click();
      await page.waitForSelector(countIs(0));
      assert.equal(await item.getAttribute('data-acked'), 'true');

      // Escape closes the panel and gives the focus back to the bell.
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'detached' });
      assert.equal(await page.evaluate('document.activeElement?.dataset.testid'), 'alerts-bell');

      // The master keeps the acknowledgement: a reload shows the alert, acknowledged.
      await page.reload();
      await page.waitForSelector('[data-testid="live-indicator"][data-state="live"]');
      await page.waitForSelector(countIs(0));
      await bell.focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector(`[data-testid="alert-item"][data-alert-id="${alertId}"][data-acked="true"]`);
      await page.keyboard.press('Escape');

      // The second node dies: an offline alert, and the row follows.
      await agentB.kill('SIGKILL');
      await page.waitForSelector(row(NODE_B, 'offline'), { timeout: 15_000 }).catch((err: Error) => {
        throw new Error(`${err.message}\n${c.diagnostics()}`);
      });
      await page.waitForSelector(countIs(1), { timeout: 10_000 });
      await bell.click();
      const offline = page.locator(
        `[data-testid="alert-item"][data-kind="node_offline"][data-acked="false"]`,
      );
      await offline.waitFor();
      assert.match((await offline.textContent()) ?? '', new RegExp(NODE_B));
      assert.equal(await offline.getByRole('link').getAttribute('href'), `/?q=${encodeURIComponent(NODE_B)}`);
      // Newest first.
      assert.equal(
        await page.locator('[data-testid="alert-item"]').first().getAttribute('data-kind'),
        'node_offline',
      );
      await c.screenshot(page, 'fleet-alerts-offline');

      // Its link shows the fleet filtered to the node.
      await offline.getByRole('link').click();
      await page.waitForURL(/\?q=e2e-dash-node-b$/);
      await page.waitForSelector(row(NODE_B, 'offline'));
      assert.equal(await page.locator(row(c.nodeId)).count(), 0);

      await page.getByTestId('alerts-bell').click();
      await page.getByTestId('alerts-ack-all').click();
      await page.waitForSelector(countIs(0));
      assert.deepEqual(errors, []);
    });

    test('security: a node claiming another node’s camera rings the admins’ bell, not a viewer’s', async () => {
      const viewer = await c.user('alerts.viewer', 'viewer');
      const viewerCtx = await c.context(viewer);
      const viewerPage = await viewerCtx.newPage();
      try {
        await page.goto(c.dashboardUrl);
        await viewerPage.goto(c.dashboardUrl);
        for (const p of [page, viewerPage]) {
          await p.waitForSelector('[data-testid="live-indicator"][data-state="live"]');
          await p.waitForSelector(countIs(0));
        }
        // The test's own node names the agent's camera in its hello.
        await c.claimCamera(c.cameraId);
        await page.waitForSelector(countIs(1), { timeout: 15_000 }).catch(async (err: Error) => {
          const alerts = await c.admin.getJson<unknown>('/api/alerts?kind=security');
          const count = await page.locator('[data-testid="alerts-count"]').getAttribute('data-count');
          throw new Error(`${err.message}\nalerts: ${JSON.stringify(alerts)}\nbell count: ${count}`);
        });
        await page.getByTestId('alerts-bell').click();
        const item = page.locator('[data-testid="alert-item"][data-kind="security"][data-acked="false"]');
        await item.waitFor();
        assert.match(
          (await item.textContent()) ?? '',
          new RegExp(`node ${c.eventNodeId} claimed camera ${c.cameraId}, which belongs to node ${c.nodeId}`),
        );
        await c.screenshot(page, 'fleet-alerts-security');
        // Acknowledged here, acknowledged on the master (for every admin).
        await item.getByRole('button', { name: /^Acknowledge/ }).click();
        await page.waitForSelector(countIs(0));
        const kept = await c.admin.getJson<AlertPage>('/api/alerts?kind=security');
        const claim = kept.alerts.find((a) => a.message.startsWith('camera_claim'));
        assert.equal(claim?.acknowledgedBy, 'admin', JSON.stringify(kept));
        assert.equal(kept.unacknowledged, 0);
        // The camera stayed its owner's; the viewer heard nothing of it.
        const cams = await c.admin.getJson<{ id: string; nodeId: string }[]>('/api/cameras');
        assert.equal(cams.find((x) => x.id === c.cameraId)?.nodeId, c.nodeId);
        await viewerPage.waitForTimeout(2500);
        assert.equal(await viewerPage.locator(countIs(0)).count(), 1);
        assert.deepEqual(errors, []);
      } finally {
        await viewerCtx.close();
      }
    });
  });
}
