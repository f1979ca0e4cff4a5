/**
 * Sign-in, sign-out, who am I, password changes and the second factor (`/api/auth/*`); user
 * management (`/api/users`, admins). The audit log has its own routes (audit-routes.ts).
 */
import type {
  LoginRequest,
  LogoutQuery,
  PasswordChangeRequest,
  SignedInUser,
  TotpDisableRequest,
  TotpEnableRequest,
  UserCreateRequest,
  UserIdParams,
  UserUpdateRequest,
} from '@cctv/protocol';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { hasRole } from '../auth/access.ts';
import type { Actor, UserAccounts } from '../auth/accounts.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_S } from '../auth/device-cookie.ts';
import { PasswordPolicyError } from '../auth/password.ts';
import { UserError } from '../auth/user-repository.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf } from './route-schema.ts';
import { clearedSessionCookie, forbid, readCookie, sessionCookie, userOf } from './session-auth.ts';

export interface AuthRouteDeps {
  accounts: UserAccounts;
  audit: AuditLog;
  metrics: MasterMetrics;
  /** Mark the session cookie `Secure` (the dashboard is served over HTTPS). */
  secureCookie: boolean;
}

function accountError(reply: FastifyReply, err: unknown) {
  if (err instanceof PasswordPolicyError) return reply.code(400).send(errorBody(err.code, err.message));
  if (err instanceof UserError) {
    const status = err.code === 'UNKNOWN_USER' ? 404 : 409;
    return reply.code(status).send(errorBody(err.code, err.message));
  }
  throw err;
}

