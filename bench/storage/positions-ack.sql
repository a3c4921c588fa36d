-- bench/storage/positions-ack.sql: the same ack, the positions model:
-- the member's period moves its delivered position up to the message
-- (never back), one row per member updated in place.
WITH v AS (SELECT nextval('bench_ack_seq') AS v),
p AS (SELECT 'bm-' || (v / (:members - 1) + 1) AS mid,
             'bu-' || (v % (:members - 1) + 2) AS uid FROM v)
UPDATE bench_members gm SET delivered_seq = m.seq, delivered_at = now()
FROM messages m, p
WHERE m.message_id = p.mid AND m.recipient_id IS NULL
AND m.sender_id <> p.uid AND gm.conversation_id = m.conversation_id
AND gm.user_id = p.uid AND gm.left_seq IS NULL AND m.seq > gm.joined_seq
AND gm.delivered_seq < m.seq;
