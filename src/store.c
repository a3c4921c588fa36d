/* store.c - see store.h. Each statement's parameter order ($n) and
 * column order stand next to its SQL; nothing else knows them.
 *
 * Trust: as db.c: the database's answers are trusted, parameters come
 * from validated requests and only ever travel as parameters.
 */
#include "common.h"

#include <libpq-fe.h>

#include "store.h"
#include "log.h"
#include "protocol.h"

#define UTC SQL_UTC

/* The message as events carry it: the columns of struct message, in this
 * order, first in every query that returns messages (message_row()). A
 * deleted message's content is never served again. */
#define MSG_COLUMNS MSG_COLUMNS_STATUS("status")
/* ... with the status given by an expression: a group member's own. */
#define MSG_COLUMNS_STATUS(status) \
	"message_id, conversation_id, sender_id, sender_name, recipient_id, " \
	"CASE WHEN is_deleted THEN '' ELSE content END, " \
	"COALESCE(sent_at_text, " UTC("received_at") "), " \
	status ", is_deleted, reply_to_message_id, " \
	"CASE WHEN is_deleted AND reply_to_content IS NOT NULL THEN '' " \
	"ELSE reply_to_content END, reply_to_sender_name, seq"
enum { MC_ID, MC_CONV, MC_SENDER, MC_SENDER_NAME, MC_RECIPIENT, MC_CONTENT,
       MC_TIMESTAMP, MC_STATUS, MC_DELETED, MC_REPLY_ID, MC_REPLY_CONTENT,
       MC_REPLY_SENDER_NAME, MC_SEQ, MC_NCOLS };

