-- bench/storage/rows-receipts.sql: getReceipts of a random group
-- message, the rows model (the product's receipts_of in
-- src/groupstore.c, one page of 1,000).
\set n random(1, :messages)
SELECT * FROM (SELECT gm.user_id, COALESCE(r.status, 'sent') AS status,
    to_char(COALESCE(r.read_at, r.delivered_at, m.received_at) AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at
  FROM messages m JOIN group_members gm
  ON gm.conversation_id = m.conversation_id AND m.seq > gm.joined_seq
  AND (gm.left_seq IS NULL OR m.seq < gm.left_seq)
  LEFT JOIN group_receipts r ON r.message_id = m.message_id
  AND r.user_id = gm.user_id
  WHERE m.message_id = 'bm-' || :n AND m.recipient_id IS NULL
  AND gm.user_id <> m.sender_id) x
ORDER BY x.user_id COLLATE "C" LIMIT 1001;
