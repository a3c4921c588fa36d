-- bench/storage/setup.sql: the data both storage models are measured on
-- (scripts/bench-groups --only storage; psql variables members, messages).
-- One group of :members members (bu-1 the sender and admin) and
-- :messages group messages from bu-1, in the product's own tables. The
-- rows model is the product's: a group_receipts row per member per
-- message. The positions model is a scratch copy of group_members,
-- bench_members, with a delivered and a read position (a messages.seq)
-- and their times per membership period, and no receipt rows.
TRUNCATE messages, connections, group_receipts, group_members, groups;
DROP TABLE IF EXISTS bench_members;
DROP SEQUENCE IF EXISTS bench_ack_seq;

INSERT INTO groups (conversation_id, created_by) VALUES ('bench-g', 'bu-1');
INSERT INTO group_members (conversation_id, user_id, role, joined_seq, acked_seq)
SELECT 'bench-g', 'bu-' || k, CASE k WHEN 1 THEN 'admin' ELSE 'member' END, 0, 0
FROM generate_series(1, :members) k;
INSERT INTO messages (message_id, conversation_id, sender_id, content)
SELECT 'bm-' || n, 'bench-g', 'bu-1', 'message ' || n
FROM generate_series(1, :messages) n;

CREATE TABLE bench_members (LIKE group_members INCLUDING ALL);
ALTER TABLE bench_members
    ADD COLUMN delivered_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN read_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN read_at timestamptz;
INSERT INTO bench_members (conversation_id, user_id, role, joined_seq, acked_seq)
SELECT conversation_id, user_id, role, joined_seq, acked_seq FROM group_members;

-- Acks in the order a fan-out makes them: every member of message 1,
-- then of message 2, ... (value v: message v / (members - 1) + 1, member
-- v % (members - 1) + 2; the sender acks nothing).
CREATE SEQUENCE bench_ack_seq MINVALUE 0 START 0;
VACUUM ANALYZE messages, group_members, group_receipts, bench_members;
CHECKPOINT;
