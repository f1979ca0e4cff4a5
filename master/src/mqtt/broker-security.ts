/**
 * Turns the security config into the embedded broker's options: the authenticator (or none
 * with `MQTT_AUTH=off`), the TLS listener, the connection and packet limits, and the callbacks
 * that feed the metrics. `onTakeover` counts: a caller that adds its own (the security alerts)
 * calls this one from it.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { SecurityConfig } from '../auth/security-config.ts';
import type { MasterMetrics } from '../metrics.ts';
import { MqttAuthenticator, type NodeCredentialLookup } from './authenticator.ts';
import type { EmbeddedBrokerOptions } from './broker.ts';

export type BrokerSecurity = Pick<
  EmbeddedBrokerOptions,
  | 'authenticator'
  | 'tls'
  | 'onPublishRefused'
  | 'onSubscribeRefused'
  | 'onAuthFailure'
  | 'limits'
  | 'onConnectionRefused'
  | 'onConnectDeadline'
  | 'onPacketRefused'
  | 'onSocketCount'
  | 'onTakeover'
>;

export async function brokerSecurity(
  config: SecurityConfig,
  credentials: NodeCredentialLookup,
  metrics: MasterMetrics,
  log: Logger,
): Promise<BrokerSecurity> {
  const tls = config.mqttTls && {
    port: config.mqttTls.port,
    host: config.mqttTls.host,
    files: { certFile: config.mqttTls.certFile, keyFile: config.mqttTls.keyFile },
    cert: await readFile(config.mqttTls.certFile),
    key: await readFile(config.mqttTls.keyFile),
  };
  if (config.mqttAuth === 'off')
    log.warn('MQTT_AUTH=off: any client may connect without credentials; use only on a closed test network');
  const authenticator =
    config.mqttAuth === 'required'
      ? new MqttAuthenticator({
          credentials,
          serviceAccounts: config.mqttServiceAccounts,
          cacheTtlMs: config.mqttAuthCacheMs,
          log,
        })
      : undefined;
  return {
    ...(authenticator ? { authenticator } : {}),
    ...(tls ? { tls } : {}),
    onPublishRefused: (_clientId, _topic, reason) => metrics.mqttPublishRefused.inc({ reason }),
    onSubscribeRefused: (_clientId, _filter, reason) => metrics.mqttSubscribeRefused.inc({ reason }),
    onAuthFailure: (_clientId, reason) => metrics.mqttAuthFailures.inc({ reason }),
    limits: config.mqttLimits,
    onConnectionRefused: (reason) => metrics.mqttConnectionsRefused.inc({ reason }),
    onConnectDeadline: (stage) => metrics.mqttConnectDeadlines.inc({ stage }),
    onPacketRefused: (reason) => metrics.mqttPacketsRefused.inc({ reason }),
    onSocketCount: (open, pending) => {
      metrics.mqttSockets.set({ state: 'pending' }, pending);
      metrics.mqttSockets.set({ state: 'authenticated' }, open - pending);
    },
    onTakeover: ({ identity }) => metrics.mqttSessionTakeovers.inc({ kind: identity?.kind ?? 'anonymous' }),
  };
}
