-- bench/storage/positions-receipts.sql: the same getReceipts, the
-- positions model: a member's status of message m follows from its
-- positions; the time is that of the position's last move, not of this
-- message's receipt (the model keeps no per-message time).
\set n random(1, :messages)
SELECT * FROM (SELECT gm.user_id,
    CASE WHEN gm.read_seq >= m.seq THEN 'read'
         WHEN gm.delivered_seq >= m.seq THEN 'delivered' ELSE 'sent' END AS status,
    to_char(CASE WHEN gm.read_seq >= m.seq THEN gm.read_at
                 WHEN gm.delivered_seq >= m.seq THEN gm.delivered_at
                 ELSE m.received_at END AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at
  FROM messages m JOIN bench_members gm
  ON gm.conversation_id = m.conversation_id AND m.seq > gm.joined_seq
  AND (gm.left_seq IS NULL OR m.seq < gm.left_seq)
  WHERE m.message_id = 'bm-' || :n AND m.recipient_id IS NULL
  AND gm.user_id <> m.sender_id) x
ORDER BY x.user_id COLLATE "C" LIMIT 1001;
