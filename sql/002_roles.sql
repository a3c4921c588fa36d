-- 002_roles.sql: least privilege. Two group roles (NOLOGIN) with only the
-- grants their programs need; deployments create login users in them:
--   CREATE ROLE parley_ws LOGIN PASSWORD '...' IN ROLE parley_worker;
--   CREATE ROLE parley_job LOGIN PASSWORD '...' IN ROLE parley_expire;
-- The schema owner (who runs parley-migrate) stays the only one who can
-- change tables. Messages are never deleted by the programs (a delete is
-- a flag); operators do that by hand.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_worker') THEN
        CREATE ROLE parley_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_expire') THEN
        CREATE ROLE parley_expire NOLOGIN;
    END IF;
END
$$;

-- parley-ws: connections come and go; messages are inserted and move
-- forward in status.
GRANT SELECT, INSERT, UPDATE, DELETE ON connections TO parley_worker;
GRANT SELECT, INSERT, UPDATE ON messages TO parley_worker;

-- parley-expire: reads and deletes connection rows, nothing else. (Its
-- batches lock rows with FOR UPDATE SKIP LOCKED, which PostgreSQL allows
-- only with UPDATE on some column: one column it never writes.)
GRANT SELECT, DELETE ON connections TO parley_expire;
GRANT UPDATE (expires_at) ON connections TO parley_expire;
