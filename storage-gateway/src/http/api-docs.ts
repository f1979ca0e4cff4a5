/**
 * The gateway's OpenAPI document (`/api/docs/json`) and its UI (`/api/docs`), made from the route
 * schemas in `@cctv/protocol/gateway-routes`.
 *
 * Not public. The gateway has no user sessions: uploads carry a node's token, reads a grant the
 * master signed for one camera and range, `/metrics` the ops token. The document is for the
 * people who run and integrate the gateway, the same people who hold the ops token
 * (`GATEWAY_METRICS_TOKEN`), so it asks for that token, from every peer, loopback included (unlike
 * `/metrics`, the docs are not scraped from the host). A node token or a grant would open them
 * to every camera host or every dashboard viewer. Without a token configured, nobody gets them.
 * The token is taken as `Authorization: Bearer <token>`, or as the password of Basic
 * authentication so that a browser can open the UI (it asks once and sends it with the UI's
 * own requests).
 */
import { GATEWAY_SECURITY, gatewayPaths } from '@cctv/protocol/gateway-routes';
import { type MetricsAccess, metricsVerdict } from '@cctv/tls';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './http-error.ts';

export interface ApiDocsOptions {
  /** The ops token (`GATEWAY_METRICS_TOKEN`); the docs are refused to all without one. */
  access: MetricsAccess | undefined;
}

/** The token as a bearer credential: Basic's password is taken as the token. */
function bearerOf(authorization: string | undefined): string | undefined {
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization ?? '');
  if (!basic?.[1]) return authorization;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  return `Bearer ${decoded.slice(decoded.indexOf(':') + 1)}`;
}

async function requireOpsToken(
  access: MetricsAccess | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (!access?.token)
    return sendError(reply, 403, 'docs_unavailable', 'the API docs need GATEWAY_METRICS_TOKEN to be set');
  const verdict = metricsVerdict(
    { token: access.token, loopback: 'required' },
    request.socket.remoteAddress,
    bearerOf(request.headers.authorization),
  );
  if (verdict === 'token') return;
  reply.header('www-authenticate', 'Basic realm="cctv-gateway-docs", Bearer realm="cctv-gateway-docs"');
  return sendError(reply, 401, 'unauthenticated', 'the API docs need the ops token (GATEWAY_METRICS_TOKEN)');
}

/** Registers the document; call before any route, so that every route is in it. */
export async function installApiDocs(app: FastifyInstance, opts: ApiDocsOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'CCTV storage gateway',
        version: '1',
        description:
          'Segment and snapshot uploads by nodes, footage reads under master-signed grants ' +
          '(`/v1/g/<grant>/…`), health and metrics. Errors are `{"error":{"code","message"}}`.',
      },
      components: {
        securitySchemes: {
          [GATEWAY_SECURITY.upload]: {
            type: 'http',
            scheme: 'bearer',
            description: "the node's upload token, with x-cctv-node naming the node",
          },
          [GATEWAY_SECURITY.ops]: { type: 'http', scheme: 'bearer', description: 'GATEWAY_METRICS_TOKEN' },
        },
      },
    },
    // Upload bodies are streamed to disk, never parsed: fastify must not see a body schema, so
    // the contract keeps it apart and only the document shows it.
    transform: ({ schema, url }) => {
      if (!schema) return { schema, url };
      const { 'x-raw-body': body, ...rest } = schema as Record<string, unknown>;
      return { schema: body ? { ...rest, body } : rest, url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: gatewayPaths.docs(),
    // The UI's own policy on its own routes only (hashes of its inline scripts); helmet's
    // `default-src 'none'` stays on everything else.
    staticCSP: true,
    uiHooks: { onRequest: async (request, reply) => requireOpsToken(opts.access, request, reply) },
  });
}