export const authRoutes: FastifyPluginAsync<AuthRouteDeps> = async (app, deps) => {
  const actor = (req: Parameters<typeof userOf>[0]): Actor => ({
    user: userOf(req),
    ip: req.ip,
    ...(req.sessionId ? { sessionId: req.sessionId } : {}),
  });
  // Sent only to the sign-in routes: it marks this browser as one the username signed in from.
  const deviceCookie = (value: string) =>
    [
      `${DEVICE_COOKIE}=${value}`,
      'Path=/api/auth',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${DEVICE_COOKIE_MAX_AGE_S}`,
      ...(deps.secureCookie ? ['Secure'] : []),
    ].join('; ');
  const adminOnly = async (req: Parameters<typeof userOf>[0], reply: FastifyReply) => {
    if (!hasRole(userOf(req), 'admin')) return forbid(reply, deps.metrics, 'role', 'only admins may do this');
  };

  const tooMany = (reply: FastifyReply, retryAfterS: number, what: string) =>
    reply
      .code(429)
      .header('retry-after', String(retryAfterS))
      .send(errorBody('TOO_MANY_ATTEMPTS', `too many ${what}: try again in ${retryAfterS} s`));

  app.post<{ Body: LoginRequest }>('/api/auth/login', routeOf('login'), async (req, reply) => {
    const { username, password, totp, recoveryCode } = req.body;
    const result = await deps.accounts.login(
      username,
      password,
      req.ip,
      readCookie(req.headers.cookie, DEVICE_COOKIE),
      { ...(totp !== undefined ? { totp } : {}), ...(recoveryCode !== undefined ? { recoveryCode } : {}) },
    );
    reply.header('cache-control', 'no-store');
    if (!result.ok && result.reason === 'rate_limited')
      return reply
        .code(429)
        .header('retry-after', String(result.retryAfterS))
        .send(
          errorBody('TOO_MANY_ATTEMPTS', `too many failed sign-ins: try again in ${result.retryAfterS} s`),
        );
    if (!result.ok && result.reason === 'totp_required')
      return reply
        .code(401)
        .send(errorBody('TOTP_REQUIRED', 'a code of your authenticator app (or a recovery code) is needed'));
    if (!result.ok && result.reason === 'bad_second_factor')
      return reply
        .code(401)
        .send(
          result.factor === 'totp'
            ? errorBody('BAD_TOTP_CODE', 'wrong or already used code')
            : errorBody('BAD_RECOVERY_CODE', 'wrong or already used recovery code'),
        );
    if (!result.ok) return reply.code(401).send(errorBody('BAD_CREDENTIALS', 'wrong username or password'));
    const maxAge = Math.floor((result.expiresAt.getTime() - Date.now()) / 1000);
    reply.header('set-cookie', [
      sessionCookie(result.token, maxAge, deps.secureCookie),
      deviceCookie(result.deviceCookie),
    ]);
    // The token travels only in the httpOnly cookie, never in a body a page script could read.
    return { user: result.user, expiresAt: result.expiresAt.toISOString() };
  });

  // Reachable by a session that must set up its second factor first (session-auth.ts).
  const enrolment = { enrolment: true };

  app.post<{ Querystring: LogoutQuery }>(
    '/api/auth/logout',
    routeOf('logout', enrolment),
    async (req, reply) => {
      await deps.accounts.logout(actor(req), req.query.everywhere === true);
      reply.header('set-cookie', clearedSessionCookie(deps.secureCookie));
      return reply.code(204).send();
    },
  );

  app.get('/api/auth/me', routeOf('me', enrolment), async (req): Promise<SignedInUser> => {
    return {
      ...userOf(req),
      totpEnabled: req.totp?.enabled ?? false,
      totpEnrolmentRequired: req.totp?.enrolmentRequired ?? false,
    };
  });

  app.post('/api/auth/totp/setup', routeOf('totpSetup', enrolment), async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const setup = await deps.accounts.totpSetup(actor(req));
    if (!setup)
      return reply
        .code(409)
        .send(errorBody('TOTP_ALREADY_ENABLED', 'a second factor is enabled already: disable it first'));
    return setup;
  });

  app.post<{ Body: TotpEnableRequest }>(
    '/api/auth/totp/enable',
    routeOf('totpEnable', enrolment),
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const result = await deps.accounts.totpEnable(actor(req), req.body.code);
      if (result === 'not_set_up')
        return reply
          .code(409)
          .send(errorBody('TOTP_NOT_SET_UP', 'no pending secret: call POST /api/auth/totp/setup first'));
      if (result === 'wrong_code')
        return reply
          .code(400)
          .send(
            errorBody('BAD_TOTP_CODE', 'the code does not match the secret: check the app and the clock'),
          );
      return result;
    },
  );

  app.post<{ Body: TotpDisableRequest }>(
    '/api/auth/totp/disable',
    routeOf('totpDisable'),
    async (req, reply) => {
      const result = await deps.accounts.totpDisable(actor(req), req.body);
      if (typeof result === 'object') return tooMany(reply, result.retryAfterS, 'wrong codes or passwords');
      if (result === 'not_enabled')
        return reply.code(409).send(errorBody('TOTP_NOT_ENABLED', 'no second factor is enabled'));
      if (result === 'required')
        return reply
          .code(409)
          .send(
            errorBody('TOTP_REQUIRED_BY_POLICY', 'your role needs a second factor: it cannot be disabled'),
          );
      if (result === 'wrong_code')
        return reply.code(403).send(errorBody('BAD_TOTP_CODE', 'wrong or already used code'));
      if (result === 'wrong_password')
        return reply.code(403).send(errorBody('BAD_CREDENTIALS', 'the password is wrong'));
      // Disabling ended every session of the user, this one included: sign in again.
      reply.header('set-cookie', clearedSessionCookie(deps.secureCookie));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: PasswordChangeRequest }>('/api/auth/password', routeOf('password'), async (req, reply) => {
    try {
      const result = await deps.accounts.changePassword(
        actor(req),
        req.body.currentPassword,
        req.body.newPassword,
      );
      if (result === 'wrong_password')
        return reply.code(403).send(errorBody('BAD_CREDENTIALS', 'the current password is wrong'));
      if (result !== 'changed') return tooMany(reply, result.retryAfterS, 'wrong passwords');
    } catch (err) {
      return accountError(reply, err);
    }
    // The change ended every session, this one included: sign in again.
    reply.header('set-cookie', clearedSessionCookie(deps.secureCookie));
    return reply.code(204).send();
  });

  app.get('/api/users', { ...routeOf('users'), onRequest: adminOnly }, async () => deps.accounts.list());

  app.post<{ Body: UserCreateRequest }>(
    '/api/users',
    { ...routeOf('userCreate'), onRequest: adminOnly },
    async (req, reply) => {
      try {
        return reply.code(201).send(await deps.accounts.create(actor(req), req.body));
      } catch (err) {
        return accountError(reply, err);
      }
    },
  );

  app.patch<{ Params: UserIdParams; Body: UserUpdateRequest }>(
    '/api/users/:id',
    { ...routeOf('userUpdate'), onRequest: adminOnly },
    async (req, reply) => {
      try {
        return await deps.accounts.update(actor(req), req.params.id, req.body);
      } catch (err) {
        return accountError(reply, err);
      }
    },
  );

  app.delete<{ Params: UserIdParams }>(
    '/api/users/:id/totp',
    { ...routeOf('userTotpReset'), onRequest: adminOnly },
    async (req, reply) => {
      try {
        await deps.accounts.totpReset(actor(req), req.params.id);
      } catch (err) {
        return accountError(reply, err);
      }
      return reply.code(204).send();
    },
  );

  app.post<{ Params: UserIdParams }>(
    '/api/users/:id/sessions/end',
    { ...routeOf('userSessionsEnd'), onRequest: adminOnly },
    async (req, reply) => {
      try {
        await deps.accounts.endSessions(actor(req), req.params.id);
      } catch (err) {
        return accountError(reply, err);
      }
      return reply.code(204).send();
    },
  );
};
