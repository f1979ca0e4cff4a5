export type {
  Alert,
  AlertDelivery,
  AlertRule,
  Camera,
  Event,
  Node,
  NotificationChannel,
  SecurityAlert,
  Segment,
} from '../generated/client.ts';
export { Prisma } from '../generated/client.ts';
export type { PrismaClient } from './client.ts';
export { createPrismaClient } from './client.ts';
export type { RunningPostgres } from './embedded-postgres.ts';
export { embeddedDatabaseUrl, rolePasswordPath, startEmbeddedPostgres } from './embedded-postgres.ts';
export { applyMigrations, diffSchemas } from './migrations.ts';
export type { AdvisoryLeaderOptions, PgChannelOptions } from './pg-cluster.ts';
export { AdvisoryLeader, LOCK_KEYS, NOTIFY_MAX_BYTES, notify, PgChannel } from './pg-cluster.ts';
export type { PgPool } from './pg-pool.ts';
export { createPgPool } from './pg-pool.ts';
export { PostgresStartError, removeSystemClusters } from './postgres-placement.ts';
export type { DbRole, RolesOutcome } from './roles.ts';
export {
  applyGrants,
  DB_ROLES,
  ensureRoles,
  migrateDatabase,
  newRolePassword,
  passwordMatches,
  pendingMigrations,
  waitForSchema,
} from './roles.ts';
export type { SecurityAlertInput, SecurityAlertRecorderOptions } from './security-alerts.ts';
export { SecurityAlertRecorder } from './security-alerts.ts';
