/**
 * The API document: every route the gateway registers has its schemas (answers always, the
 * request where it takes input), the document served at /api/docs/json is valid OpenAPI and
 * lists every route, and it is served only with the ops token; its UI works in Chromium under
 * its own content security policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { gatewayPaths } from '@cctv/protocol/gateway-routes';
import type { RouteOptions } from 'fastify';
import { launchChromium } from '../../test/support/browser.ts';
import { startTestDatabase } from '../../test/support/index.ts';
import { registeredRoutes } from '../src/http/http-server.ts';
import { startGateway } from './gateway-harness.ts';

const OPS_TOKEN = 'ops-token-for-the-api-docs';
const db = await startTestDatabase();
const gw = await startGateway(db, { GATEWAY_METRICS_TOKEN: OPS_TOKEN });

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
}

const hidden = (route: RouteOptions) => (route.schema as { hide?: boolean } | undefined)?.hide === true;
/** The gateway's own routes: not the docs' pages, not CORS preflights, not fastify's HEAD twins. */
const ownRoutes = () =>
  registeredRoutes(gw.gateway.http).filter(
    (r) => !hidden(r) && r.method !== 'OPTIONS' && !(r.method === 'HEAD' && r.exposeHeadRoute === undefined),
  );
const methods = (route: RouteOptions) => (Array.isArray(route.method) ? route.method : [route.method]);
/** `/v1/g/:grant/vod/:camera.m3u8` → `/v1/g/{grant}/vod/{camera}.m3u8`, as OpenAPI writes it. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');

async function docs(headers: Record<string, string> = {}) {
  return fetch(`${gw.url}${gatewayPaths.docsJson()}`, { headers });
}

describe('API document', () => {
  it('has a schema for every route: every answer, and the request where it takes input', () => {
    const routes = ownRoutes();
    assert.ok(routes.length >= 20, `only ${routes.length} routes seen`);
    for (const route of routes) {
      const name = `${methods(route).join('|')} ${route.url}`;
      const schema = route.schema as Record<string, unknown> | undefined;
      assert.ok(schema, `${name} has no schema`);
      const response = schema.response as Record<string, unknown> | undefined;
      assert.ok(response && Object.keys(response).length > 0, `${name} has no response schemas`);
      for (const status of Object.keys(response)) assert.match(status, /^[1-5]\d\d$/, `${name}: ${status}`);
      const codes = Object.keys(response).map(Number);
      assert.ok(
        codes.some((c) => c >= 400),
        `${name} describes no error answer`,
      );
      if (route.url.includes(':') || route.url.includes('*'))
        assert.ok(schema.params, `${name} takes path parameters but has no params schema`);
      // The catch-all upload paths only refuse (a bad name), whatever the headers say.
      if (methods(route).includes('PUT') && !route.url.endsWith('*')) {
        assert.ok(schema.headers, `${name} reads upload headers but has no headers schema`);
        assert.ok(schema['x-raw-body'], `${name} takes a body the document does not describe`);
      }
      if (route.url.includes('/vod/:')) assert.ok(schema.querystring, `${name} reads from/to`);
    }
  });

  it('is refused without the ops token', async () => {
    const none = await docs();
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /Basic/);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'unauthenticated');
    const wrong = await docs({ authorization: 'Bearer not-the-ops-token-at-all' });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const ui = await fetch(`${gw.url}${gatewayPaths.docs()}`, { redirect: 'manual' });
    assert.equal(ui.status, 401);
    await ui.body?.cancel();
  });

  it('is valid OpenAPI 3 and lists every route', async () => {
    const res = await docs({ authorization: `Bearer ${OPS_TOKEN}` });
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Doc;
    assert.match(doc.openapi, /^3\./);
    await SwaggerParser.validate(structuredClone(doc) as never);
    for (const route of ownRoutes()) {
      const path = doc.paths[openApiPath(route.url)];
      assert.ok(path, `${route.url} is not in the document`);
      for (const method of methods(route))
        assert.ok(path[method.toLowerCase()], `${method} ${route.url} is not in the document`);
    }
  });

  it('opens for a browser with the token as the Basic password, under its own CSP', async () => {
    const basic = `Basic ${Buffer.from(`ops:${OPS_TOKEN}`).toString('base64')}`;
    const json = await docs({ authorization: basic });
    assert.equal(json.status, 200);
    await json.body?.cancel();
    const page = await fetch(`${gw.url}${gatewayPaths.docs()}/static/index.html`, {
      headers: { authorization: basic },
    });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    await page.body?.cancel();
    // Everything else keeps helmet's policy.
    const health = await fetch(`${gw.url}${gatewayPaths.health()}`);
    assert.match(health.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    await health.body?.cancel();
  });

  it("shows every route in the UI, its scripts allowed by the UI's own policy", async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ httpCredentials: { username: 'ops', password: OPS_TOKEN } });
      const page = await context.newPage();
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' && /script/i.test(m.text())) blocked.push(m.text());
      });
      page.on('pageerror', (err) => blocked.push(String(err)));
      await page.goto(`${gw.url}${gatewayPaths.docs()}`);
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      assert.ok((await page.locator('.opblock').count()) >= 20);
      assert.deepEqual(blocked, []);
    } finally {
      await browser.close();
    }
  });
});
