/**
 * The desired configuration's API (docs/adr/0015): cameras added, changed and removed per node,
 * each change a new version pushed to the node at once or when it returns, and a node's versions
 * with rollback. Admins may do everything; operators may add cameras when they have every
 * camera, and change the cameras they have. Passwords are write-only: no answer, log line or
 * audit row carries one.
 */
import {
  type CameraChangeAnswer,
  type CameraCreateRequest,
  type CameraIdParams,
  type CameraSettingsInput,
  type CameraSettingsView,
  type CameraSpec,
  type ConfigRollbackRequest,
  type NodeIdParams,
  type NodeView,
  type SessionUser,
  validators,
} from '@cctv/protocol';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { canSeeCamera, hasRole, seesAllCameras } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import { redactUrl, splitPassword } from '../config/camera-url.ts';
import {
  ConfigConflictError,
  type ConfigStore,
  type DesiredConfig,
  type StoredCamera,
} from '../config/config-store.ts';
import type { ConfigSync } from '../config/config-sync.ts';
import type { FleetReads } from '../fleet/node-repository.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf, schemaErrorsAs } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface ConfigRouteDeps {
  store: ConfigStore;
  sync: Pick<ConfigSync, 'push'>;
  registry: Pick<FleetReads, 'get' | 'list' | 'camera'>;
  audit: AuditLog;
  metrics: MasterMetrics;
}

/** Schemes a camera source may use from the dashboard (the agent also takes local devices). */
const STREAM_SCHEMES = ['rtsp:', 'rtsps:', 'http:', 'https:'];

function view(nodeId: string, c: StoredCamera, passwords: Map<string, string>): CameraSettingsView {
  const s = c.spec;
  return {
    id: s.id,
    nodeId,
    name: s.name,
    url: s.url,
    substreamUrl: s.substreamUrl ?? null,
    transports: s.transports ?? null,
    record: s.record ?? null,
    enabled: s.enabled !== false,
    detect: s.detect ?? null,
    retentionDays: c.retentionDays ?? null,
    hasPassword: (passwords.get(s.id) ?? '') !== '',
    version: c.changedIn,
  };
}

/** Problems of a camera's settings beyond the schema: where its URLs point. */
function urlProblems(input: { url: string; substreamUrl?: string | undefined }): string | null {
  for (const [key, value] of [
    ['url', input.url],
    ['substreamUrl', input.substreamUrl],
  ] as const) {
    if (value === undefined) continue;
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      return `${key} is not a URL: ${redactUrl(value)}`;
    }
    if (!STREAM_SCHEMES.includes(u.protocol))
      return `${key}: use ${STREAM_SCHEMES.map((s) => `${s}//`).join(', ')} (local devices are set in the node's file)`;
    if (u.hostname === '') return `${key} names no host`;
  }
  return null;
}

/** The spec to keep (no password in it) and the password from the input or the URLs. */
function specOf(
  id: string,
  input: CameraSettingsInput,
  saved: string,
): { spec: CameraSpec; password: string; retention: { retentionDays?: number } } {
  const main = splitPassword(input.url);
  const sub = input.substreamUrl ? splitPassword(input.substreamUrl) : null;
  const password = input.password ?? (main.password || sub?.password || saved);
  const spec: CameraSpec = {
    id,
    name: input.name,
    url: main.url,
    ...(sub ? { substreamUrl: sub.url } : {}),
    ...(input.transports ? { transports: input.transports } : {}),
    ...(input.record ? { record: input.record } : {}),
    ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    ...(input.detect ? { detect: input.detect } : {}),
  };
  const retention = input.retentionDays !== undefined ? { retentionDays: input.retentionDays } : {};
  return { spec, password, retention };
}

/** What changed, for the audit row: field names, never values of secrets. */
function changedFields(before: CameraSpec | null, after: CameraSpec | null, passwordChanged: boolean) {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changed = [...keys].filter(
    (k) =>
      JSON.stringify((before as Record<string, unknown> | null)?.[k]) !==
      JSON.stringify((after as Record<string, unknown> | null)?.[k]),
  );
  return passwordChanged ? [...changed, 'password'] : changed;
}