static const char *opt_value(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static bool flag(PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

static void message_row(PGresult *r, int row, struct message *m)
{
	m->id = PQgetvalue(r, row, MC_ID);
	m->conversation_id = PQgetvalue(r, row, MC_CONV);
	m->sender_id = PQgetvalue(r, row, MC_SENDER);
	m->sender_name = opt_value(r, row, MC_SENDER_NAME);
	m->recipient_id = opt_value(r, row, MC_RECIPIENT);
	m->content = PQgetvalue(r, row, MC_CONTENT);
	m->timestamp = PQgetvalue(r, row, MC_TIMESTAMP);
	m->status = PQgetvalue(r, row, MC_STATUS);
	m->is_deleted = flag(r, row, MC_DELETED);
	m->reply_to_message_id = opt_value(r, row, MC_REPLY_ID);
	m->reply_to_content = opt_value(r, row, MC_REPLY_CONTENT);
	m->reply_to_sender_name = opt_value(r, row, MC_REPLY_SENDER_NAME);
	m->seq = strtoll(PQgetvalue(r, row, MC_SEQ), NULL, 10);
}

/* Takes r; the list owns it from here on. */
static enum db_status message_list_take(PGresult *r, int max,
					struct message_list *out)
{
	int n = PQntuples(r) < max ? PQntuples(r) : max;

	out->n = 0;
	out->res = r;
	out->items = n > 0 ? calloc((size_t)n, sizeof(*out->items)) : NULL;
	if (n > 0 && out->items == NULL) {
		message_list_free(out);
		return DB_ERROR;
	}
	for (out->n = 0; out->n < n; out->n++)
		message_row(r, out->n, &out->items[out->n]);
	return DB_OK;
}

void message_list_free(struct message_list *l)
{
	if (l == NULL)
		return;
	free(l->items);
	PQclear(l->res);
	*l = (struct message_list){ 0 };
}

/* ---- sendMessage ------------------------------------------------------- */

/* Whether user $3 is a current member of group $2. */
#define SENDER_IS_MEMBER \
	"EXISTS (SELECT 1 FROM group_members gm WHERE " \
	"gm.conversation_id = $2 AND gm.user_id = $3 AND gm.left_seq IS NULL)"
#define CONV_IS_GROUP \
	"EXISTS (SELECT 1 FROM groups g WHERE g.conversation_id = $2)"

/* $1 id, $2 conversation, $3 sender, $4 sender name, $5 recipient (NULL:
 * to the group $2), $6 content, $7 timestamp, $8 reply id, $9 reply
 * content, $10 reply sender name, $11 the sending connection.
 * Idempotent insert: the new row, or the existing row with the same
 * message_id (inserted false) so the caller can tell a duplicate from a
 * conflict. A one-to-one message is not stored under a group's id, nor a
 * group message from a non-member: then the row's columns are NULL and
 * SEND_IS_GROUP, SEND_IS_MEMBER tell why. Always one row. Columns:
 * MSG_COLUMNS, then SEND_*. The EXISTS read the connections and
 * group_members tables in the statement's snapshot. */
#define SEND_SQL(push_cte) \
	"WITH ins AS (INSERT INTO messages (message_id, conversation_id, " \
	"sender_id, sender_name, recipient_id, content, sent_at, " \
	"sent_at_text, reply_to_message_id, reply_to_content, " \
	"reply_to_sender_name) SELECT $1, $2, $3, $4, $5, $6, " \
	"$7::text::timestamptz, $7::text, $8, $9, $10 " \
	"WHERE CASE WHEN $5::text IS NULL THEN " SENDER_IS_MEMBER \
	" ELSE NOT " CONV_IS_GROUP " END " \
	"ON CONFLICT (message_id) DO NOTHING " \
	"RETURNING " MSG_COLUMNS ", true AS inserted, " \
	UTC("received_at") " AS acked_at), " \
	push_cte \
	"r AS (SELECT * FROM ins UNION ALL " \
	"SELECT " MSG_COLUMNS ", false, " UTC("received_at") \
	" FROM messages WHERE message_id = $1 " \
	"AND NOT EXISTS (SELECT 1 FROM ins)) " \
	"SELECT r.*, " \
	"EXISTS (SELECT 1 FROM connections WHERE user_id = $5), " \
	"EXISTS (SELECT 1 FROM connections WHERE user_id = $3 " \
	"AND connection_id <> $11), " CONV_IS_GROUP ", " SENDER_IS_MEMBER \
	" FROM (SELECT 1) one LEFT JOIN r ON true"
static const struct statement st_send = { "send", SEND_SQL(""), 11 };
/* The same, and with offline push on (sql/005_push.sql): a push_queue
 * row for the recipient, or each current member but the sender, who
 * has no connection row in the statement's snapshot; only when the
 * message is new (a retried send queues nothing). */
static const struct statement st_send_push = { "send_push", SEND_SQL(
	"push AS (INSERT INTO push_queue (message_id, user_id) "
	"SELECT i.message_id, u.user_id FROM ins i CROSS JOIN LATERAL ("
	"SELECT i.recipient_id AS user_id WHERE i.recipient_id IS NOT NULL "
	"UNION ALL SELECT gm.user_id FROM group_members gm "
	"WHERE i.recipient_id IS NULL AND gm.conversation_id = "
	"i.conversation_id AND gm.left_seq IS NULL "
	"AND gm.user_id <> i.sender_id) u "
	"WHERE NOT EXISTS (SELECT 1 FROM connections c "
	"WHERE c.user_id = u.user_id) ON CONFLICT DO NOTHING), "), 11 };
enum { SEND_INSERTED = MC_NCOLS, SEND_ACKED_AT, SEND_RECIPIENT_ONLINE,
       SEND_SENDER_OTHERS, SEND_IS_GROUP, SEND_IS_MEMBER };

enum db_status store_message(struct db *db, const struct message_in *in,
			     const char *conn_id, struct stored *out)
{
	const char *params[11] = {
		in->id, in->conversation_id, in->sender_id, in->sender_name,
		in->recipient_id, in->content, in->timestamp,
		in->reply_to_message_id, in->reply_to_content,
		in->reply_to_sender_name, conn_id,
	};
	enum db_status st;
	PGresult *r = db_run(db, in->queue_push ? &st_send_push : &st_send,
			     params, &st);

	*out = (struct stored){ 0 };
	if (r == NULL)
		return st;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return DB_ERROR;
	}
	out->is_group = flag(r, 0, SEND_IS_GROUP);
	out->is_member = flag(r, 0, SEND_IS_MEMBER);
	if (PQgetisnull(r, 0, SEND_INSERTED)) {
		PQclear(r);
		if (in->recipient_id == NULL ? !out->is_group || !out->is_member
					     : out->is_group)
			return DB_NOT_FOUND; /* the caller tells which */
		/* A concurrent insert of the same id: retry. */
		return DB_UNAVAILABLE;
	}
	out->inserted = flag(r, 0, SEND_INSERTED);
	out->acked_at = PQgetvalue(r, 0, SEND_ACKED_AT);
	out->recipient_online = flag(r, 0, SEND_RECIPIENT_ONLINE);
	out->sender_has_others = flag(r, 0, SEND_SENDER_OTHERS);
	return message_list_take(r, 1, &out->row);
}

void stored_free(struct stored *s)
{
	if (s != NULL)
		message_list_free(&s->row);
}

/* ---- ack, markRead ------------------------------------------------------ */

/* $1 ids text[], $2 user. One statement that applies what it may and
 * returns, for each requested id that is the user's (exists and is
 * addressed to them), whether this call changed it. Both scans are index
 * lookups by message_id (= ANY keeps them so in a generic plan; a join
 * with unnest() was planned as a hash join over the whole table).
 * Columns: RC_*; request order and skipped ids are store_receipts()'s. */
#define RECEIPT_SQL(set, from_status, at) \
	"WITH upd AS (UPDATE messages m SET " set \
	"  WHERE m.message_id = ANY($1::text[]) AND m.recipient_id = $2 " \
	"  AND m.status IN " from_status \
	"  RETURNING m.message_id, m.sender_id, m.conversation_id, " \
	"  m.is_deleted, " at " AS at) " \
	"SELECT m.message_id, upd.message_id IS NOT NULL, upd.sender_id, " \
	"  upd.conversation_id, upd.is_deleted, " UTC("upd.at") \
	" FROM messages m LEFT JOIN upd ON upd.message_id = m.message_id " \
	"WHERE m.message_id = ANY($1::text[]) AND m.recipient_id = $2"
enum { RC_ID, RC_CHANGED, RC_SENDER, RC_CONV, RC_DELETED, RC_AT };

static const struct statement st_ack = { "ack",
	RECEIPT_SQL("status = 'delivered', delivered_at = now()",
		    "('sent')", "m.delivered_at"), 2 };
static const struct statement st_read = { "read",
	RECEIPT_SQL("status = 'read', read_at = now(), "
		    "delivered_at = COALESCE(m.delivered_at, now())",
		    "('sent', 'delivered')", "m.read_at"), 2 };

/* $1 ids text[], $2 user: the same for group messages sent to the
 * user's membership periods (not by the user), each member's receipt a
 * group_receipts row. Columns: RC_*. */
#define GROUP_RECEIPT_SQL(status, read_at, conflict, at) \
	"WITH t AS (SELECT m.message_id, m.sender_id, m.conversation_id, " \
	"  m.is_deleted FROM messages m " \
	"  WHERE m.message_id = ANY($1::text[]) AND m.recipient_id IS NULL " \
	"  AND m.sender_id <> $2 AND EXISTS (SELECT 1 FROM group_members gm " \
	"  WHERE gm.conversation_id = m.conversation_id AND gm.user_id = $2 " \
	"  AND m.seq > gm.joined_seq AND (gm.left_seq IS NULL " \
	"  OR m.seq < gm.left_seq))), " \
	"upd AS (INSERT INTO group_receipts AS g (message_id, user_id, " \
	"  status, read_at) SELECT message_id, $2, '" status "', " read_at \
	"  FROM t ON CONFLICT (message_id, user_id) " conflict \
	"  RETURNING g.message_id, " at " AS at) " \
	"SELECT t.message_id, upd.message_id IS NOT NULL, t.sender_id, " \
	"  t.conversation_id, t.is_deleted, " UTC("upd.at") \
	" FROM t LEFT JOIN upd ON upd.message_id = t.message_id"

static const struct statement st_group_ack = { "group_ack",
	GROUP_RECEIPT_SQL("delivered", "NULL::timestamptz", "DO NOTHING",
			  "g.delivered_at"), 2 };
static const struct statement st_group_read = { "group_read",
	GROUP_RECEIPT_SQL("read", "now()", "DO UPDATE SET status = 'read', "
			  "read_at = now() WHERE g.status <> 'read'",
			  "g.read_at"), 2 };

/* The result row for `id`, or -1. */
static int find_row(PGresult *r, const char *id)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, RC_ID), id) == 0)
			return i;
	return -1;
}

