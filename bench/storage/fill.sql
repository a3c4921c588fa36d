-- bench/storage/fill.sql: both models brought to the same state after
-- the timed acks (psql variables members, messages, offline): every
-- member but the sender and the :offline members bu-2.. has acked every
-- message and read the older half; the offline members have nothing.
INSERT INTO group_receipts (message_id, user_id, status)
SELECT m.message_id, gm.user_id, 'delivered'
FROM messages m JOIN group_members gm ON gm.conversation_id = m.conversation_id
WHERE m.conversation_id = 'bench-g'
AND substr(gm.user_id, 4)::int > :offline + 1
ON CONFLICT (message_id, user_id) DO NOTHING;
UPDATE group_receipts SET status = 'read', read_at = now()
WHERE substr(message_id, 4)::int <= :messages / 2;
UPDATE group_members SET acked_seq = (SELECT max(seq) FROM messages)
WHERE substr(user_id, 4)::int > :offline + 1;
UPDATE bench_members SET delivered_seq = (SELECT max(seq) FROM messages),
    delivered_at = now(),
    read_seq = (SELECT seq FROM messages WHERE message_id = 'bm-' || :messages / 2),
    read_at = now()
WHERE substr(user_id, 4)::int > :offline + 1;
VACUUM ANALYZE messages, group_members, group_receipts, bench_members;
CHECKPOINT;
