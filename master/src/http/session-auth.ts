/**
 * Authentication of API and websocket requests, default-deny. The decision is made on the route
 * fastify matched (its URL pattern and config, after the router decoded the path), never on the
 * raw URL: every route needs a session unless it says `config: { public: true }`, and a path no
 * route matches needs one as well (an anonymous client gets 401, not a hint that it exists).
 *
 * The session token comes from the `cctv_session` cookie (dashboards: httpOnly,
 * SameSite=Strict, so scripts cannot read it and other sites cannot send it) or an
 * `Authorization: Bearer` header (scripts, other services). A state-changing request or a
 * websocket upgrade carrying an `Origin` outside the allowed origins (the dashboard's public
 * URL by default) is refused before anything else: browsers send cookies with websocket
 * upgrades from any page.
 *
 * A session of a user whose role needs a second factor they have not enabled yet
 * (`MASTER_REQUIRE_2FA`) reaches only the routes marked `config: { enrolment: true }` (who am I,
 * sign out, TOTP setup); everything else, websockets included, answers 403
 * `TOTP_ENROLMENT_REQUIRED` until the user enables TOTP.
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
    /** The session of the request's token; set with `user`. */
    sessionId: string | null;
    /** The user's second factor; set with `user`. */
    totp: { enabled: boolean; enrolmentRequired: boolean } | null;
  }
  interface FastifyContextConfig {
    /** Served without a session (sign-in, health, metrics). Everything else needs one. */
    public?: boolean;
    /** Served to a session that must set up its second factor first (see above). */
    enrolment?: boolean;
  }
}

export const SESSION_COOKIE = 'cctv_session';

export interface SessionAuthOptions {
  accounts: Pick<UserAccounts, 'authenticate'>;
  metrics: MasterMetrics;
  /** Origins (`scheme://host:port`) whose pages may change things and open websockets. */
  allowedOrigins: readonly string[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

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
  app.decorateRequest('sessionId', null);
  app.decorateRequest('totp', null);
  const allowed = new Set(opts.allowedOrigins);
  app.addHook('onRequest', async (req, reply) => {
    const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
    // Requests without Origin come from no web page (scripts, the dashboard's server).
    const origin = req.headers.origin;
    if (origin !== undefined && (upgrade || !SAFE_METHODS.has(req.method)) && !allowed.has(origin)) {
      opts.metrics.httpRefused.inc({ reason: 'origin' });
      return reply.code(403).send(errorBody('ORIGIN_REFUSED', `origin ${origin} is not allowed`));
    }
    const route = req.routeOptions;
    if (route.config?.public === true) return;
    // A CORS preflight carries no credentials; the CORS plugin answers it with headers only.
    if (req.method === 'OPTIONS' && !upgrade) return;
    const token = tokenOf(req);
    const found = token ? await opts.accounts.authenticate(token) : null;
    if (!found) {
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
    if (found.totpEnrolmentRequired && route.config?.enrolment !== true) {
      opts.metrics.httpRefused.inc({ reason: 'totp_enrolment' });
      return reply
        .code(403)
        .send(
          errorBody(
            'TOTP_ENROLMENT_REQUIRED',
            'your role needs a second factor: set up TOTP first (POST /api/auth/totp/setup)',
          ),
        );
    }
    req.user = found.user;
    req.sessionId = found.sessionId;
    req.totp = { enabled: found.totpEnabled, enrolmentRequired: found.totpEnrolmentRequired };
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
