/**
 * `GET` / `PUT /api/me/settings/:key`: the signed-in user's own dashboard settings (the live
 * wall's layout and cameras), kept on the master so they follow the user to any screen. Only
 * known keys, each validated against its schema in protocol (`USER_SETTINGS`).
 */
import {
  compile,
  type SettingKeyParams,
  USER_SETTINGS,
  type UserSettingKey,
  type Validator,
} from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { UserSettings } from '../auth/user-settings.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf, schemaErrorsAs } from './route-schema.ts';
import { userOf } from './session-auth.ts';

export interface SettingsRouteDeps {
  settings: UserSettings;
  metrics: MasterMetrics;
}

const validators = Object.fromEntries(
  Object.entries(USER_SETTINGS).map(([key, schema]) => [key, compile(schema)]),
) as Record<UserSettingKey, Validator<unknown>>;

export const settingsRoutes: FastifyPluginAsync<SettingsRouteDeps> = async (app, deps) => {
  const known = (key: string): key is UserSettingKey => Object.hasOwn(validators, key);

  app.get<{ Params: SettingKeyParams }>(
    '/api/me/settings/:key',
    routeOf('settingGet'),
    async (req, reply) => {
      const { key } = req.params;
      if (!known(key)) return reply.code(404).send(errorBody('UNKNOWN_SETTING', `no setting ${key}`));
      const value = await deps.settings.get(userOf(req).id, key);
      if (value === null) return reply.code(404).send(errorBody('NOT_SET', `${key} is not set`));
      return { key, value };
    },
  );

  // The body schema takes any known setting's value; the key's own schema is applied below.
  const badSetting = schemaErrorsAs({ body: 'BAD_SETTING' }, {}, () =>
    deps.metrics.httpBadRequests.inc({ route: '/api/me/settings/:key', reason: 'schema' }),
  );
  const put = { ...routeOf('settingPut'), schemaErrorFormatter: badSetting };
  app.put<{ Params: SettingKeyParams; Body: unknown }>('/api/me/settings/:key', put, async (req, reply) => {
    const { key } = req.params;
    if (!known(key)) return reply.code(404).send(errorBody('UNKNOWN_SETTING', `no setting ${key}`));
    const parsed = validators[key].validate(req.body);
    if (!parsed.ok) {
      deps.metrics.httpBadRequests.inc({ route: '/api/me/settings/:key', reason: 'schema' });
      return reply.code(400).send(errorBody('BAD_SETTING', parsed.error));
    }
    await deps.settings.put(userOf(req).id, key, parsed.value);
    return { key, value: parsed.value };
  });
};
