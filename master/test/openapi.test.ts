/**
 * Every route of the master has a contract (protocol's `masterRoutes`): the server refuses to
 * start with a route registered without one, the OpenAPI document lists every route with all its
 * answers and is valid, it is served only to a signed-in user, and answers carry only the fields
 * their schema declares.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { masterRoutes, type RouteContract } from '@cctv/protocol';
import Fastify from 'fastify';
import { launchChromium } from '../../test/support/browser.ts';
import { checkRouteContract, routeSchema } from '../src/http/route-schema.ts';
import { type EventHarness, startEventHarness } from './event-harness.ts';

type OpenApiDoc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        responses?: Record<string, unknown>;
        parameters?: { in: string }[];
        requestBody?: unknown;
        security?: unknown[];
      }
    >
  >;
};

const contracts = Object.entries(masterRoutes) as [string, RouteContract][];
/** `/api/nodes/:id` as OpenAPI writes it: `/api/nodes/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

describe('route contracts and the OpenAPI document', () => {
  let h: EventHarness;
  let doc: OpenApiDoc;

  before(async () => {
    h = await startEventHarness('http://gw.test:8090');
    const res = await h.fetch('/api/docs/json');
    assert.equal(res.status, 200, await res.clone().text());
    doc = (await res.json()) as OpenApiDoc;
  });

  it('refuses to register a route without its contract', () => {
    assert.throws(
      () => checkRouteContract({ method: 'GET', url: '/api/unknown', schema: {} }),
      /no contract/,
    );
    // The right URL, but schemas of its own instead of the contract's.
    assert.throws(
      () => checkRouteContract({ method: 'GET', url: '/api/nodes', schema: { response: { 200: {} } } }),
      /not registered with its contract/,
    );
    assert.throws(
      () =>
        checkRouteContract({
          method: 'GET',
          url: '/api/nodes',
          schema: routeSchema(masterRoutes.nodes),
          config: { public: true },
        }),
      /public is true/,
    );
    assert.doesNotThrow(() =>
      checkRouteContract({
        method: 'GET',
        url: '/api/nodes',
        schema: routeSchema(masterRoutes.nodes),
        config: {},
      }),
    );
  });

  it('gives every route answers for each status, and request schemas where it takes any', () => {
    for (const [name, c] of contracts) {
      if (c.websocket) continue;
      assert.ok(Object.keys(c.response).length > 0, `${name}: no response schema`);
      assert.ok(
        Object.keys(c.response).some((s) => Number(s) >= 200 && Number(s) < 300),
        `${name}: no success answer`,
      );
      if (!c.public) for (const s of [401, 403]) assert.ok(c.response[s], `${name}: no ${s} answer`);
      if (c.params || c.querystring || c.body) assert.ok(c.response[400], `${name}: no 400 answer`);
      if (c.url.includes('/:')) assert.ok(c.params, `${name}: params without a schema`);
    }
  });

  it('documents every route, and the document is valid OpenAPI', async () => {
    await SwaggerParser.validate(structuredClone(doc) as never);
    assert.match(doc.openapi, /^3\./);
    let documented = 0;
    for (const [name, c] of contracts) {
      const op = doc.paths[openApiPath(c.url)]?.[c.method.toLowerCase()];
      if (c.websocket) {
        assert.equal(op, undefined, `${name}: websockets are left out of the document`);
        continue;
      }
      assert.ok(op, `${name}: ${c.method} ${c.url} is not in the document`);
      assert.deepEqual(
        Object.keys(op.responses ?? {}).sort(),
        Object.keys(c.response).sort(),
        `${name}: documented answers`,
      );
      if (c.params || c.querystring) assert.ok(op.parameters?.length, `${name}: parameters`);
      if (c.body) assert.ok(op.requestBody, `${name}: request body`);
      if (c.public) assert.deepEqual(op.security, [], `${name}: public, needs no session`);
      documented += 1;
    }
    // Nothing is documented that has no contract (the documents' own routes are hidden).
    const operations = Object.values(doc.paths).flatMap((p) => Object.keys(p));
    assert.equal(operations.length, documented);
  });

  it('serves the documents only to a signed-in user, with a CSP of their own', async () => {
    for (const path of ['/api/docs/json', '/api/docs', '/api/docs/static/swagger-initializer.js'])
      assert.equal((await fetch(h.api(path))).status, 401, path);
    const ui = await h.fetch('/api/docs');
    assert.equal(ui.status, 200);
    const csp = ui.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
    const script = await h.fetch('/api/docs/static/swagger-initializer.js');
    assert.equal(script.status, 200);
    // The rest of the API keeps its own policy, which loads nothing.
    const api = (await h.fetch('/api/auth/me')).headers.get('content-security-policy') ?? '';
    assert.match(api, /default-src 'none'/);
    assert.doesNotMatch(api, /connect-src/);
  });

  it("shows every route in the UI, nothing of it blocked by the UI's policy", async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext();
      const [name, value] = h.session.cookie.split('=');
      await context.addCookies([{ name: name ?? '', value: value ?? '', url: h.api('/') }]);
      const page = await context.newPage();
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' && /script|Content Security Policy/i.test(m.text())) blocked.push(m.text());
      });
      page.on('pageerror', (err) => blocked.push(String(err)));
      await page.goto(h.api('/api/docs'));
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      const shown = await page.locator('.opblock').count();
      assert.equal(shown, contracts.filter(([, c]) => !c.websocket).length);
      assert.deepEqual(blocked, []);
    } finally {
      await browser.close();
    }
  });

  it('sends only the fields an answer declares', async () => {
    const users = await h.session.getJson<Record<string, unknown>[]>('/api/users');
    assert.ok(users.length > 0);
    for (const u of users) {
      assert.deepEqual(Object.keys(u).sort(), [
        'cameras',
        'createdAt',
        'disabled',
        'id',
        'lastLoginAt',
        'role',
        'totpEnabled',
        'username',
      ]);
    }
    // A handler that returned a row with secrets still sends only the declared fields.
    const app = Fastify();
    app.get('/api/users', { schema: routeSchema(masterRoutes.users) }, async () => [
      { ...users[0], passwordHash: 'scrypt$x', totpSecret: 'JBSWY3DP' },
    ]);
    const res = await app.inject({ method: 'GET', url: '/api/users' });
    const body = res.json() as Record<string, unknown>[];
    assert.equal(body[0]?.passwordHash, undefined);
    assert.equal(body[0]?.totpSecret, undefined);
    assert.equal(body[0]?.username, users[0]?.username);
    await app.close();
  });

  it('refuses a bad parameter with a 400 naming it, keeping the route codes', async () => {
    const bad = async (path: string, init?: RequestInit) => {
      const res = await h.fetch(path, init);
      return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
    };
    assert.deepEqual(await bad('/api/nodes/Bad_Id'), { status: 400, code: 'BAD_NODE_ID' });
    assert.deepEqual(await bad('/api/nodes/n1/history?limit=0'), { status: 400, code: 'BAD_QUERY' });
    assert.deepEqual(await bad('/api/nodes/n1/history?limit=abc'), { status: 400, code: 'BAD_QUERY' });
    assert.deepEqual(await bad('/api/nodes/n1/history?limit=1001'), { status: 400, code: 'BAD_QUERY' });
    assert.deepEqual(await bad('/api/nodes/nobody'), { status: 404, code: 'UNKNOWN_NODE' });
    assert.deepEqual(await bad('/api/exports/not-a-uuid'), { status: 400, code: 'FST_ERR_VALIDATION' });
    assert.deepEqual(
      await bad('/api/me/settings/wall', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ layout: 5, tiles: [] }),
      }),
      { status: 400, code: 'BAD_SETTING' },
    );
  });
});
