/**
 * The master's parts, built and started in the order below; `stop()` closes them in reverse.
 * Over 300 lines on purpose: it is the one list of the parts and of the callbacks between them
 * (metrics, alerts, pushes); what each part does lives in its own folder.
 */
import {
  AdvisoryLeader,
  createPgPool,
  LOCK_KEYS,
  type NotificationChannel,
  SecurityAlertRecorder,
} from '@cctv/db';
import { grantedPath } from '@cctv/protocol';
import { publicMetricsWarning } from '@cctv/tls';
import { registerCertificateExpiry } from '@cctv/tls/service-metrics';
import type { Logger } from 'pino';
import { AlertEngine, type GatewayHealth } from './alerts/alert-engine.ts';
import { AlertRuleRepository } from './alerts/alert-rules.ts';
import { type Alert, AlertStore, toAlertView, userSeesAlert } from './alerts/alert-store.ts';
import { ChannelRepository, ChannelSenders } from './alerts/channels.ts';
import { notificationEvent, testNotification } from './alerts/notifications.ts';
import { DeliveryLog, Outbox, snapshotRange } from './alerts/outbox.ts';
import { accountGuards, UserAccounts } from './auth/accounts.ts';
import { AuditLog } from './auth/audit-log.ts';
import { enrolNode, NodeCredentialRepository } from './auth/node-credentials.ts';
import { loadSessionKeys, SessionTokens } from './auth/session-tokens.ts';
import { UserRepository } from './auth/user-repository.ts';
import { UserSettings } from './auth/user-settings.ts';
import { clockOffsetObserver } from './clock/clock-gauge.ts';
import { attachTimeResponder } from './clock/time-responder.ts';
import { ClusterFeed } from './cluster/cluster-feed.ts';
import { ConfigStore } from './config/config-store.ts';
import { ConfigSync } from './config/config-sync.ts';
import { SecretBox } from './config/secret-box.ts';
import type { MasterConfig } from './config.ts';
import { openDatabase } from './db/database.ts';
import { EventIngest } from './events/event-ingest.ts';
import { EventRepository } from './events/event-repository.ts';
import type { EventRow } from './events/event-view.ts';
import { EventViewer } from './events/event-view.ts';
import { TimelineReader } from './events/timeline.ts';
import { ExportJobs } from './exports/export-jobs.ts';
import { ExportRepository } from './exports/export-repository.ts';
import { coalesced } from './fleet/coalesced.ts';
import { attachFleetIngest } from './fleet/ingest.ts';
import { NodeCommands } from './fleet/node-commands.ts';
import { NodeRepository } from './fleet/node-repository.ts';
import { FleetRegistry } from './fleet/registry.ts';
import { GrantIssuer, SnapshotGrants } from './grants/grant-issuer.ts';
import { loadGrantKey } from './grants/grant-keys.ts';
import { FleetSocketHub } from './http/fleet-socket.ts';
import { buildHttpServer } from './http/server.ts';
import { EnrolmentTokenRepository, EnrolmentTokens } from './install/enrolment-tokens.ts';
import { InstallSite } from './install/install-site.ts';
import { LiveSignalling } from './live/live-signalling.ts';
import { createMetrics } from './metrics.ts';
import { EmbeddedBroker } from './mqtt/broker.ts';
import { brokerSecurity } from './mqtt/broker-security.ts';
import { ExternalBus } from './mqtt/external-bus.ts';
import type { MessageBus } from './mqtt/message-bus.ts';
import { SecurityAlertFeed, SecurityAlertLog } from './security/security-alert-log.ts';

export interface RunningMaster {
  httpPort: number;
  /** The embedded broker's port; 0 with an external broker. */
  mqttPort: number;
  /** The TLS MQTT listener's port; null without one. */
  mqttTlsPort: number | null;
  databaseUrl: string;
  /** The first admin made at this start (empty database), to be shown once; else null. */
  firstAdmin: { username: string; password: string } | null;
  stop(): Promise<void>;
}

