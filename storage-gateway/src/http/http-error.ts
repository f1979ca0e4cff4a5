import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

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

/** A token of RFC 9110 (a type, a subtype, a parameter name). */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^\\s*${TOKEN}/${TOKEN}\\s*(;.*)?$`);

/** Whether a `content-type` value has the `type/subtype` shape fastify can parse. */
export const isMediaType = (value: string) => MEDIA_TYPE.test(value);

/** Maps thrown errors (typed errors with a `code` and `statusCode`, fastify's own) to JSON. */
export function installErrorMapping(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { retryAfterS?: number }, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (typeof err.retryAfterS === 'number') reply.header('retry-after', String(err.retryAfterS));
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="cctv-gateway"');
    if (status >= 500) request.log.error({ err }, 'request failed');
    // Our typed errors carry snake_case codes; fastify's own (FST_ERR_*) are summarised.
    const own = err.code && /^[a-z][a-z0-9_]*$/.test(err.code) ? err.code : null;
    const code = own ?? (status >= 500 ? 'internal' : 'bad_request');
    const message = own || status < 500 ? err.message : 'internal error';
    return sendError(reply, status, code, message);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
}
