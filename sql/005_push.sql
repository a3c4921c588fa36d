-- 005_push.sql: the offline push queue (PROTOCOL section 7; README,
-- "Offline push"). When push_webhook_url is set, the statement that
-- stores a message also queues one row per recipient (or group member
-- but the sender) who had no connection row at that moment, in the same
-- transaction: a push is queued exactly when the message is committed.
-- parley-push takes due rows, POSTs them to the webhook and deletes
-- each one the webhook accepted; a failed call is retried with backoff
-- (next_attempt_at) until push_max_age. A row whose message a device of
-- the user acked meanwhile (or that was deleted) is dropped unsent.
CREATE TABLE push_queue (
    message_id      text NOT NULL REFERENCES messages ON DELETE CASCADE,
    user_id         text NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    PRIMARY KEY (message_id, user_id)
);
-- parley-push's "what is due" scan.
CREATE INDEX push_queue_due_idx ON push_queue (next_attempt_at);

-- A queued row wakes parley-push at once (it LISTENs; it also looks
-- every second, so a lost notification only delays).
CREATE FUNCTION push_queue_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('parley_push', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER push_queue_notify
    AFTER INSERT ON push_queue
    FOR EACH STATEMENT
    EXECUTE FUNCTION push_queue_notify();

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parley_push') THEN
        CREATE ROLE parley_push NOLOGIN;
    END IF;
END
$$;

-- parley-ws queues (INSERT ... ON CONFLICT DO NOTHING: a retried send
-- queues nothing twice).
GRANT INSERT ON push_queue TO parley_worker;
-- parley-push: takes due rows (FOR UPDATE SKIP LOCKED needs UPDATE on
-- some column: the ones it writes), reads the message they name and
-- whether it was delivered meanwhile, deletes what is done.
GRANT SELECT, DELETE ON push_queue TO parley_push;
GRANT UPDATE (attempts, next_attempt_at, last_error) ON push_queue
    TO parley_push;
GRANT SELECT ON messages, group_receipts TO parley_push;
