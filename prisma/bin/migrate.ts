/**
 * Brings an external PostgreSQL up to date for the services, which cannot do it on their own
 * roles: with DATABASE_ADMIN_URL (a superuser) first the roles (prisma/sql/roles.sql) and
 * their passwords, then, as the owner (DATABASE_URL), pending migrations and the grants
 * (prisma/sql/grants.sql). Idempotent; Compose and Ansible run it before the services start.
 *
 * Usage: DATABASE_URL=postgresql://cctv_owner:…@host/cctv node --import tsx prisma/bin/migrate.ts
 *   (from a master release: node dist/migrate.mjs)
 *   DATABASE_ADMIN_URL      a superuser's URL: create or update the roles (optional)
 *   CCTV_DB_OWNER_PASSWORD, CCTV_DB_MASTER_PASSWORD, CCTV_DB_GATEWAY_PASSWORD
 *                           with DATABASE_ADMIN_URL: the roles' passwords (each optional; a
 *                           role without one keeps its password)
 *
 * What it changed is said on lines of their own, for a deployment tool to tell a run that
 * changed something from one that did not: `migrate: created roles …`, `migrate: set the
 * password of …`, `migrate: applied …`. Passwords are never printed.
 */
import { DB_ROLES, type DbRole, ensureRoles, migrateDatabase } from '../src/index.ts';

const ownerUrl = process.env.DATABASE_URL?.trim();
if (!ownerUrl || !/^postgres(ql)?:\/\//.test(ownerUrl)) {
  console.error('migrate: DATABASE_URL must be the owner role’s postgresql:// URL');
  process.exit(2);
}
const adminUrl = process.env.DATABASE_ADMIN_URL?.trim();
try {
  if (adminUrl) {
    const passwords: Partial<Record<DbRole, string>> = {};
    for (const role of ['owner', 'master', 'gateway'] as const) {
      const value = process.env[`CCTV_DB_${role.toUpperCase()}_PASSWORD`]?.trim();
      if (value) passwords[role] = value;
    }
    const roles = await ensureRoles(adminUrl, passwords);
    const names = (list: DbRole[]) => list.map((r) => DB_ROLES[r]).join(', ');
    if (roles.created.length) console.log(`migrate: created roles ${names(roles.created)}`);
    if (roles.passwordsSet.length) console.log(`migrate: set the password of ${names(roles.passwordsSet)}`);
    console.log('migrate: roles ready');
  }
  const applied = await migrateDatabase(ownerUrl, (line) => {
    if (process.env.LOG_LEVEL === 'debug') console.error(line);
  });
  console.log(applied.length ? `migrate: applied ${applied.join(', ')}` : 'migrate: schema up to date');
  console.log('migrate: grants applied');
} catch (err) {
  console.error(`migrate: ${(err as Error).message}`);
  process.exit(1);
}