/** Starts the master's parts in order; `stop()` closes them in reverse. */
export async function startMaster(config: MasterConfig, log: Logger): Promise<RunningMaster> {
  const metrics = createMetrics();
  registerCertificateExpiry(metrics.registry, {
    https: config.tls?.certFile,
    mqtt: config.security.mqttTls?.certFile,
  });

  // database: external PostgreSQL or the embedded one, migrations applied
  const db = await openDatabase(config, log);
  const repo = new NodeRepository(db.prisma);

  // cluster: several masters on one database (docs/adr/0024). One of them, the leader (an
  // advisory lock), judges stale nodes and alert conditions; what any of them stores reaches
  // every master's dashboards through LISTEN/NOTIFY. A single master is its own leader.
  const clusterLog = log.child({ part: 'cluster' });
  const notifyPool = createPgPool(db.url, 2, (err) =>
    clusterLog.warn({ err: err.message }, 'cluster notify connection lost'),
  );
  const leader = new AdvisoryLeader({
    url: db.url,
    key: LOCK_KEYS.masterLeader,
    onChange: (leads) => {
      metrics.leader.set(leads ? 1 : 0);
      clusterLog.info({ instanceId: config.instanceId }, leads ? 'leading the cluster' : 'no longer leading');
      if (leads) void alertEngine?.resume().catch((err) => clusterLog.warn({ err }, 'alerts not resumed'));
    },
    onError: (err) => clusterLog.warn({ err: err.message }, 'leader connection lost; reconnecting'),
  });
  // Declared before the parts that use them, assigned as they are built.
  let alertEngine: AlertEngine | undefined;
  // node gauge: one count query at a time, however many state changes ask for it meanwhile
  const refreshNodeGauge = coalesced(
    async () => {
      const c = await repo.countByState();
      for (const [state, n] of Object.entries(c)) metrics.nodes.set({ state }, n);
    },
    (err) => log.warn({ err }, 'node gauge refresh failed'),
  );

  // users: accounts, sessions (signed tokens, revocable rows), sign-in throttle, audit log; the first admin
  const audit = new AuditLog(db.prisma, (action) => metrics.auditEntries.inc({ action }));
  const sessionKeys = await loadSessionKeys(db.prisma, {
    configured: config.users.sessionKey,
    file: config.users.sessionKeyFile,
  });
  const accounts = new UserAccounts(
    new UserRepository(db.prisma),
    new SessionTokens(sessionKeys, config.users.sessionTtlS),
    accountGuards(sessionKeys.current.key),
    audit,
    log.child({ part: 'users' }),
    (result) => metrics.logins.inc({ result }),
  );
  accounts.totpRequiredRoles = new Set(config.users.totpRequiredRoles);
  const firstAdmin = await accounts.ensureFirstAdmin(config.users.firstAdminPassword);

  // grants: the key that signs footage grants (the gateway holds only its public half)
  const grants = new GrantIssuer(await loadGrantKey(db.prisma, config.grantKeyFile), config.grantTtlS);
  const eventViewer = new EventViewer(config.gatewayPublicUrl, new SnapshotGrants(grants));

  // security alerts: refused ownership claims, foreign events, session takeovers (and the
  // gateway's foreign uploads, in the same table)
  const securityLog = log.child({ part: 'security' });
  const alerts = new SecurityAlertRecorder(db.prisma, {
    onError: (err) => securityLog.error({ err }, 'security alert not written'),
  });

  // dashboard websocket hub: snapshot on connect, then node changes, events, security alerts
  // API reads (and websocket snapshots) on their own pool, never behind ingest writes
  const fleetLog = log.child({ part: 'fleet' });
  const fleetReads = new NodeRepository(db.reads, (nodeId, error) => {
    metrics.storedHeartbeatsInvalid.inc();
    fleetLog.warn({ nodeId, error }, 'stored heartbeat fails the schema; served as null');
  });
  const hub = new FleetSocketHub(
    () => fleetReads.list(),
    log.child({ part: 'ws' }),
    (n) => metrics.wsClients.set(n),
    (row, user) => eventViewer.view(row, user),
  );
  // node changes of any master: views read here, once per burst, for this master's dashboards
  const changedNodes = new Set<string>();
  const pushNodeViews = coalesced(
    async () => {
      const ids = [...changedNodes];
      changedNodes.clear();
      if (ids.length === 0 || hub.size === 0) return;
      for (const view of await fleetReads.getMany(ids)) hub.nodeChanged(view);
    },
    (err) => fleetLog.warn({ err }, 'node views not pushed'),
  );
  const eventReads = new EventRepository(db.reads);
  const cluster = new ClusterFeed({
    url: db.url,
    pool: notifyPool,
    instanceId: config.instanceId,
    log: clusterLog,
    onInvalid: () => metrics.clusterNotifications.inc({ kind: 'unknown', result: 'invalid' }),
    onSent: (kind) => metrics.clusterNotifications.inc({ kind, result: 'sent' }),
    handlers: {
      nodes: (ids) => {
        if (hub.size === 0) return;
        for (const id of ids) changedNodes.add(id);
        void pushNodeViews();
      },
      events: (ids) => {
        if (hub.size === 0) return;
        eventReads.byIds(ids).then(
          (rows) => hub.eventsStored(rows),
          (err) => fleetLog.warn({ err }, 'events of another master not pushed'),
        );
      },
      alerts: (ids) => {
        if (hub.size === 0) return;
        for (const id of ids)
          alertStore.get(id).then(
            (alert) =>
              alert && hub.alert(toAlertView(alert, ruleNames()), (user) => userSeesAlert(user, alert)),
            (err) => alertLog.warn({ err }, 'alert of another master not pushed'),
          );
      },
      sessionEnded: (id) => {
        hub.closeSession(id, 'signed out');
        live.closeSignedOut(id, 'signed out');
      },
      userSessionsEnded: (id) => {
        hub.closeUser(id, 'session ended');
        live.closeUser(id, 'session ended');
      },
      exportQueued: () => exportJobs?.queued(),
      reload: (what) => {
        const done = what === 'rules' ? (alertEngine?.reloadRules() ?? Promise.resolve()) : syncChannels();
        done.catch((err) => alertLog.warn({ err, what }, 'alert settings not read again'));
      },
      resync: () => {
        fleetReads.list().then(
          (nodes) => {
            for (const n of nodes) hub.nodeChanged(n);
          },
          (err) => fleetLog.warn({ err }, 'fleet not pushed after the cluster feed came back'),
        );
      },
    },
  });
  await leader.start();
  let exportJobs: ExportJobs | undefined;
  const ruleNames = () => alertEngine?.ruleNames ?? new Map<string, string>();

  // repeated sign-in failures: a security alert (one row per few minutes, counted up)
  accounts.onThrottled = (username, address, retryAfterS) =>
    alerts.raise({
      kind: 'sign_in_failures',
      source: 'master',
      address,
      message: `sign-ins as ${username} from ${address} held back for ${retryAfterS} s after repeated failures`,
      detail: { username },
    });
  // closed here at once, and on every other master through the feed
  accounts.onSessionsEnded = (userId) => {
    hub.closeUser(userId, 'session ended');
    live.closeUser(userId, 'session ended');
    cluster.userSessionsEnded(userId);
  };
  accounts.onSessionEnded = (sessionId) => {
    hub.closeSession(sessionId, 'signed out');
    live.closeSignedOut(sessionId, 'signed out');
    cluster.sessionEnded(sessionId);
  };
  const securityAlertLog = new SecurityAlertLog(db.reads);
  const alertFeed = new SecurityAlertFeed({
    log: securityAlertLog,
    wanted: () => hub.adminConnected,
    push: (alert) => hub.securityAlert(alert),
    logger: securityLog,
  });
  alertFeed.start();
  // alerts: rules judged on stored events and, every few seconds, on the fleet, the gateway's
  // health and the certificates; each alert kept in the database, pushed to the dashboards that
  // may see it, and sent through the outbox to the rule's channels
  const alertLog = log.child({ part: 'alerts' });
  // one key seals camera passwords and channel secrets; replicas share its file
  const secretBox = await SecretBox.open(config.cameraKeyFile);
  const channels = new ChannelRepository(db.prisma, secretBox);
  const channelSender = new ChannelSenders({
    log: alertLog.child({ part: 'channels' }),
    timeZone: config.alerts.timeZone,
    onMqttFailure: () => metrics.alertDeliveries.inc({ channel: 'mqtt_state', result: 'retry' }),
  });
  const openChannel = (row: NotificationChannel) => channels.opened(row);
  const syncChannels = async () =>
    channelSender.sync(
      (await channels.list())
        .filter((c) => c.enabled && c.kind === 'mqtt')
        .map((c) => ({ channel: openChannel(c), version: c.updatedAt.getTime() })),
    );
  await syncChannels();
  const alertStore = new AlertStore(db.prisma);
  const alertRules = new AlertRuleRepository(db.prisma);
  const snapshotGrant = async (cameraId: string, event: EventRow, issuedAt?: Date) =>
    (
      await grants.issue({
        userId: 'alert-delivery',
        cameraId,
        scope: 'snapshot',
        ...snapshotRange(event),
        ttlS: config.alerts.snapshotTtlS,
        ...(issuedAt ? { issuedAt } : {}),
      })
    ).token;
  const outbox = new Outbox({
    db: db.prisma,
    sender: channelSender,
    openChannel: (row) => openChannel(row),
    snapshots: {
      url: async (cameraId, ref, event, at) =>
        `${config.gatewayPublicUrl}${grantedPath(await snapshotGrant(cameraId, event, at), ref.image)}`,
      fetch: async (cameraId, ref, event) => {
        const res = await fetch(
          `${config.gatewayUrl}${grantedPath(await snapshotGrant(cameraId, event), ref.image)}`,
          {
            signal: AbortSignal.timeout(10_000),
          },
        );
        if (!res.ok) throw new Error(`snapshot not read from the gateway: HTTP ${res.status}`);
        return Buffer.from(await res.arrayBuffer());
      },
    },
    ruleName: (id) => ruleNames().get(id) ?? null,
    log: alertLog,
    onResult: (kind, result) => metrics.alertDeliveries.inc({ channel: kind, result }),
    retryBaseMs: config.alerts.retryBaseMs,
    retryMaxMs: config.alerts.retryMaxMs,
    maxAttempts: config.alerts.maxAttempts,
  });
  const alertChanged = (alert: Alert) => {
    metrics.alertsChanged.inc({ kind: alert.kind, state: alert.resolvedAt ? 'resolved' : 'open' });
    hub.alert(toAlertView(alert, ruleNames()), (user) => userSeesAlert(user, alert));
    cluster.alertsChanged([alert.id]);
    outbox.kick();
  };
  alertEngine = new AlertEngine({
    store: alertStore,
    rules: alertRules,
    db: db.prisma,
    nodes: () => fleetReads.list(),
    gatewayHealth: async () => {
      try {
        const res = await fetch(`${config.gatewayUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
        return (await res.json()) as GatewayHealth;
      } catch (err) {
        alertLog.debug({ err: (err as Error).message }, 'gateway health not read');
        return null;
      }
    },
    certFiles: [config.tls?.certFile, config.install.caFile].filter((f): f is string => !!f),
    onChange: alertChanged,
    onNodes: (nodes) => channelSender.fleet(nodes),
    log: alertLog,
    intervalMs: config.alerts.evaluateMs,
    judges: () => leader.isLeader,
  });
  await alertEngine.start();
  outbox.start();
  const alertPruner = setInterval(
    () =>
      leader.isLeader &&
      void alertStore
        .prune(new Date(Date.now() - config.alerts.keepDays * 86_400_000))
        .catch((err) => alertLog.warn({ err }, 'old alerts not removed')),
    3600_000,
  );
  alertPruner.unref();

  // fleet registry: node and camera state from status, hello and heartbeat
  const registry = new FleetRegistry(
    repo,
    fleetLog,
    {
      onNodesChanged: (ids) => cluster.nodesChanged(ids),
      judgesStale: () => leader.isLeader,
      onStatesChanged: () => {
        void refreshNodeGauge();
        // A node gone offline or back: judged now, not at the next round.
        void alertEngine?.evaluate();
      },
      onUnknownHeartbeat: (nodeId) => {
        metrics.mqttRejected.inc({ kind: 'heartbeat', reason: 'unknown_node' });
        fleetLog.warn({ nodeId }, 'heartbeat of an unknown node dropped (no status or hello yet)');
      },
      onHeartbeatFlush: (size, ms) => {
        metrics.heartbeatBatchSize.observe(size);
        metrics.dbLatency.observe({ op: 'heartbeats' }, ms / 1000);
      },
      onCameraClaimRefused: (nodeId, { cameraId, ownerNodeId }) => {
        metrics.mqttRejected.inc({ kind: 'hello', reason: 'camera_owned' });
        const message = `node ${nodeId} claimed camera ${cameraId}, which belongs to node ${ownerNodeId}`;
        fleetLog.warn({ nodeId, cameraId, ownerNodeId }, 'camera claim refused');
        alerts.raise({ kind: 'camera_claim', source: 'master', nodeId, cameraId, message });
      },
    },
    undefined,
    config.heartbeatFlushMs,
    config.staleAfterMs,
  );
  // With the embedded broker no session survives a restart: every node is offline until it
  // reconnects. An external broker keeps them (and re-delivers the retained status).
  if (!config.externalMqtt) await registry.resetStates();

  // mqtt: embedded aedes broker (node credentials, ACL, optional TLS), messages routed to the registry
  const credentials = new NodeCredentialRepository(db.prisma);
  const mqttLog = log.child({ part: 'mqtt' });
  const security = await brokerSecurity(config.security, credentials, metrics, mqttLog);
  // mqtt: the embedded aedes broker, or a client of an external broker (MQTT_URL)
  let embedded: EmbeddedBroker | null = null;
  let broker: MessageBus;
  if (config.externalMqtt) {
    broker = new ExternalBus({ ...config.externalMqtt, log: mqttLog });
    mqttLog.info("external broker: node authentication and topic ACLs are the broker's own configuration");
  } else {
    embedded = new EmbeddedBroker({
      host: config.mqttHost,
      port: config.mqttPort,
      log: mqttLog,
      ...security,
      // A second connection with a node's credentials replaced the first (MQTT requires it):
      // counted by `security`, and shown to admins.
      onTakeover: (t) => {
        security.onTakeover?.(t);
        const who = t.identity?.kind === 'node' ? `node ${t.identity.nodeId}` : `client ${t.clientId}`;
        alerts.raise({
          kind: 'session_takeover',
          source: 'master',
          nodeId: t.identity?.kind === 'node' ? t.identity.nodeId : null,
          address: t.address,
          message: `a second MQTT connection as ${who} from ${t.address ?? 'an unknown address'} replaced the one from ${t.previousAddress ?? 'an unknown address'}${t.previousIdleMs !== null ? ` (silent for ${Math.round(t.previousIdleMs / 1000)} s)` : ''}`,
          detail: { previousAddress: t.previousAddress, previousIdleMs: t.previousIdleMs },
        });
      },
      onClientCount: (n) => metrics.mqttClients.set(n),
    });
    broker = embedded;
  }
  await broker.start();
  // commands to nodes: cmd/{name} out, reply/{reqId} back, with a timeout
  const commands = new NodeCommands({
    bus: broker,
    log: log.child({ part: 'commands' }),
    onReplyDropped: (reason) => metrics.mqttRejected.inc({ kind: 'reply', reason }),
  });
  await commands.start();
  // desired configuration: versions in the database (passwords sealed with a key kept in a
  // file), pushed on change and again to any master-managed node whose heartbeat lags behind
  const configStore = new ConfigStore(db.prisma, secretBox);
  const configSync = new ConfigSync({
    store: configStore,
    commands,
    log: log.child({ part: 'config' }),
    onPush: (result) => metrics.configPushes.inc({ result }),
  });
  // clock skew: agents' time requests answered at once; their offsets reach a gauge by heartbeat
  await attachTimeResponder({ bus: broker, metrics, log: log.child({ part: 'clock' }) });
  const observeClock = clockOffsetObserver(metrics.nodeClockOffset);
  await attachFleetIngest(broker, registry, metrics, log.child({ part: 'ingest' }), {
    heartbeat: (nodeId, msg) => {
      configSync.observe(nodeId, msg);
      observeClock(nodeId, msg);
    },
  });
  // events: validated, written in batches idempotently by (id, seq), pushed to dashboards
  const eventRepo = new EventRepository(db.ingest);
  const events = new EventIngest({
    repo: eventRepo,
    metrics,
    log: log.child({ part: 'events' }),
    onStored: (rows) => {
      void hub.eventsStored(rows);
      cluster.eventsStored(rows.map((r) => r.id));
      void alertEngine?.eventsStored(rows);
      for (const row of rows) channelSender.event(notificationEvent(row), row.lastSeq === 0);
    },
    onRefused: ({ item, reason, ownerNodeId }) => {
      const what =
        reason === 'unknown_camera'
          ? `an event for camera ${item.msg.cameraId}, which no node registered`
          : reason === 'camera_mismatch'
            ? `an event for camera ${item.msg.cameraId}, which belongs to node ${ownerNodeId}`
            : `an event with the id of node ${ownerNodeId}'s event ${item.msg.id}`;
      alerts.raise({
        kind: 'foreign_event',
        source: 'master',
        nodeId: item.nodeId,
        cameraId: item.msg.cameraId,
        message: `node ${item.nodeId} sent ${what}`,
        detail: { reason },
      });
    },
  });
  await events.start(broker);

  // exports: MP4s of recorded ranges made with ffmpeg from the gateway's playlists
  const exportRepo = new ExportRepository(db.prisma);
  exportJobs = new ExportJobs({
    repo: exportRepo,
    dir: config.exports.dir,
    instanceId: config.instanceId,
    leaseMs: config.exports.leaseS * 1000,
    maxRunning: config.exports.maxRunning,
    onQueued: () => cluster.exportQueued(),
    onTakeover: () => metrics.exportTakeovers.inc(),
    gatewayUrl: config.gatewayUrl,
    grant: async (job, ttlS) =>
      (
        await grants.issue({
          userId: job.userId,
          cameraId: job.cameraId,
          scope: 'vod',
          from: job.from,
          to: job.to,
          ttlS,
        })
      ).token,
    faceModel: config.faceModel,
    log: log.child({ part: 'exports' }),
    onFinished: (state) => metrics.exports.inc({ state }),
  });
  await exportJobs.start();

  // live: WebRTC signalling and jsmpeg tickets, relayed to agents as commands
  const live = new LiveSignalling({
    commands,
    registry: fleetReads,
    audit,
    metrics,
    ice: config.live.ice,
    maxSessionsPerSocket: config.live.maxSessionsPerSocket,
    offerTimeoutMs: config.live.offerTimeoutMs,
    log: log.child({ part: 'live' }),
  });

  // node enrolment (the API's, the install line's): a new credential, forgotten by the broker's cache
  const enrolNow = async (nodeId: string, rotate: boolean) => {
    const enrolment = await enrolNode(credentials, nodeId, { rotate });
    security.authenticator?.forgetNode(nodeId);
    return enrolment;
  };

  // http: API, metrics and websockets
  const http = await buildHttpServer({
    registry: fleetReads,
    hub,
    live,
    metrics,
    metricsAccess: config.metricsAccess,
    log,
    allowedOrigins: config.allowedOrigins,
    trustProxy: config.trustProxy,
    events: {
      events: new EventRepository(db.reads),
      timeline: new TimelineReader(db.reads),
      metrics,
      viewer: eventViewer,
    },
    ping: async () => {
      await db.prisma.$queryRawUnsafe('SELECT 1');
    },
    tls: config.tls,
    auth: { accounts, audit, metrics, secureCookie: config.users.secureCookie },
    views: { registry: fleetReads, gatewayUrl: config.gatewayPublicUrl, grants, commands },
    security: { alerts: securityAlertLog, registry, commands },
    alerts: {
      store: alertStore,
      rules: alertRules,
      engine: {
        reloadRules: async () => {
          await alertEngine?.reloadRules();
          cluster.reload('rules');
        },
      },
      deliveries: new DeliveryLog(db.prisma, () => outbox.kick()),
      channels,
      onChannelsChanged: async () => {
        await syncChannels();
        cluster.reload('channels');
      },
      testChannel: async (id, by) => {
        const row = await channels.get(id);
        if (!row) return { ok: false, error: 'unknown channel' };
        const result = await channelSender.send(openChannel(row), testNotification(by), async () => null);
        return result.ok ? { ok: true, error: null } : { ok: false, error: result.error };
      },
      onChange: alertChanged,
      acknowledgeSecurity: async (ids, username) => {
        await securityAlertLog.acknowledgeMany(ids, username, new Date());
      },
      ruleNames: async () => new Map(ruleNames()),
    },
    commands: { commands, defaultTimeoutMs: config.commandTimeoutMs },
    config: { store: configStore, sync: configSync },
    exports: { jobs: exportJobs, repo: exportRepo },
    settings: { settings: new UserSettings(db.prisma) },
    credentials: {
      audit,
      metrics,
      enabled: config.security.enrolApi,
      enrol: enrolNow,
      revoke: async (nodeId) => {
        const revoked = await credentials.delete(nodeId);
        security.authenticator?.forgetNode(nodeId);
        // An external broker keeps its own accounts: only the embedded one is told.
        return { revoked, disconnected: revoked ? (embedded?.disconnectNode(nodeId) ?? 0) : 0 };
      },
    },
    // one-line install: install lines with single-use tokens, the CA, the script, releases
    install: {
      site: new InstallSite(config.install),
      tokens: new EnrolmentTokens(new EnrolmentTokenRepository(db.prisma)),
      enrol: (nodeId) => enrolNow(nodeId, true),
      nodeUrls: () => ({
        mqttUrl:
          config.install.nodeMqttUrl ??
          `mqtts://${new URL(config.install.publicUrl).hostname}:${embedded?.tlsPort ?? 8883}`,
        gatewayUrl: config.install.nodeGatewayUrl,
      }),
      uploadTokenHash: (nodeId) => credentials.uploadTokenHash(nodeId),
      nodeState: async (nodeId) => {
        const node = await fleetReads.get(nodeId);
        return node && { state: node.state, agentVersion: node.agentVersion };
      },
      onTokenReused: ({ nodeId, tokenId, usedAt, usedFrom, from }) =>
        alerts.raise({
          kind: 'install_token_reused',
          source: 'master',
          nodeId,
          address: from,
          message: `the install line of node ${nodeId}, used at ${usedAt.toISOString()} from ${usedFrom ?? 'an unknown address'}, was run again from ${from}: it may have leaked`,
          detail: { tokenId },
        }),
      audit,
      metrics,
    },
  });
  // Heard from here on: the handlers use every part above (no dashboard is connected before).
  await cluster.start();
  await http.listen({ host: config.httpHost, port: config.httpPort });
  const publicMetrics = publicMetricsWarning(config.metricsAccess, config.httpHost, 'MASTER_METRICS_TOKEN');
  if (publicMetrics) log.warn(publicMetrics);

  const address = http.server.address();
  return {
    httpPort: typeof address === 'object' && address ? address.port : config.httpPort,
    mqttPort: embedded?.port ?? 0,
    mqttTlsPort: embedded?.tlsPort ?? null,
    databaseUrl: db.url,
    firstAdmin,
    async stop() {
      alertFeed.stop();
      clearInterval(alertPruner);
      await alertEngine?.stop();
      await outbox.stop();
      await channelSender.stop();
      hub.closeAll();
      live.closeAll();
      await http.close();
      commands.stop();
      await exportJobs.stop();
      await broker.stop();
      await events.stop();
      await registry.idle();
      await registry.stop();
      await alerts.stop();
      await cluster.stop();
      await leader.stop();
      await notifyPool.end();
      await db.close();
    },
  };
}
