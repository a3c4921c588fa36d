-- bench/storage/rows-pending.sql: an offline member connects, the rows
-- model: the group part of the product's pending (src/store.c), one
-- page of 100, from the period's acked_seq (itself a position: the
-- product keeps one per period as the watermark offline delivery starts
-- from) skipping the messages that have a receipt row.
\set u random(2, :offline + 1)
SELECT x.* FROM group_members gm CROSS JOIN LATERAL (
  SELECT message_id, seq, content FROM messages
  WHERE conversation_id = gm.conversation_id AND recipient_id IS NULL
  AND seq > GREATEST(gm.joined_seq, gm.acked_seq, 0)
  AND (gm.left_seq IS NULL OR seq < gm.left_seq)
  AND sender_id <> gm.user_id AND NOT is_deleted
  AND NOT EXISTS (SELECT 1 FROM group_receipts r
      WHERE r.message_id = messages.message_id AND r.user_id = gm.user_id)
  ORDER BY seq LIMIT 100) x
WHERE gm.user_id = 'bu-' || :u
ORDER BY seq LIMIT 100;
