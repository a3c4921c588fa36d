-- 004_groups.sql: group conversations (README, "Groups" and "Tables").
-- A group message is one row in messages with recipient_id NULL; who it
-- was sent to follows from the membership periods below, and each
-- member's receipt is a row of its own once the member acks or reads.

-- A group is a conversation created explicitly; its conversation_id is
-- never used by one-to-one messages (parley-ws checks both ways).
CREATE TABLE groups (
    conversation_id text PRIMARY KEY,
    title           text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per membership period: joining starts one, leaving or being
-- removed ends it (left_seq), joining again starts another. Periods are
-- measured in messages.seq, the receive order: a group message with seq
-- s was sent to the period when joined_seq < s and (left_seq IS NULL or
-- s < left_seq). acked_seq: every message of the group up to it that
-- was sent to this period is acked by the member (or is theirs, or
-- deleted): where offline delivery starts looking. parley-ws moves it
-- forward only for messages received over a minute ago, so no message
-- still being committed can fall behind it.
CREATE TABLE group_members (
    period          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES groups ON DELETE CASCADE,
    user_id         text NOT NULL,
    role            text NOT NULL DEFAULT 'member'
                    CHECK (role IN ('admin', 'member')),
    joined_seq      bigint NOT NULL,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    left_seq        bigint,
    left_at         timestamptz,
    acked_seq       bigint NOT NULL
);
-- One current period per member.
CREATE UNIQUE INDEX group_members_current_idx
    ON group_members (conversation_id, user_id) WHERE left_seq IS NULL;
-- A user's groups: offline delivery, redelivery, history.
CREATE INDEX group_members_user_idx ON group_members (user_id);

-- A member's receipt of a group message: no row is `sent`.
CREATE TABLE group_receipts (
    message_id   text NOT NULL REFERENCES messages ON DELETE CASCADE,
    user_id      text NOT NULL,
    status       text NOT NULL CHECK (status IN ('delivered', 'read')),
    delivered_at timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    PRIMARY KEY (message_id, user_id)
);

-- Group messages have no recipient.
ALTER TABLE messages ALTER COLUMN recipient_id DROP NOT NULL;
-- ... and never sit in the one-to-one backlog index (their status stays
-- 'sent': each member's is in group_receipts).
DROP INDEX messages_pending_idx;
CREATE INDEX messages_pending_idx ON messages (recipient_id, seq)
    WHERE status = 'sent' AND NOT is_deleted AND recipient_id IS NOT NULL;

-- parley-ws creates groups, starts and ends membership periods (and
-- names a new admin), moves acked_seq, and records receipts; nothing
-- else. parley-expire never touches groups.
GRANT SELECT, INSERT ON groups TO parley_worker;
-- (UPDATE of title: a membership change holds the group's row FOR NO
-- KEY UPDATE, which PostgreSQL allows only with UPDATE on some column.)
GRANT UPDATE (title) ON groups TO parley_worker;
GRANT SELECT, INSERT ON group_members TO parley_worker;
GRANT UPDATE (role, left_seq, left_at, acked_seq) ON group_members
    TO parley_worker;
GRANT SELECT, INSERT ON group_receipts TO parley_worker;
GRANT UPDATE (status, read_at) ON group_receipts TO parley_worker;

-- A receipt never goes backwards (as messages_forward_only, 003).
CREATE FUNCTION group_receipts_forward_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'read' AND NEW.status <> 'read' THEN
        RAISE EXCEPTION 'receipt of % by %: status never goes backwards',
            OLD.message_id, OLD.user_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER group_receipts_forward_only
    BEFORE UPDATE OF status ON group_receipts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION group_receipts_forward_only();
