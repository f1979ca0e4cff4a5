import { gatewayRoutes } from '@cctv/protocol/gateway-routes';
import { type MetricsAccess, metricsAllowed, metricsVerdict } from '@cctv/tls';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { sendError } from './http-error.ts';
import { fromContract } from './route-contract.ts';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  [detail: string]: unknown;
}

export interface OpsRoutesOptions {
  registry: Registry;
  health: () => Promise<HealthReport>;
  /** Who may read `/metrics`; public when absent. */
  metricsAccess?: MetricsAccess;
  /** A `/metrics` request refused for want of the token (`missing`) or with a wrong one. */
  onMetricsRefused?: (reason: 'missing' | 'wrong') => void;
}

/**
 * `/healthz` (503 only when the gateway cannot acknowledge uploads) and `/metrics` (a bearer
 * token from non-loopback peers when `GATEWAY_METRICS_TOKEN` is set).
 */
export async function opsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): Promise<void> {
  app.route({
    ...fromContract(gatewayRoutes.health),
    handler: async (_request, reply) => {
      const report = await opts.health();
      return reply.code(report.status === 'down' ? 503 : 200).send(report);
    },
  });
  app.route({
    ...fromContract(gatewayRoutes.metrics),
    handler: async (request, reply) => {
      const verdict = metricsVerdict(
        opts.metricsAccess ?? { token: null, loopback: 'exempt' },
        request.socket.remoteAddress,
        request.headers.authorization,
      );
      if (!metricsAllowed(verdict)) {
        opts.onMetricsRefused?.(verdict === 'missing' ? 'missing' : 'wrong');
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        return sendError(reply, 401, 'unauthenticated', 'metrics need a bearer token');
      }
      return reply.type(opts.registry.contentType).send(await opts.registry.metrics());
    },
  });
}
