-- 003_least_privilege.sql: the group roles of 002_roles narrowed to what
-- the programs do (every statement is in src/store.c and
-- src/parley-expire.c), and the status model kept by the database.

-- parley-ws changes a message's status and its times (ack, markRead) and
-- its deleted flag (deleteMessage, a soft delete): those columns only,
-- never content, sender, recipient or times it did not set. Table-level
-- UPDATE also allowed LOCK TABLE messages in every mode, ACCESS EXCLUSIVE
-- included (PostgreSQL 15 asks for table-level UPDATE, DELETE or
-- TRUNCATE); with SELECT, INSERT and these columns a worker can take
-- ACCESS SHARE and ROW EXCLUSIVE only, which stop no other worker.
REVOKE UPDATE ON messages FROM parley_worker;
GRANT UPDATE (status, delivered_at, read_at, is_deleted) ON messages
    TO parley_worker;

-- Connections: a reconnect with a known Connection-Id takes the row over
-- (INSERT ... ON CONFLICT DO UPDATE of user_id, connected_at and
-- expires_at); a live connection pushes expires_at forward. DELETE stays
-- (a disconnect deletes its row), and with it, as PostgreSQL has it, the
-- right to LOCK the connections table.
REVOKE UPDATE ON connections FROM parley_worker;
GRANT UPDATE (user_id, connected_at, expires_at) ON connections
    TO parley_worker;

-- Neither program creates anything: no temporary tables or functions
-- (PUBLIC has TEMPORARY on every new database; this database's owner
-- and superusers keep it), nothing in schema public (PostgreSQL 15 no
-- longer grants CREATE there to PUBLIC; older clusters did).
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC',
                   current_database());
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- A status never goes backwards and a deleted message stays deleted
-- (README, "Status model"), whoever updates the row: the column grants
-- above still let a worker write any status. The owner can lift this for
-- a repair by hand: ALTER TABLE messages DISABLE TRIGGER
-- messages_forward_only.
CREATE FUNCTION messages_forward_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF array_position(ARRAY['sent', 'delivered', 'read'], NEW.status) <
       array_position(ARRAY['sent', 'delivered', 'read'], OLD.status) THEN
        RAISE EXCEPTION 'message %: status never goes backwards (% to %)',
            OLD.message_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.is_deleted AND NOT NEW.is_deleted THEN
        RAISE EXCEPTION 'message %: a deleted message stays deleted',
            OLD.message_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_forward_only
    BEFORE UPDATE OF status, is_deleted ON messages
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR (OLD.is_deleted AND NOT NEW.is_deleted))
    EXECUTE FUNCTION messages_forward_only();
