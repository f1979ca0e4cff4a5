/**
 * Manages dashboard and API users from the master's host, with the same rules as the API
 * (password policy, last-admin protection, audit entries by "system").
 *
 *   node --import tsx master/bin/user.ts create <username> --role admin|operator|viewer [--cameras all|cam-a,cam-b]
 *   node --import tsx master/bin/user.ts set-password <username>
 *   node --import tsx master/bin/user.ts update <username> [--role R] [--cameras C] [--disable|--enable]
 *   node --import tsx master/bin/user.ts reset-totp <username>
 *   node --import tsx master/bin/user.ts list
 *
 * A new password comes from CCTV_PASSWORD, else from the first line of stdin when it is not a
 * terminal, else it is generated and printed once.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { type CameraAccess, isValidId, ROLES, type Role } from '@cctv/protocol';
import { accountGuards, UserAccounts } from '../src/auth/accounts.ts';
import { AuditLog } from '../src/auth/audit-log.ts';
import { PasswordPolicyError } from '../src/auth/password.ts';
import { loadSessionKeys, SessionTokens } from '../src/auth/session-tokens.ts';
import { UserError, UserRepository } from '../src/auth/user-repository.ts';
import { openCliDatabase } from './cli-database.ts';

const usage = `usage:
  user create <username> --role admin|operator|viewer [--cameras all|cam-a,cam-b]
  user set-password <username>
  user update <username> [--role R] [--cameras C] [--disable|--enable]
  user reset-totp <username>      (removes the second factor, e.g. the only admin lost the phone)
  user list`;

function fail(message: string, code = 2): never {
  console.error(`user: ${message}`);
  process.exit(code);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        role: { type: 'string' },
        cameras: { type: 'string' },
        disable: { type: 'boolean' },
        enable: { type: 'boolean' },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n${usage}`);
  }
})();
const [command, rawName, ...extra] = positionals;
if (!command || extra.length > 0 || (command !== 'list' && !rawName)) fail(usage);
const username = rawName?.toLowerCase() ?? '';

function role(): Role | undefined {
  if (values.role === undefined) return undefined;
  if (!(ROLES as readonly string[]).includes(values.role)) fail(`--role must be one of ${ROLES.join(', ')}`);
  return values.role as Role;
}

function cameras(): CameraAccess | undefined {
  if (values.cameras === undefined) return undefined;
  if (values.cameras === 'all') return 'all';
  const ids = values.cameras.split(',').filter((c) => c !== '');
  const bad = ids.find((c) => !isValidId(c));
  if (bad) fail(`--cameras: "${bad}" is not a camera id`);
  return [...new Set(ids)];
}

async function newPassword(): Promise<{ password: string; generated: boolean }> {
  const env = process.env.CCTV_PASSWORD;
  if (env) return { password: env, generated: false };
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      if (line !== '') return { password: line, generated: false };
    }
  }
  return { password: randomBytes(18).toString('base64url'), generated: true };
}

const { db, log, config } = await openCliDatabase('user');
const users = new UserRepository(db.prisma);
const sessionKeys = await loadSessionKeys(db.prisma, {
  configured: config.users.sessionKey,
  file: config.users.sessionKeyFile,
});
const accounts = new UserAccounts(
  users,
  new SessionTokens(sessionKeys, 3600),
  accountGuards(sessionKeys.current.key),
  new AuditLog(db.prisma),
  log,
);

async function idOf(name: string): Promise<string> {
  const user = await users.forLogin(name);
  if (!user) fail(`no user named ${name}`, 1);
  return user.id;
}

let code = 0;
try {
  if (command === 'list') {
    for (const u of await accounts.list())
      console.log(
        `${u.username}\t${u.role}\t${u.cameras === 'all' ? 'all cameras' : u.cameras.join(',') || 'no cameras'}${u.totpEnabled ? '\ttotp' : ''}${u.disabled ? '\tdisabled' : ''}`,
      );
  } else if (command === 'create') {
    const r = role() ?? fail('create needs --role');
    const { password, generated } = await newPassword();
    const view = await accounts.create(null, { username, password, role: r, cameras: cameras() ?? [] });
    console.log(`created ${view.username} (${view.role})`);
    if (generated) console.log(`password (shown only this once): ${password}`);
  } else if (command === 'set-password') {
    const { password, generated } = await newPassword();
    await accounts.update(null, await idOf(username), { password });
    console.log(`password of ${username} changed; its sessions have ended`);
    if (generated) console.log(`password (shown only this once): ${password}`);
  } else if (command === 'update') {
    if (values.disable && values.enable) fail('--disable and --enable exclude each other');
    const change = {
      ...(role() ? { role: role() } : {}),
      ...(cameras() ? { cameras: cameras() } : {}),
      ...(values.disable ? { disabled: true } : values.enable ? { disabled: false } : {}),
    };
    if (Object.keys(change).length === 0) fail('update needs --role, --cameras, --disable or --enable');
    const view = await accounts.update(null, await idOf(username), change);
    console.log(
      `updated ${view.username}: ${view.role}, ${view.cameras === 'all' ? 'all cameras' : view.cameras.join(',')}${view.disabled ? ', disabled' : ''}`,
    );
  } else if (command === 'reset-totp') {
    await accounts.totpReset(null, await idOf(username));
    console.log(`second factor of ${username} removed; its sessions have ended`);
  } else {
    fail(`unknown command ${command}\n${usage}`);
  }
} catch (err) {
  if (!(err instanceof PasswordPolicyError) && !(err instanceof UserError)) throw err;
  console.error(`user: ${err.message}`);
  code = 1;
} finally {
  await db.close();
}
process.exit(code);