export const configRoutes: FastifyPluginAsync<ConfigRouteDeps> = async (app, deps) => {
  const denied = (reply: FastifyReply, message: string) => forbid(reply, deps.metrics, 'role', message);
  const unknownNode = (reply: FastifyReply, id: string) =>
    reply.code(404).send(errorBody('UNKNOWN_NODE', `node ${id} is unknown`));
  const unknownCamera = (reply: FastifyReply, id: string) =>
    reply.code(404).send(errorBody('UNKNOWN_CAMERA', `no node's configuration has camera ${id}`));

  /**
   * Writes the next version, pushes it, audits it (`detail` plus the version and the push's
   * outcome), and answers with the camera's view (null once gone).
   */
  async function change(c: {
    user: SessionUser;
    ip: string;
    node: NodeView;
    previous: DesiredConfig | null;
    cameras: StoredCamera[];
    passwords: Map<string, string>;
    action: 'camera_create' | 'camera_update' | 'camera_delete' | 'config_rollback';
    note: string;
    cameraId: string | null;
    detail: Record<string, unknown>;
  }): Promise<CameraChangeAnswer> {
    const next = await deps.store.write(
      c.node.id,
      c.previous?.version ?? 0,
      c.cameras,
      c.passwords,
      { userId: c.user.id, username: c.user.username },
      c.note,
    );
    const push = await deps.sync.push(next, c.node.state !== 'offline');
    const cam = c.cameraId ? next.cameras.find((x) => x.spec.id === c.cameraId) : undefined;
    await deps.audit.record({
      action: c.action,
      userId: c.user.id,
      username: c.user.username,
      ...(c.cameraId ? { cameraId: c.cameraId } : {}),
      nodeId: c.node.id,
      ip: c.ip,
      detail: { ...c.detail, version: next.version, push: push.state },
    });
    return {
      camera: cam ? view(c.node.id, cam, next.passwords) : null,
      nodeId: c.node.id,
      version: next.version,
      push,
    };
  }

  const conflictAs = async (reply: FastifyReply, work: () => Promise<unknown>) => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ConfigConflictError) return reply.code(409).send(errorBody(err.code, err.message));
      throw err;
    }
  };

  app.get('/api/config/cameras', routeOf('cameraSettings'), async (req) => {
    const user = userOf(req);
    if (!hasRole(user, 'operator')) return { cameras: [], nodes: [] };
    const [configs, nodes] = await Promise.all([deps.store.allLatest(), deps.registry.list()]);
    const cameras = configs.flatMap((c) =>
      c.cameras
        .filter((cam) => canSeeCamera(user, cam.spec.id))
        .map((cam) => view(c.nodeId, cam, c.passwords)),
    );
    const targets = seesAllCameras(user)
      ? nodes
          .filter((n) => n.config.mode !== 'file')
          .map((n) => ({ id: n.id, state: n.state, config: n.config }))
      : [];
    return { cameras, nodes: targets };
  });

  app.post<{ Body: CameraCreateRequest }>(
    '/api/config/cameras',
    { ...routeOf('cameraCreate'), schemaErrorFormatter: schemaErrorsAs({}) },
    async (req, reply) => {
      const user = userOf(req);
      const body = req.body;
      if (!hasRole(user, 'operator') || !seesAllCameras(user))
        return denied(reply, 'adding a camera needs an admin, or an operator with every camera');
      const problem = urlProblems(body);
      if (problem) return reply.code(400).send(errorBody('BAD_URL', problem));
      const node = await deps.registry.get(body.nodeId);
      if (!node) return unknownNode(reply, body.nodeId);
      if (node.config.mode === 'file')
        return reply
          .code(409)
          .send(
            errorBody(
              'FILE_MANAGED',
              `node ${node.id} is file-managed: its cameras are listed in its own config file (management: file)`,
            ),
          );
      const owner = await deps.registry.camera(body.id);
      const elsewhere = await deps.store.findCamera(body.id);
      if ((owner && owner.nodeId !== node.id) || elsewhere)
        return reply
          .code(409)
          .send(
            errorBody(
              'CAMERA_EXISTS',
              `camera id ${body.id} is in use${owner ? ` on node ${owner.nodeId}` : ''}`,
            ),
          );
      const { id, nodeId: _node, ...settings } = body;
      const { spec, password, retention } = specOf(id, settings, '');
      if (!validators.cameraSpec.check(spec))
        return reply.code(400).send(errorBody('BAD_CAMERA', 'the camera settings are invalid'));
      return conflictAs(reply, async () => {
        const previous = await deps.store.latest(node.id);
        const version = (previous?.version ?? 0) + 1;
        const passwords = new Map(previous?.passwords ?? []);
        if (password !== '') passwords.set(id, password);
        const answer = await change({
          user,
          ip: req.ip,
          node,
          previous,
          cameras: [...(previous?.cameras ?? []), { spec, changedIn: version, ...retention }],
          passwords,
          action: 'camera_create',
          note: `camera_create ${id}`,
          cameraId: id,
          detail: { name: spec.name, url: spec.url, password: password !== '', ...retention },
        });
        return reply.code(201).send(answer);
      });
    },
  );

  app.put<{ Params: CameraIdParams; Body: CameraSettingsInput }>(
    '/api/config/cameras/:id',
    { ...routeOf('cameraUpdate'), schemaErrorFormatter: schemaErrorsAs({ 'params/id': 'BAD_CAMERA_ID' }) },
    async (req, reply) => {
      const user = userOf(req);
      const id = req.params.id;
      if (!hasRole(user, 'operator') || !canSeeCamera(user, id))
        return denied(reply, 'changing a camera needs an admin, or an operator who has the camera');
      const problem = urlProblems(req.body);
      if (problem) return reply.code(400).send(errorBody('BAD_URL', problem));
      return conflictAs(reply, async () => {
        const found = await deps.store.findCamera(id);
        if (!found) return unknownCamera(reply, id);
        const { config, cam } = found;
        const node = await deps.registry.get(config.nodeId);
        if (!node) return unknownNode(reply, config.nodeId);
        const saved = config.passwords.get(id) ?? '';
        const { spec, password, retention } = specOf(id, req.body, saved);
        if (!validators.cameraSpec.check(spec))
          return reply.code(400).send(errorBody('BAD_CAMERA', 'the camera settings are invalid'));
        const fields = changedFields(cam.spec, spec, password !== saved);
        if (cam.retentionDays !== retention.retentionDays) fields.push('retentionDays');
        if (fields.length === 0)
          return {
            camera: view(node.id, cam, config.passwords),
            nodeId: node.id,
            version: config.version,
            push: {
              state: node.config.appliedVersion === config.version ? 'applied' : 'queued',
              reason: null,
            },
          } satisfies CameraChangeAnswer;
        const version = config.version + 1;
        const passwords = new Map(config.passwords);
        if (password === '') passwords.delete(id);
        else passwords.set(id, password);
        return change({
          user,
          ip: req.ip,
          node,
          previous: config,
          cameras: config.cameras.map((c) =>
            c.spec.id === id ? { spec, changedIn: version, ...retention } : c,
          ),
          passwords,
          action: 'camera_update',
          note: `camera_update ${id}`,
          cameraId: id,
          detail: { changed: fields },
        });
      });
    },
  );

  app.delete<{ Params: CameraIdParams }>(
    '/api/config/cameras/:id',
    { ...routeOf('cameraDelete'), schemaErrorFormatter: schemaErrorsAs({ 'params/id': 'BAD_CAMERA_ID' }) },
    async (req, reply) => {
      const user = userOf(req);
      const id = req.params.id;
      if (!hasRole(user, 'admin')) return denied(reply, 'only admins may remove cameras');
      return conflictAs(reply, async () => {
        const found = await deps.store.findCamera(id);
        if (!found) return unknownCamera(reply, id);
        const { config } = found;
        const node = await deps.registry.get(config.nodeId);
        if (!node) return unknownNode(reply, config.nodeId);
        const passwords = new Map(config.passwords);
        passwords.delete(id);
        return change({
          user,
          ip: req.ip,
          node,
          previous: config,
          cameras: config.cameras.filter((c) => c.spec.id !== id),
          passwords,
          action: 'camera_delete',
          note: `camera_delete ${id}`,
          cameraId: id,
          detail: {},
        });
      });
    },
  );

  app.get<{ Params: NodeIdParams }>(
    '/api/config/nodes/:id',
    { ...routeOf('nodeConfig'), schemaErrorFormatter: schemaErrorsAs({ 'params/id': 'BAD_NODE_ID' }) },
    async (req, reply) => {
      if (!hasRole(userOf(req), 'admin')) return denied(reply, "only admins may read a node's configuration");
      const node = await deps.registry.get(req.params.id);
      if (!node) return unknownNode(reply, req.params.id);
      return { nodeId: node.id, config: node.config, versions: await deps.store.versions(node.id) };
    },
  );

  app.post<{ Params: NodeIdParams; Body: ConfigRollbackRequest }>(
    '/api/config/nodes/:id/rollback',
    {
      ...routeOf('nodeConfigRollback'),
      schemaErrorFormatter: schemaErrorsAs({ 'params/id': 'BAD_NODE_ID' }),
    },
    async (req, reply) => {
      const user = userOf(req);
      if (!hasRole(user, 'admin')) return denied(reply, 'only admins may roll a configuration back');
      const node = await deps.registry.get(req.params.id);
      if (!node) return unknownNode(reply, req.params.id);
      return conflictAs(reply, async () => {
        const [target, latest] = await Promise.all([
          deps.store.get(node.id, req.body.version),
          deps.store.latest(node.id),
        ]);
        if (!target || !latest)
          return reply
            .code(404)
            .send(
              errorBody(
                'UNKNOWN_VERSION',
                `node ${node.id} has no configuration version ${req.body.version}`,
              ),
            );
        const version = latest.version + 1;
        const before = new Map(latest.cameras.map((c) => [c.spec.id, c]));
        const cameras = target.cameras.map((c) => {
          const now = before.get(c.spec.id);
          const same =
            now &&
            JSON.stringify(now.spec) === JSON.stringify(c.spec) &&
            now.retentionDays === c.retentionDays &&
            latest.passwords.get(c.spec.id) === target.passwords.get(c.spec.id);
          return same ? now : { ...c, changedIn: version };
        });
        return change({
          user,
          ip: req.ip,
          node,
          previous: latest,
          cameras,
          passwords: new Map(target.passwords),
          action: 'config_rollback',
          note: `rollback to ${target.version}`,
          cameraId: null,
          detail: { to: target.version },
        });
      });
    },
  );
};
