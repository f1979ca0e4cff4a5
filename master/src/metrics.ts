import { registerDefaultMetrics } from '@cctv/tls/service-metrics';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The master's Prometheus metrics, one registry per process (tests may build several). */
export function createMetrics() {
  const registry = new Registry();
  registerDefaultMetrics(registry);
  return {
    registry,
    mqttMessages: new Counter({
      name: 'cctv_mqtt_messages_total',
      help: 'MQTT messages from nodes accepted by the master, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    mqttRejected: new Counter({
      name: 'cctv_mqtt_messages_rejected_total',
      help: 'MQTT messages from nodes rejected by the master, by kind and reason',
      labelNames: ['kind', 'reason'] as const,
      registers: [registry],
    }),
    mqttPublishRefused: new Counter({
      name: 'cctv_mqtt_publish_refused_total',
      help: 'Publishes refused by the broker ACL, by reason (see master/README.md)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    mqttSubscribeRefused: new Counter({
      name: 'cctv_mqtt_subscribe_refused_total',
      help: 'Subscriptions refused by the broker ACL (granted QoS 128), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    mqttAuthFailures: new Counter({
      name: 'cctv_master_mqtt_auth_failures_total',
      help: 'MQTT logins refused by the embedded broker, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    mqttClients: new Gauge({
      name: 'cctv_mqtt_clients',
      help: 'Clients connected to the embedded broker',
      registers: [registry],
    }),
    // embedded broker limits before and after login (mqtt/connection-gate.ts, master/README.md)
    mqttConnectionsRefused: new Counter({
      name: 'cctv_mqtt_connections_refused_total',
      help: 'Sockets closed at accept by the embedded broker, by limit (max_connections, max_per_address, max_pending_per_address)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    mqttConnectDeadlines: new Counter({
      name: 'cctv_mqtt_connect_deadline_expired_total',
      help: 'Sockets closed for not logging in within MQTT_CONNECT_TIMEOUT_MS, by stage (connect, authentication)',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    mqttPacketsRefused: new Counter({
      name: 'cctv_mqtt_packets_refused_total',
      help: 'Connections closed for a packet declared too large, by reason (too_large, connect_too_large, bad_length)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    mqttSockets: new Gauge({
      name: 'cctv_mqtt_sockets',
      help: 'Open sockets of the embedded broker, by state (pending: not logged in yet, authenticated)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    mqttSessionTakeovers: new Counter({
      name: 'cctv_mqtt_session_takeovers_total',
      help: 'Logins that replaced a connected client with the same client id, by identity kind (node, service, anonymous)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    nodes: new Gauge({
      name: 'cctv_nodes',
      help: 'Known nodes by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    heartbeatBatchSize: new Histogram({
      name: 'cctv_heartbeat_batch_size',
      help: 'Heartbeats written per batch (the newest per node since the last flush)',
      buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000],
      registers: [registry],
    }),
    dbLatency: new Histogram({
      name: 'cctv_db_write_seconds',
      help: 'Database write latency by operation',
      labelNames: ['op'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    clusterNotifications: new Counter({
      name: 'cctv_master_cluster_notifications_total',
      help: 'Notifications between masters (LISTEN/NOTIFY), by kind and result (sent, invalid)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'cctv_master_leader',
      help: '1 while this master is the one that judges stale nodes and alert conditions',
      registers: [registry],
    }),
    exportTakeovers: new Counter({
      name: 'cctv_export_takeovers_total',
      help: 'Export jobs taken over from a master that stopped renewing its claim',
      registers: [registry],
    }),
    wsClients: new Gauge({
      name: 'cctv_ws_clients',
      help: 'Dashboard websocket clients connected',
      registers: [registry],
    }),
    storedHeartbeatsInvalid: new Counter({
      name: 'cctv_stored_heartbeats_invalid_total',
      help: 'Stored heartbeats that failed the schema when read back (served as null)',
      registers: [registry],
    }),
    eventsIngested: new Counter({
      name: 'cctv_events_ingested_total',
      help: 'Event messages written to the database (re-deliveries included), by type and phase',
      labelNames: ['type', 'phase'] as const,
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: 'cctv_events_dropped_total',
      help: 'Valid event messages never stored: queue full (overload) or the database kept failing',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    eventQueueDepth: new Gauge({
      name: 'cctv_event_queue_depth',
      help: 'Event messages waiting to be written',
      registers: [registry],
    }),
    eventBatchSize: new Histogram({
      name: 'cctv_event_batch_size',
      help: 'Event messages per database write',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500],
      registers: [registry],
    }),
    eventInsertSeconds: new Histogram({
      name: 'cctv_event_insert_seconds',
      help: 'Duration of one batched event write',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    httpBadRequests: new Counter({
      name: 'cctv_http_bad_requests_total',
      help: 'API requests refused with 400, by route and reason',
      labelNames: ['route', 'reason'] as const,
      registers: [registry],
    }),
    logins: new Counter({
      name: 'cctv_logins_total',
      help: 'Login attempts by result (ok, bad_credentials, totp_required, bad_second_factor, rate_limited)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    httpRefused: new Counter({
      name: 'cctv_http_refused_total',
      help: 'API requests refused with 401 or 403, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    installTokensRefused: new Counter({
      name: 'cctv_install_tokens_refused_total',
      help: 'Install tokens refused at /install/check, /install/enrol and the status route, by reason (unknown, used, expired, throttled, bad_node_token)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    auditEntries: new Counter({
      name: 'cctv_audit_entries_total',
      help: 'Audit log entries written, by action',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    exports: new Counter({
      name: 'cctv_exports_total',
      help: 'MP4 exports finished, by state (done, failed)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    liveSessions: new Gauge({
      name: 'cctv_live_sessions',
      help: 'WebRTC live sessions signalled through this master and not yet closed',
      registers: [registry],
    }),
    liveRequests: new Counter({
      name: 'cctv_live_requests_total',
      help: 'Live socket requests by type (offer, candidates, close, jsmpeg) and result (ok, or an error code)',
      labelNames: ['type', 'result'] as const,
      registers: [registry],
    }),
    alertsChanged: new Counter({
      name: 'cctv_alerts_total',
      help: 'Alerts raised, repeated or acknowledged (state open) and resolved, by kind',
      labelNames: ['kind', 'state'] as const,
      registers: [registry],
    }),
    alertDeliveries: new Counter({
      name: 'cctv_alert_deliveries_total',
      help: 'Alert sends by channel kind (webhook, email, mqtt) and result (delivered, retry, dead)',
      labelNames: ['channel', 'result'] as const,
      registers: [registry],
    }),
    nodeCommands: new Counter({
      name: 'cctv_node_commands_total',
      help: 'Commands sent to nodes, by command and result (ok, error, timeout)',
      labelNames: ['command', 'result'] as const,
      registers: [registry],
    }),
    configPushes: new Counter({
      name: 'cctv_config_pushes_total',
      help: 'Desired configurations pushed to nodes, by result (applied, refused, timeout, error)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    // clock/clock-gauge.ts: set from heartbeats
    nodeClockOffset: new Gauge({
      name: 'cctv_node_clock_offset_seconds',
      help: "A node's clock minus the master's, from its latest heartbeat (positive: the node is ahead)",
      labelNames: ['node'] as const,
      registers: [registry],
    }),
  };
}

export type MasterMetrics = ReturnType<typeof createMetrics>;
