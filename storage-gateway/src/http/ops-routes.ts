import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  [detail: string]: unknown;
}

export interface OpsRoutesOptions {
  registry: Registry;
  health: () => Promise<HealthReport>;
}

/** `/healthz` (503 only when the gateway cannot acknowledge uploads) and `/metrics`. */
export async function opsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): Promise<void> {
  app.get('/healthz', async (_request, reply) => {
    const report = await opts.health();
    return reply.code(report.status === 'down' ? 503 : 200).send(report);
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(opts.registry.contentType).send(await opts.registry.metrics()),
  );
}