/* The ids of ids[0..n) that are not in r (a text[] literal), or NULL
 * when all are; *none: no such id. */
static char *missing_ids(PGresult *r, const char *const *ids, int n,
			 bool *none)
{
	const char **rest = calloc((size_t)n + 1, sizeof(*rest));
	char *arr = NULL;
	int k = 0;

	*none = false;
	if (rest == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if (find_row(r, ids[i]) < 0)
			rest[k++] = ids[i];
	*none = k == 0;
	if (k > 0)
		arr = db_text_array(rest, k);
	free(rest);
	return arr;
}

enum db_status store_receipts(struct db *db, bool read, const char *user_id,
			      const char *const *ids, int nids,
			      struct receipt_list *out)
{
	char *arr = db_text_array(ids, nids);
	const char *params[2] = { arr, user_id };
	enum db_status st = DB_ERROR;
	PGresult *r = NULL, *g = NULL;
	bool none;

	*out = (struct receipt_list){ 0 };
	if (arr != NULL)
		r = db_run(db, read ? &st_read : &st_ack, params, &st);
	free(arr);
	if (r == NULL)
		return st;
	out->res = r;
	/* What is not a one-to-one message of the user's may be a group
	 * message sent to them: a second statement only then. */
	arr = missing_ids(r, ids, nids, &none);
	if (!none) {
		params[0] = arr;
		if (arr != NULL)
			g = db_run(db, read ? &st_group_read : &st_group_ack,
				   params, &st);
		free(arr);
		if (g == NULL) {
			receipt_list_free(out);
			return st;
		}
		out->group_res = g;
	}
	out->items = nids > 0 ? calloc((size_t)nids, sizeof(*out->items))
			      : NULL;
	if (nids > 0 && out->items == NULL) {
		receipt_list_free(out);
		return DB_ERROR;
	}
	/* In request order, each id once (at most max_ids_per_frame ids:
	 * the quadratic scans are a few hundred thousand compares at most). */
	for (int i = 0; i < nids; i++) {
		struct receipt *c = &out->items[out->n];
		PGresult *in = r;
		int row, k;
		for (k = 0; k < i && strcmp(ids[k], ids[i]) != 0; k++)
			;
		if (k < i)
			continue; /* a repeat */
		row = find_row(r, ids[i]);
		if (row < 0 && g != NULL && (row = find_row(g, ids[i])) >= 0) {
			in = g;
			c->group = true;
		}
		out->n++;
		c->id = ids[i];
		c->mine = row >= 0;
		c->changed = row >= 0 && flag(in, row, RC_CHANGED);
		if (c->changed) {
			c->sender_id = PQgetvalue(in, row, RC_SENDER);
			c->conversation_id = PQgetvalue(in, row, RC_CONV);
			c->is_deleted = flag(in, row, RC_DELETED);
			c->at = PQgetvalue(in, row, RC_AT);
		}
	}
	return DB_OK;
}

void receipt_list_free(struct receipt_list *l)
{
	if (l == NULL)
		return;
	free(l->items);
	PQclear(l->res);
	PQclear(l->group_res);
	*l = (struct receipt_list){ 0 };
}

/* ---- deleteMessage ------------------------------------------------------ */

/* $1 message, $2 user. The row as it was before this call, whether
 * this call deleted it, and whether the user is a member the group
 * message was sent to; the caller tells sender, recipient and stranger. */
static const struct statement st_delete = { "delete",
	"WITH upd AS (UPDATE messages SET is_deleted = true "
	"WHERE message_id = $1 AND sender_id = $2 AND NOT is_deleted "
	"RETURNING message_id) "
	"SELECT sender_id, recipient_id, conversation_id, status, "
	"(SELECT count(*) FROM upd) > 0, " UTC("now()") ", seq, "
	"recipient_id IS NULL AND EXISTS (SELECT 1 FROM group_members gm "
	"WHERE gm.conversation_id = m.conversation_id AND gm.user_id = $2 "
	"AND m.seq > gm.joined_seq AND (gm.left_seq IS NULL "
	"OR m.seq < gm.left_seq)) FROM messages m WHERE message_id = $1", 2 };
enum { DC_SENDER, DC_RECIPIENT, DC_CONV, DC_STATUS, DC_CHANGED, DC_AT,
       DC_SEQ, DC_MEMBER };

enum db_status store_delete(struct db *db, const char *message_id,
			    const char *user_id, struct deletion *out)
{
	const char *params[2] = { message_id, user_id };
	enum db_status st;
	PGresult *r = db_run(db, &st_delete, params, &st);

	*out = (struct deletion){ 0 };
	if (r == NULL)
		return st;
	out->res = r;
	out->found = PQntuples(r) == 1;
	if (out->found) {
		out->sender_id = PQgetvalue(r, 0, DC_SENDER);
		out->recipient_id = opt_value(r, 0, DC_RECIPIENT);
		out->conversation_id = PQgetvalue(r, 0, DC_CONV);
		out->status = PQgetvalue(r, 0, DC_STATUS);
		out->changed = flag(r, 0, DC_CHANGED);
		out->at = PQgetvalue(r, 0, DC_AT);
		out->seq = strtoll(PQgetvalue(r, 0, DC_SEQ), NULL, 10);
		out->member = flag(r, 0, DC_MEMBER);
	}
	return DB_OK;
}

void deletion_free(struct deletion *d)
{
	if (d == NULL)
		return;
	PQclear(d->res);
	*d = (struct deletion){ 0 };
}

/* ---- offline delivery, redelivery ---------------------------------------- */

/* $1 user, $2 after seq, $3 limit, $4 received before (unix ms) or
 * NULL. Columns: MSG_COLUMNS. The one-to-one messages addressed to the
 * user (messages_pending_idx), and the group messages sent to the user's
 * membership periods, from each period's acked_seq (group_catch_up()),
 * that the user did not send or ack (messages_conversation_idx). */
#define PENDING_BEFORE \
	"($4::bigint IS NULL OR received_at < to_timestamp($4::bigint / 1000.0))"
static const struct statement st_pending = { "pending",
	"(SELECT " MSG_COLUMNS " FROM messages "
	"WHERE recipient_id = $1 AND status = 'sent' AND NOT is_deleted "
	"AND seq > $2::bigint AND " PENDING_BEFORE
	" ORDER BY seq LIMIT $3::int) UNION ALL "
	"(SELECT x.* FROM group_members gm CROSS JOIN LATERAL ("
	"SELECT " MSG_COLUMNS " FROM messages "
	"WHERE conversation_id = gm.conversation_id AND recipient_id IS NULL "
	"AND seq > GREATEST(gm.joined_seq, gm.acked_seq, $2::bigint) "
	"AND (gm.left_seq IS NULL OR seq < gm.left_seq) "
	"AND sender_id <> $1 AND NOT is_deleted AND " PENDING_BEFORE
	" AND NOT EXISTS (SELECT 1 FROM group_receipts r "
	"WHERE r.message_id = messages.message_id AND r.user_id = $1) "
	"ORDER BY seq LIMIT $3::int) x WHERE gm.user_id = $1) "
	"ORDER BY seq LIMIT $3::int", 4 };

enum db_status store_pending(struct db *db, const char *user_id,
			     long long after, long long before_ms, long limit,
			     struct message_list *out)
{
	char after_s[24], limit_s[24], before_s[24];
	const char *params[4] = { user_id, after_s, limit_s,
				  before_ms > 0 ? before_s : NULL };
	enum db_status st;
	PGresult *r;

	*out = (struct message_list){ 0 };
	snprintf(after_s, sizeof(after_s), "%lld", after);
	snprintf(limit_s, sizeof(limit_s), "%ld", limit);
	snprintf(before_s, sizeof(before_s), "%lld", before_ms);
	r = db_run(db, &st_pending, params, &st);
	if (r == NULL)
		return st;
	return message_list_take(r, PQntuples(r), out);
}

/* ---- history -------------------------------------------------------------- */

/* $1 message, $2 conversation. Column: seq. */
static const struct statement st_before_seq = { "before_seq",
	"SELECT seq FROM messages "
	"WHERE message_id = $1 AND conversation_id = $2", 2 };

/* $1 conversation, $2 user, $3 before seq or NULL, $4 before time or
 * NULL, $5 limit. Columns: MSG_COLUMNS, the status of a group message
 * the user received being the user's own receipt. The user's one-to-one
 * messages, and of a group those the user sent or that were sent while
 * the user was a member. */
static const struct statement st_history = { "history",
	"SELECT " MSG_COLUMNS_STATUS("CASE WHEN recipient_id IS NULL AND "
	"sender_id <> $2 THEN COALESCE((SELECT r.status FROM group_receipts r "
	"WHERE r.message_id = m.message_id AND r.user_id = $2), 'sent') "
	"ELSE status END") " FROM messages m "
	"WHERE conversation_id = $1 AND (sender_id = $2 OR "
	"recipient_id = $2 OR (recipient_id IS NULL AND EXISTS (SELECT 1 "
	"FROM group_members gm WHERE gm.conversation_id = $1 "
	"AND gm.user_id = $2 AND m.seq > gm.joined_seq "
	"AND (gm.left_seq IS NULL OR m.seq < gm.left_seq)))) "
	"AND ($3::bigint IS NULL OR seq < $3::bigint) "
	"AND ($4::timestamptz IS NULL OR received_at < $4::timestamptz) "
	"ORDER BY seq DESC LIMIT $5::int", 5 };

enum db_status store_history(struct db *db, const char *conversation_id,
			     const char *user_id, const char *before,
			     int limit, struct message_list *out)
{
	const char *params[5] = { conversation_id, user_id, NULL, NULL, NULL };
	char seq[32], limit_s[16];
	enum db_status st;
	PGresult *r;

	*out = (struct message_list){ 0 };
	if (before != NULL) {
		const char *bp[2] = { before, conversation_id };
		r = db_run(db, &st_before_seq, bp, &st);
		if (r == NULL)
			return st;
		if (PQntuples(r) == 1) {
			snprintf(seq, sizeof(seq), "%s", PQgetvalue(r, 0, 0));
			params[2] = seq;
		} else if (valid_rfc3339(before)) {
			params[3] = before;
		}
		PQclear(r);
		if (params[2] == NULL && params[3] == NULL)
			return DB_NOT_FOUND;
	}
	snprintf(limit_s, sizeof(limit_s), "%d", limit);
	params[4] = limit_s;
	r = db_run(db, &st_history, params, &st);
	if (r == NULL)
		return st;
	return message_list_take(r, PQntuples(r), out);
}

/* ---- connections ------------------------------------------------------------ */

/* $1 connection, $2 user, $3 ttl seconds, $4 max connections of the user.
 * No row back: the user already holds $4 connections. A soft limit: two
 * connects at the same instant may both pass. */
static const struct statement st_connect = { "connect",
	"INSERT INTO connections "
	"(connection_id, user_id, connected_at, expires_at) "
	"SELECT $1, $2, now(), now() + make_interval(secs => $3::int) "
	"WHERE (SELECT count(*) FROM connections WHERE user_id = $2 "
	"AND connection_id <> $1) < $4::int "
	"ON CONFLICT (connection_id) DO UPDATE SET "
	"user_id = EXCLUDED.user_id, connected_at = EXCLUDED.connected_at, "
	"expires_at = EXCLUDED.expires_at RETURNING 1", 4 };

/* $1 connection. */
static const struct statement st_disconnect = { "disconnect",
	"DELETE FROM connections WHERE connection_id = $1", 1 };

/* $1 connection, $2 ttl seconds. */
static const struct statement st_touch = { "touch",
	"UPDATE connections SET expires_at = "
	"now() + make_interval(secs => $2::int) "
	"WHERE connection_id = $1", 2 };

/* $1 the NOTIFY channel, $2 the payloads text[]: sent in their order
 * (pg_notify is volatile: evaluated row by row, after the ORDER BY). */
static const struct statement st_notify = { "notify",
	"SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY "
	"AS t(p, i) ORDER BY i", 2 };

/* Runs a statement whose rows are not needed. */
static enum db_status run_only(struct db *db, const struct statement *s,
			       const char *const *params, int *rows)
{
	enum db_status st;
	PGresult *r = db_run(db, s, params, &st);

	if (r != NULL && rows != NULL)
		*rows = PQntuples(r);
	PQclear(r);
	return st;
}

enum db_status store_connect(struct db *db, const char *conn_id,
			     const char *user_id, long ttl, long max)
{
	char ttl_s[24], max_s[24];
	const char *params[4] = { conn_id, user_id, ttl_s, max_s };
	enum db_status st;
	int rows = 0;

	snprintf(ttl_s, sizeof(ttl_s), "%ld", ttl);
	snprintf(max_s, sizeof(max_s), "%ld", max);
	st = run_only(db, &st_connect, params, &rows);
	return st == DB_OK && rows == 0 ? DB_FULL : st;
}

enum db_status store_disconnect(struct db *db, const char *conn_id)
{
	const char *params[1] = { conn_id };
	return run_only(db, &st_disconnect, params, NULL);
}

/* No parameters. Columns: connection rows; one-to-one messages no
 * device acked (messages_pending_idx). */
static const struct statement st_counts = { "counts",
	"SELECT (SELECT count(*) FROM connections), (SELECT count(*) FROM "
	"messages WHERE status = 'sent' AND NOT is_deleted "
	"AND recipient_id IS NOT NULL)", 0 };

enum db_status store_counts(struct db *db, long long *connections,
			    long long *pending)
{
	enum db_status st;
	PGresult *r = db_run(db, &st_counts, NULL, &st);

	*connections = *pending = -1;
	if (r == NULL)
		return st;
	*connections = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*pending = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return DB_OK;
}

enum db_status store_touch(struct db *db, const char *conn_id, long ttl)
{
	char ttl_s[24];
	const char *params[2] = { conn_id, ttl_s };

	snprintf(ttl_s, sizeof(ttl_s), "%ld", ttl);
	return run_only(db, &st_touch, params, NULL);
}

enum db_status store_notify(struct db *db, const char *name,
			    char *const *payloads, int n)
{
	char *arr = db_text_array((const char *const *)payloads, n);
	const char *params[2] = { name, arr };
	enum db_status st;

	if (arr == NULL)
		return DB_ERROR;
	st = run_only(db, &st_notify, params, NULL);
	free(arr);
	return st;
}
