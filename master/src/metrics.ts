import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** The master's Prometheus metrics, one registry per process (tests may build several). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
      help: 'Publishes refused by the broker ACL (a client outside its own topic prefix)',
      registers: [registry],
    }),
    mqttClients: new Gauge({
      name: 'cctv_mqtt_clients',
      help: 'Clients connected to the embedded broker',
      registers: [registry],
    }),
    nodes: new Gauge({
      name: 'cctv_nodes',
      help: 'Known nodes by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    wsClients: new Gauge({
      name: 'cctv_ws_clients',
      help: 'Dashboard websocket clients connected',
      registers: [registry],
    }),
  };
}

export type MasterMetrics = ReturnType<typeof createMetrics>;
