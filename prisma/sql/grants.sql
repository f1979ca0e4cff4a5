-- What each service role may do, applied by the owner (cctv_owner) after every migration run,
-- in one transaction. The one place where a table's access is decided: every table and
-- sequence of the schema must be named below, in a GRANT or in a "no service role" line;
-- test/security/db-roles.test.ts fails for one that is not. Each run starts from nothing, so
-- a line removed here is a right taken away.
--
-- Read from master/src and storage-gateway/src (Prisma calls and raw SQL). Foreign-key checks
-- and cascades run as the table owner and need no grant here; trigger functions need none.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, cctv_master, cctv_gateway;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, cctv_master, cctv_gateway;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, cctv_master, cctv_gateway;

-- Objects the owner creates later get nothing until they are listed here.
ALTER DEFAULT PRIVILEGES FOR ROLE cctv_owner IN SCHEMA public REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE cctv_owner IN SCHEMA public REVOKE ALL ON SEQUENCES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE cctv_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Both services check at start that the schema is current.
GRANT SELECT ON "_prisma_migrations" TO cctv_master, cctv_gateway;

-- The master: fleet, events, users and sessions, audit, exports, grant keys, alerts.
GRANT SELECT, INSERT, UPDATE ON "Node" TO cctv_master;
GRANT SELECT, INSERT, UPDATE, DELETE ON "Camera" TO cctv_master;
GRANT SELECT ON "Segment" TO cctv_master;
GRANT SELECT, INSERT, UPDATE ON "Event" TO cctv_master;
-- DELETE: an admin revokes a node's credential (DELETE /api/nodes/:id/credentials).
GRANT SELECT, INSERT, UPDATE, DELETE ON "NodeCredential" TO cctv_master;
GRANT SELECT, INSERT ON "NodeStateChange" TO cctv_master;
GRANT USAGE ON SEQUENCE "NodeStateChange_id_seq" TO cctv_master;
GRANT SELECT, INSERT, UPDATE ON "User" TO cctv_master;
GRANT SELECT, INSERT, UPDATE, DELETE ON "Session" TO cctv_master;
GRANT SELECT, INSERT, UPDATE ON "UserSetting" TO cctv_master;
GRANT SELECT, INSERT, DELETE ON "UserCamera" TO cctv_master;
GRANT SELECT, INSERT, UPDATE, DELETE ON "RecoveryCode" TO cctv_master;
-- Append-only: no UPDATE, DELETE or TRUNCATE (the trigger refuses them too), and as no
-- service owns the table, none can ALTER it or disable the trigger.
GRANT SELECT, INSERT ON "AuditEntry" TO cctv_master;
GRANT USAGE ON SEQUENCE "AuditEntry_id_seq" TO cctv_master;
-- Keys no longer live here (files under the master's data dir); the master reads and deletes
-- the rows an older version left, once, and can never write one.
GRANT SELECT, DELETE ON "MasterSetting" TO cctv_master;
-- Public halves only; DELETE drops keys retired longer than a grant lives.
GRANT SELECT, INSERT, DELETE ON "GrantKey" TO cctv_master;
GRANT SELECT, INSERT, UPDATE ON "SecurityAlert" TO cctv_master;
GRANT USAGE ON SEQUENCE "SecurityAlert_id_seq" TO cctv_master;
GRANT SELECT, INSERT, UPDATE ON "ExportJob" TO cctv_master;
-- Desired configuration: append-only like the audit log (a rollback writes a new version).
GRANT SELECT, INSERT ON "NodeConfigVersion" TO cctv_master;
-- One-line install: tokens are issued (INSERT), checked and burnt once (UPDATE of usedAt).
GRANT SELECT, INSERT, UPDATE ("usedAt", "usedFrom") ON "EnrolmentToken" TO cctv_master;
-- Alerts: rules and channels edited from the dashboard; alerts raised, resolved and
-- acknowledged; the delivery outbox. Old resolved alerts and their deliveries are pruned.
GRANT SELECT, INSERT, UPDATE, DELETE ON "AlertRule" TO cctv_master;
GRANT SELECT, INSERT, UPDATE, DELETE ON "NotificationChannel" TO cctv_master;
GRANT SELECT, INSERT, UPDATE, DELETE ON "Alert" TO cctv_master;
GRANT USAGE ON SEQUENCE "Alert_id_seq" TO cctv_master;
GRANT SELECT, INSERT, UPDATE, DELETE ON "AlertDelivery" TO cctv_master;
GRANT USAGE ON SEQUENCE "AlertDelivery_id_seq" TO cctv_master;

-- The storage gateway: the segment index, and reads of what it checks uploads and grants
-- against. Never users, sessions, the audit log, settings or node passwords.
GRANT SELECT, INSERT, UPDATE, DELETE ON "Segment" TO cctv_gateway;
GRANT USAGE ON SEQUENCE "Segment_id_seq" TO cctv_gateway;
GRANT SELECT ("id", "nodeId") ON "Camera" TO cctv_gateway;
GRANT SELECT ("id", "cameraId", "startedAt", "endedAt", "lastAt") ON "Event" TO cctv_gateway;
GRANT SELECT ("nodeId", "uploadTokenHash") ON "NodeCredential" TO cctv_gateway;
GRANT SELECT ON "GrantKey" TO cctv_gateway;
-- Retention days set per camera on the dashboard; never the sealed passwords (`secrets`).
GRANT SELECT ("nodeId", "version", "cameras") ON "NodeConfigVersion" TO cctv_gateway;
GRANT SELECT, INSERT ON "SecurityAlert" TO cctv_gateway;
GRANT UPDATE ("count", "lastAt", "message", "address") ON "SecurityAlert" TO cctv_gateway;
GRANT USAGE ON SEQUENCE "SecurityAlert_id_seq" TO cctv_gateway;
-- Gateways sharing the index find each other here (a segment still in a peer's buffer).
GRANT SELECT, INSERT, UPDATE ON "Gateway" TO cctv_gateway;
GRANT SELECT ON "Gateway" TO cctv_master;

-- No service role:
--   (none)
