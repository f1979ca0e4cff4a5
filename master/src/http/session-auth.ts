/**
 * Authentication of API and websocket requests. The session token comes from the
 * `cctv_session` cookie (dashboards: httpOnly, SameSite=Strict, so scripts cannot read it and
 * other sites cannot send it) or an `Authorization: Bearer` header (scripts, other services).
 * Every `/api/*` route and `/ws` need one, except the login itself; `/healthz` and `/metrics`
 * stay open for probes and Prometheus. A websocket from a browser page of an origin outside
 * `MASTER_CORS_ORIGINS` is refused as well.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { SessionUser } from '@cctv/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { UserAccounts } from '../auth/accounts.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user; set on every authenticated route. */
    user: SessionUser | null;
  }
}

export const SESSION_COOKIE = 'cctv_session';
const PUBLIC = new Set(['/api/auth/login']);

export interface SessionAuthOptions {
  accounts: UserAccounts;
  metrics: MasterMetrics;
  corsOrigins: string[] | true;
}

/** The value of one cookie in a `Cookie` header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? null : value;
  }
  return null;
}

export function sessionCookie(token: string, maxAgeS: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeS}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

function tokenOf(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim() || null;
  return readCookie(req.headers.cookie, SESSION_COOKIE);
}

/** The server `buildHttpServer` makes (fastify with a pino logger instance). */
type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;

export function installSessionAuth(app: App, opts: SessionAuthOptions): void {
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const socket = path === '/ws' || path === '/ws/live';
    const guarded = socket || path.startsWith('/api/');
    if (!guarded || PUBLIC.has(path)) return;
    // Browsers send cookies with a websocket upgrade from any page: only allowed origins may.
    if (socket && opts.corsOrigins !== true) {
      const origin = req.headers.origin;
      if (origin && !opts.corsOrigins.includes(origin)) {
        opts.metrics.httpRefused.inc({ reason: 'origin' });
        return reply.code(403).send(errorBody('ORIGIN_REFUSED', `origin ${origin} is not allowed`));
      }
    }
    const token = tokenOf(req);
    const user = token ? await opts.accounts.authenticate(token) : null;
    if (!user) {
      opts.metrics.httpRefused.inc({ reason: token ? 'invalid_session' : 'no_session' });
      return reply
        .code(401)
        .send(
          errorBody(
            'UNAUTHENTICATED',
            token ? 'the session has ended or is invalid: sign in again' : 'sign in first',
          ),
        );
    }
    req.user = user;
  });
}

/** The signed-in user of a guarded route (the hook has refused the request otherwise). */
export function userOf(req: FastifyRequest): SessionUser {
  if (!req.user) throw new Error(`route ${req.url} is not behind session authentication`);
  return req.user;
}

/** Answers 403 and counts it; for use as `return forbid(reply, ...)`. */
export function forbid(reply: FastifyReply, metrics: MasterMetrics, reason: string, message: string) {
  metrics.httpRefused.inc({ reason });
  return reply.code(403).send(errorBody('FORBIDDEN', message));
}
