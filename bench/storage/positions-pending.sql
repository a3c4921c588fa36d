-- bench/storage/positions-pending.sql: the same page, the positions
-- model: everything past the delivered position.
\set u random(2, :offline + 1)
SELECT x.* FROM bench_members gm CROSS JOIN LATERAL (
  SELECT message_id, seq, content FROM messages
  WHERE conversation_id = gm.conversation_id AND recipient_id IS NULL
  AND seq > GREATEST(gm.joined_seq, gm.delivered_seq, 0)
  AND (gm.left_seq IS NULL OR seq < gm.left_seq)
  AND sender_id <> gm.user_id AND NOT is_deleted
  ORDER BY seq LIMIT 100) x
WHERE gm.user_id = 'bu-' || :u
ORDER BY seq LIMIT 100;
