-- 001_initial.sql: the two tables of the original design, snake_case.
-- Operators query these directly: names and meanings are a public
-- interface (README, "Tables"). Applied by parley-migrate in one
-- transaction and recorded in schema_migrations.

-- One row per live WebSocket connection. connection_id is Pushpin's
-- Connection-Id. expires_at is the original `ttl`: a live connection
-- pushes it forward; parley-expire deletes rows past it.
CREATE TABLE connections (
    connection_id text PRIMARY KEY,
    user_id       text NOT NULL,
    connected_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
-- The original userId-index: every send looks up the recipient's devices.
CREATE INDEX connections_user_id_idx ON connections (user_id);
-- The expiry job deletes by expires_at in batches.
CREATE INDEX connections_expires_at_idx ON connections (expires_at);

CREATE TABLE messages (
    message_id           text PRIMARY KEY,
    conversation_id      text NOT NULL,
    sender_id            text NOT NULL,
    sender_name          text,
    recipient_id         text NOT NULL,
    content              text NOT NULL,
    -- The sender's own `timestamp`, parsed (NULL when not given) ...
    sent_at              timestamptz,
    -- ... and exactly as sent, because it is echoed back unchanged.
    sent_at_text         text,
    -- The server's receive time, taken when the row is inserted.
    received_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    status               text NOT NULL DEFAULT 'sent'
                         CHECK (status IN ('sent', 'delivered', 'read')),
    is_deleted           boolean NOT NULL DEFAULT false,
    reply_to_message_id  text,
    reply_to_content     text,
    reply_to_sender_name text,
    delivered_at         timestamptz,
    read_at              timestamptz,
    -- Receive order: a strictly increasing number per insert. Offline
    -- delivery pages and history cursors use it; ties on received_at
    -- cannot reorder messages.
    seq                  bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
-- Offline delivery and redelivery: a user's messages that no device has
-- acked, in receive order. Partial, so it stays as small as the backlog.
CREATE INDEX messages_pending_idx ON messages (recipient_id, seq)
    WHERE status = 'sent' AND NOT is_deleted;
-- History: a conversation newest first.
CREATE INDEX messages_conversation_idx ON messages (conversation_id, seq);
