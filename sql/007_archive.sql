-- 007_archive.sql: retention of old messages (DEPLOY.md, "Retention of
-- old messages"). Nothing in Parley deletes messages on its own; an
-- operator moves those older than N days to archive tables with
-- `parley-admin archive --older-than N`, which calls the function below
-- in batches, each its own short transaction.
--
-- The archive tables have the columns of their source and nothing else
-- (no keys, no identity, no indexes): a later migration that adds a
-- column to messages or group_receipts must add it here too (the
-- integration test test_admin.py compares the columns, so CI catches a
-- forgotten one; until then the function fails and moves nothing).
CREATE TABLE messages_archive (LIKE messages);
CREATE TABLE group_receipts_archive (LIKE group_receipts);

-- Moves up to `batch` messages received longer than `older_than` ago,
-- oldest first, with their group receipts, and returns how many. It
-- skips one-to-one messages still waiting for their recipient (status
-- 'sent', not deleted: the backlog), so nothing acked to a sender goes
-- before its recipient got it, and rows a worker holds (SKIP LOCKED).
-- group_receipts and push_queue reference messages ON DELETE CASCADE:
-- the receipts are copied first (every part of the statement sees the
-- rows as they were when it began); a queued push goes with its
-- message. SECURITY DEFINER: the caller needs only EXECUTE (granted to
-- parley_admin), never DELETE on messages; the bounds keep a typo from
-- emptying the table.
CREATE FUNCTION parley_archive_messages(older_than interval, batch integer)
    RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path FROM CURRENT
AS $$
DECLARE
    moved integer;
BEGIN
    IF older_than IS NULL OR older_than < interval '1 day' THEN
        RAISE EXCEPTION 'older_than must be at least 1 day, not %',
            older_than USING ERRCODE = '22023';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
        RAISE EXCEPTION 'batch must be 1..100000, not %', batch
            USING ERRCODE = '22023';
    END IF;
    WITH doomed AS (
        SELECT message_id FROM messages
        WHERE received_at < now() - older_than
          AND NOT (recipient_id IS NOT NULL AND status = 'sent'
                   AND NOT is_deleted)
        ORDER BY seq
        LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), receipts AS (
        INSERT INTO group_receipts_archive
        SELECT r.* FROM group_receipts r JOIN doomed d USING (message_id)
    ), gone AS (
        DELETE FROM messages m USING doomed d
        WHERE m.message_id = d.message_id
        RETURNING m.*
    )
    INSERT INTO messages_archive SELECT * FROM gone;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$$;

REVOKE ALL ON FUNCTION parley_archive_messages(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION parley_archive_messages(interval, integer)
    TO parley_admin;
-- Operators read the archive as they read the tables.
GRANT SELECT ON messages_archive, group_receipts_archive TO parley_admin;
