-- 006_admin.sql: a group role for parley-admin (README, "Admin tool"),
-- with what its commands do and nothing else (every statement is in
-- src/admin.c, and store_pending() of src/store.c):
--   connections, pending, counts  read every table of the chat, and
--                                 push_queue (sql/005_push.sql), which
--                                 the workers' role may only insert into;
--   disconnect                    deletes a connection's row once Pushpin
--                                 no longer holds it (as parley-expire).
-- It never writes a message, a group or a receipt. Deployments create a
-- login user in it:
--   CREATE ROLE parley_adm LOGIN PASSWORD '...' IN ROLE parley_admin;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_admin') THEN
        CREATE ROLE parley_admin NOLOGIN;
    END IF;
END
$$;

GRANT SELECT, DELETE ON connections TO parley_admin;
GRANT SELECT ON messages, groups, group_members, group_receipts, push_queue
    TO parley_admin;
