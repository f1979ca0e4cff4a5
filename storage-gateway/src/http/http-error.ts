import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError } from '../gateway-error.ts';

/** Every error answer has this shape, whatever produced it. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function sendError(
  reply: FastifyReply,
  statusCode: number,
  code: string,
  message: string,
): FastifyReply {
  const body: ErrorBody = { error: { code, message } };
  return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
}

/**
 * The one place a refusal becomes a reply: its status and code, `Retry-After` when it says when
 * to come back, and for a 401 the scheme to authenticate with (`realm`).
 */
export function sendGatewayError(
  reply: FastifyReply,
  err: GatewayError,
  realm = 'cctv-gateway',
): FastifyReply {
  if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS));
  if (err.statusCode === 401) reply.header('www-authenticate', `Bearer realm="${realm}"`);
  return sendError(reply, err.statusCode, err.code, err.message);
}

/** A token of RFC 9110 (a type, a subtype, a parameter name). */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^\\s*${TOKEN}/${TOKEN}\\s*(;.*)?$`);

/** Whether a `content-type` value has the `type/subtype` shape fastify can parse. */
export const isMediaType = (value: string) => MEDIA_TYPE.test(value);

/**
 * The code of a request the route's schema refused, the same the handler would give: a bad
 * camera id, a bad name, a bad range, bad headers. Always a 400, never a 500.
 */
export function validationCode(err: Pick<FastifyError, 'validation' | 'validationContext'>): string {
  const first = err.validation?.[0];
  const field =
    first?.instancePath.split('/')[1] ?? (first?.params as { missingProperty?: string })?.missingProperty;
  switch (err.validationContext) {
    case 'params':
      return field === 'camera' ? 'bad_camera' : 'bad_name';
    case 'querystring':
      return 'bad_range';
    case 'headers':
      return 'bad_headers';
    default:
      return 'bad_request';
  }
}

/**
 * Maps what a handler throws to JSON: a schema's refusal (400 with the route's own code), a
 * `GatewayError`, fastify's own errors (summarised), anything else (500, logged).
 */
export function installErrorMapping(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err.validation) return sendError(reply, 400, validationCode(err), err.message);
    if (err instanceof GatewayError) {
      if (err.statusCode >= 500) request.log.error({ err }, 'request failed');
      return sendGatewayError(reply, err);
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="cctv-gateway"');
    if (status >= 500) request.log.error({ err }, 'request failed');
    // Other errors with a snake_case code keep it; fastify's own (FST_ERR_*) are summarised.
    const own = err.code && /^[a-z][a-z0-9_]*$/.test(err.code) ? err.code : null;
    const code = own ?? (status >= 500 ? 'internal' : 'bad_request');
    return sendError(reply, status, code, own || status < 500 ? err.message : 'internal error');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
}
