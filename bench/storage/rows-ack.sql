-- bench/storage/rows-ack.sql: one member acks one group message, the
-- rows model (the product's group_ack in src/store.c, one id): the
-- message must be a group message sent to the member's period; the
-- receipt is a row, written once.
WITH v AS (SELECT nextval('bench_ack_seq') AS v),
p AS (SELECT 'bm-' || (v / (:members - 1) + 1) AS mid,
             'bu-' || (v % (:members - 1) + 2) AS uid FROM v),
t AS (SELECT m.message_id, p.uid FROM messages m, p
      WHERE m.message_id = p.mid AND m.recipient_id IS NULL
      AND m.sender_id <> p.uid AND EXISTS (SELECT 1 FROM group_members gm
          WHERE gm.conversation_id = m.conversation_id AND gm.user_id = p.uid
          AND m.seq > gm.joined_seq
          AND (gm.left_seq IS NULL OR m.seq < gm.left_seq)))
INSERT INTO group_receipts (message_id, user_id, status)
SELECT message_id, uid, 'delivered' FROM t
ON CONFLICT (message_id, user_id) DO NOTHING;
