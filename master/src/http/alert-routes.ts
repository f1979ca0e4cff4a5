/**
 * Alerts (`/api/alerts`: every signed-in user, each seeing the alerts of their cameras; security
 * and certificate alerts to admins only), alert rules and the delivery outbox (admins). Every
 * change is audited; rules are validated by the protocol schema and then for what a schema
 * cannot say (a time zone, a channel that exists).
 */
import { randomBytes } from 'node:crypto';
import type {
  AlertAckRequest,
  AlertChannelIdParams,
  AlertChannelInput,
  AlertDeliveryIdParams,
  AlertDeliveryQuery,
  AlertIdParams,
  AlertQuery,
  AlertRuleIdParams,
  AlertRuleInput,
  SessionUser,
} from '@cctv/protocol';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AlertEngine } from '../alerts/alert-engine.ts';
import { type AlertRuleRepository, ruleInputProblem, toRuleView } from '../alerts/alert-rules.ts';
import { type Alert, type AlertStore, toAlertView, userSeesAlert } from '../alerts/alert-store.ts';
import { type ChannelRepository, toChannelView } from '../alerts/channels.ts';
import type { DeliveryLog } from '../alerts/outbox.ts';
import { hasRole } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface AlertRouteDeps {
  store: AlertStore;
  rules: AlertRuleRepository;
  engine: Pick<AlertEngine, 'reloadRules'>;
  deliveries: DeliveryLog;
  channels: ChannelRepository;
  /** A channel was added, changed or removed (MQTT connections follow). */
  onChannelsChanged: () => Promise<void>;
  /** Sends a test notification through a channel now. */
  testChannel: (channelId: string, by: string) => Promise<{ ok: boolean; error: string | null }>;
  /** An alert changed (acknowledged): pushed to the dashboards that see it. */
  onChange: (alert: Alert) => void;
  /** Security alerts acknowledged here: their security-alert records are acknowledged too. */
  acknowledgeSecurity: (ids: bigint[], username: string) => Promise<void>;
  ruleNames: () => Promise<Map<string, string>>;
  audit: AuditLog;
  metrics: MasterMetrics;
}

