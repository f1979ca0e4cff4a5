-- The database roles, created by a superuser (the embedded server's bootstrap user, the
-- compose `postgres` user, a DBA) before migrations run. Idempotent: run again after an
-- upgrade, it only adds what is missing and moves objects an older install made as the
-- superuser to the owner. Passwords are set separately (ALTER ROLE ... PASSWORD) by whoever
-- keeps them. See docs/adr/0011-database-roles-and-secrets.md.
--
--   cctv_owner    owns the database, the schema objects and the migrations; used only to
--                 migrate (and to grant, prisma/sql/grants.sql), never by a running service
--   cctv_master   the master's login
--   cctv_gateway  the storage gateway's login
DO $$
DECLARE
  r record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cctv_owner') THEN
    CREATE ROLE cctv_owner LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cctv_master') THEN
    CREATE ROLE cctv_master LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cctv_gateway') THEN
    CREATE ROLE cctv_gateway LOGIN;
  END IF;
  -- Whatever they were given before: no superuser, no role or database making, no bypass of
  -- row security, and none is a member of another (NOINHERIT as well, in case).
  ALTER ROLE cctv_owner NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  ALTER ROLE cctv_master NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
  ALTER ROLE cctv_gateway NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
  FOR r IN
    SELECT m.roleid::regrole AS granted, m.member::regrole AS member
    FROM pg_auth_members m
    WHERE m.member IN ('cctv_master'::regrole, 'cctv_gateway'::regrole)
  LOOP
    EXECUTE format('REVOKE %s FROM %s', r.granted, r.member);
  END LOOP;

  EXECUTE format('ALTER DATABASE %I OWNER TO cctv_owner', current_database());
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO cctv_master, cctv_gateway', current_database());

  -- Tables, views, sequences and functions an older install created as the superuser.
  FOR r IN
    SELECT c.oid::regclass AS name, c.relkind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND c.relowner <> 'cctv_owner'::regrole
      -- a sequence owned by a column follows its table
      AND NOT (c.relkind = 'S' AND EXISTS (
        SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO cctv_owner',
      CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
        WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
      r.name);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS name
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.proowner <> 'cctv_owner'::regrole
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO cctv_owner', r.name);
  END LOOP;
  FOR r IN
    SELECT t.oid::regtype AS name
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND t.typowner <> 'cctv_owner'::regrole
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO cctv_owner', r.name);
  END LOOP;
END
$$;

-- The owner creates in the schema; nobody else does (PostgreSQL 15+ already refuses PUBLIC).
ALTER SCHEMA public OWNER TO cctv_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO cctv_master, cctv_gateway;