export const alertRoutes: FastifyPluginAsync<AlertRouteDeps> = async (app, deps) => {
  const adminOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!hasRole(userOf(req), 'admin')) return forbid(reply, deps.metrics, 'role', 'only admins may do this');
  };
  const record = (
    req: FastifyRequest,
    user: SessionUser,
    action: Parameters<AuditLog['record']>[0]['action'],
    detail: Record<string, unknown>,
    target: { nodeId?: string | null; cameraId?: string | null } = {},
  ) =>
    deps.audit.record({
      action,
      userId: user.id,
      username: user.username,
      nodeId: target.nodeId ?? null,
      cameraId: target.cameraId ?? null,
      ip: req.ip,
      detail,
    });

  const acknowledged = async (alerts: Alert[], user: SessionUser) => {
    const ids = alerts.flatMap((a) => {
      const id = (a.detail as { securityAlertId?: string } | null)?.securityAlertId;
      return a.kind === 'security' && id && /^[0-9]{1,18}$/.test(id) ? [BigInt(id)] : [];
    });
    if (ids.length > 0) await deps.acknowledgeSecurity(ids, user.username);
  };
  const channelIds = async () => new Set((await deps.channels.list()).map((c) => c.id));

  app.get<{ Querystring: AlertQuery }>('/api/alerts', routeOf('alerts'), async (req) => {
    const q = req.query;
    return deps.store.list(
      userOf(req),
      {
        ...(q.state ? { state: q.state } : {}),
        ...(q.acknowledged !== undefined ? { acknowledged: q.acknowledged } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.severity ? { severity: q.severity } : {}),
        ...(q.node ? { nodeId: q.node } : {}),
        ...(q.camera ? { cameraId: q.camera } : {}),
        ...(q.cursor ? { beforeId: BigInt(q.cursor) } : {}),
        limit: q.limit,
      },
      await deps.ruleNames(),
    );
  });

  app.post<{ Params: AlertIdParams }>('/api/alerts/:id/ack', routeOf('alertAck'), async (req, reply) => {
    const user = userOf(req);
    const id = BigInt(req.params.id);
    const found = await deps.store.get(id);
    // Another user's camera: as unknown as a missing one.
    if (!found || !userSeesAlert(user, found))
      return reply.code(404).send(errorBody('UNKNOWN_ALERT', `alert ${req.params.id} is unknown`));
    const [acked] = await deps.store.acknowledge(user, [id]);
    const alert = acked ?? found;
    if (acked) {
      await acknowledged([acked], user);
      await record(req, user, 'alert_ack', { alerts: [alert.id.toString()], kind: alert.kind }, alert);
      deps.onChange(alert);
    }
    return toAlertView(alert, await deps.ruleNames());
  });

  app.post<{ Body: AlertAckRequest }>('/api/alerts/ack', routeOf('alertsAck'), async (req) => {
    const user = userOf(req);
    const ids = req.body.ids ? req.body.ids.map((i) => BigInt(i)) : null;
    const acked = await deps.store.acknowledge(user, ids);
    if (acked.length > 0) {
      await acknowledged(acked, user);
      await record(req, user, 'alert_ack', {
        alerts: acked.slice(0, 100).map((a) => a.id.toString()),
        count: acked.length,
        all: ids === null,
      });
      for (const a of acked) deps.onChange(a);
    }
    return { acknowledged: acked.length };
  });

  app.get('/api/alert-rules', { ...routeOf('alertRules'), onRequest: adminOnly }, async () =>
    (await deps.rules.list()).map(toRuleView),
  );

  app.post<{ Body: AlertRuleInput }>(
    '/api/alert-rules',
    { ...routeOf('alertRuleCreate'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const problem = ruleInputProblem(req.body, await channelIds());
      if (problem) return reply.code(400).send(errorBody('BAD_RULE', problem));
      const rule = await deps.rules.create(`rule-${randomBytes(5).toString('hex')}`, req.body, user.username);
      await deps.engine.reloadRules();
      await record(req, user, 'alert_rule_create', { rule: rule.id, name: rule.name, kind: rule.kind });
      return reply.code(201).send(toRuleView(rule));
    },
  );

  app.put<{ Params: AlertRuleIdParams; Body: AlertRuleInput }>(
    '/api/alert-rules/:id',
    { ...routeOf('alertRuleUpdate'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const known = await deps.rules.get(req.params.id);
      if (!known) return reply.code(404).send(errorBody('UNKNOWN_RULE', `rule ${req.params.id} is unknown`));
      if (known.kind !== req.body.params.kind)
        return reply
          .code(409)
          .send(
            errorBody(
              'KIND_CHANGED',
              `rule ${known.id} is a ${known.kind} rule; add a new rule for another kind`,
            ),
          );
      const problem = ruleInputProblem(req.body, await channelIds());
      if (problem) return reply.code(400).send(errorBody('BAD_RULE', problem));
      const rule = await deps.rules.update(known.id, req.body);
      if (!rule) return reply.code(404).send(errorBody('UNKNOWN_RULE', `rule ${req.params.id} is unknown`));
      await deps.engine.reloadRules();
      await record(req, user, 'alert_rule_update', {
        rule: rule.id,
        name: rule.name,
        kind: rule.kind,
        enabled: rule.enabled,
      });
      return toRuleView(rule);
    },
  );

  app.delete<{ Params: AlertRuleIdParams }>(
    '/api/alert-rules/:id',
    { ...routeOf('alertRuleDelete'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const known = await deps.rules.get(req.params.id);
      if (!known) return reply.code(404).send(errorBody('UNKNOWN_RULE', `rule ${req.params.id} is unknown`));
      if (known.builtIn)
        return reply
          .code(409)
          .send(errorBody('BUILT_IN_RULE', `rule ${known.id} is built in: disable it instead`));
      await deps.rules.delete(known.id);
      await deps.engine.reloadRules();
      await record(req, user, 'alert_rule_delete', { rule: known.id, name: known.name, kind: known.kind });
      return reply.code(204).send();
    },
  );

  app.get('/api/alert-channels', { ...routeOf('alertChannels'), onRequest: adminOnly }, async () =>
    (await deps.channels.list()).map(toChannelView),
  );

  app.post<{ Body: AlertChannelInput }>(
    '/api/alert-channels',
    { ...routeOf('alertChannelCreate'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const problem = deps.channels.problem(req.body, null);
      if (problem) return reply.code(400).send(errorBody('BAD_CHANNEL', problem));
      const channel = await deps.channels.create(
        `ch-${randomBytes(5).toString('hex')}`,
        req.body,
        user.username,
      );
      await deps.onChannelsChanged();
      await record(req, user, 'alert_channel_create', {
        channel: channel.id,
        name: channel.name,
        kind: channel.kind,
      });
      return reply.code(201).send(toChannelView(channel));
    },
  );

  app.put<{ Params: AlertChannelIdParams; Body: AlertChannelInput }>(
    '/api/alert-channels/:id',
    { ...routeOf('alertChannelUpdate'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const saved = await deps.channels.get(req.params.id);
      if (!saved)
        return reply.code(404).send(errorBody('UNKNOWN_CHANNEL', `channel ${req.params.id} is unknown`));
      if (saved.kind !== req.body.kind)
        return reply
          .code(409)
          .send(
            errorBody(
              'KIND_CHANGED',
              `channel ${saved.id} is a ${saved.kind} channel; add a new one instead`,
            ),
          );
      const problem = deps.channels.problem(req.body, saved);
      if (problem) return reply.code(400).send(errorBody('BAD_CHANNEL', problem));
      const channel = await deps.channels.update(saved, req.body);
      await deps.onChannelsChanged();
      await record(req, user, 'alert_channel_update', {
        channel: channel.id,
        name: channel.name,
        kind: channel.kind,
        enabled: channel.enabled,
        secretChanged: channel.secret !== saved.secret,
      });
      return toChannelView(channel);
    },
  );

  app.delete<{ Params: AlertChannelIdParams }>(
    '/api/alert-channels/:id',
    { ...routeOf('alertChannelDelete'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const saved = await deps.channels.get(req.params.id);
      if (!saved)
        return reply.code(404).send(errorBody('UNKNOWN_CHANNEL', `channel ${req.params.id} is unknown`));
      await deps.channels.delete(saved.id);
      await deps.rules.forgetChannel(saved.id);
      await deps.engine.reloadRules();
      await deps.onChannelsChanged();
      await record(req, user, 'alert_channel_delete', {
        channel: saved.id,
        name: saved.name,
        kind: saved.kind,
      });
      return reply.code(204).send();
    },
  );

  app.post<{ Params: AlertChannelIdParams }>(
    '/api/alert-channels/:id/test',
    { ...routeOf('alertChannelTest'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const saved = await deps.channels.get(req.params.id);
      if (!saved)
        return reply.code(404).send(errorBody('UNKNOWN_CHANNEL', `channel ${req.params.id} is unknown`));
      const result = await deps.testChannel(saved.id, user.username);
      await record(req, user, 'alert_channel_test', { channel: saved.id, kind: saved.kind, ok: result.ok });
      return result;
    },
  );

  app.get<{ Querystring: AlertDeliveryQuery }>(
    '/api/alert-deliveries',
    { ...routeOf('alertDeliveries'), onRequest: adminOnly },
    async (req) =>
      deps.deliveries.list({
        ...(req.query.state ? { state: req.query.state } : {}),
        ...(req.query.cursor ? { beforeId: BigInt(req.query.cursor) } : {}),
        limit: req.query.limit,
      }),
  );

  app.post<{ Params: AlertDeliveryIdParams }>(
    '/api/alert-deliveries/:id/retry',
    { ...routeOf('alertDeliveryRetry'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const result = await deps.deliveries.retry(BigInt(req.params.id));
      if (result === 'unknown')
        return reply.code(404).send(errorBody('UNKNOWN_DELIVERY', `delivery ${req.params.id} is unknown`));
      if (result === 'not_dead')
        return reply
          .code(409)
          .send(errorBody('NOT_DEAD', `delivery ${req.params.id} is not in the dead-letter list`));
      await record(req, user, 'alert_delivery_retry', {
        delivery: result.id,
        alert: result.alertId,
        channel: result.channelId,
      });
      return result;
    },
  );
};
