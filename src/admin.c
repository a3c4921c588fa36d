/* admin.c - see admin.h. Each statement's parameter order ($n) and
 * column order stand next to its SQL; nothing else knows them.
 *
 * Trust: as db.c: the database's answers are trusted; the user and
 * connection ids come from the operator's command line, are checked as
 * ids by parley-admin and only ever travel as parameters. The grants
 * these statements need are sql/006_admin.sql's role parley_admin.
 */
#include "common.h"

#include <libpq-fe.h>

#include "admin.h"

#define UTC SQL_UTC

/* ---- connections ----------------------------------------------------------- */

/* The columns of struct admin_conn, in this order. */
#define CONN_COLUMNS \
	"connection_id, user_id, " UTC("connected_at") ", " \
	UTC("expires_at") ", expires_at < now()"
enum { CC_ID, CC_USER, CC_CONNECTED, CC_EXPIRES, CC_EXPIRED };

/* $1 user. Columns: CONN_COLUMNS (connections_user_id_idx). */
static const struct statement st_user_conns = { "admin_user_conns",
	"SELECT " CONN_COLUMNS " FROM connections WHERE user_id = $1 "
	"ORDER BY connected_at, connection_id", 1 };

/* $1 connection. Columns: CONN_COLUMNS. */
static const struct statement st_find_conn = { "admin_find_conn",
	"SELECT " CONN_COLUMNS " FROM connections WHERE connection_id = $1",
	1 };

/* $1 connection. */
static const struct statement st_drop_conn = { "admin_drop_conn",
	"DELETE FROM connections WHERE connection_id = $1", 1 };

static enum db_status conn_list(struct db *db, const struct statement *s,
				const char *param, struct admin_conn_list *out)
{
	const char *params[1] = { param };
	enum db_status st;
	PGresult *r = db_run(db, s, params, &st);
	int n;

	*out = (struct admin_conn_list){ 0 };
	if (r == NULL)
		return st;
	out->res = r;
	n = PQntuples(r);
	out->items = n > 0 ? calloc((size_t)n, sizeof(*out->items)) : NULL;
	if (n > 0 && out->items == NULL) {
		admin_conn_list_free(out);
		return DB_ERROR;
	}
	for (out->n = 0; out->n < n; out->n++) {
		struct admin_conn *c = &out->items[out->n];
		c->id = PQgetvalue(r, out->n, CC_ID);
		c->user_id = PQgetvalue(r, out->n, CC_USER);
		c->connected_at = PQgetvalue(r, out->n, CC_CONNECTED);
		c->expires_at = PQgetvalue(r, out->n, CC_EXPIRES);
		c->expired = PQgetvalue(r, out->n, CC_EXPIRED)[0] == 't';
	}
	return DB_OK;
}

enum db_status admin_user_conns(struct db *db, const char *user_id,
				struct admin_conn_list *out)
{
	return conn_list(db, &st_user_conns, user_id, out);
}

enum db_status admin_find_conn(struct db *db, const char *conn_id,
			       struct admin_conn_list *out)
{
	return conn_list(db, &st_find_conn, conn_id, out);
}

void admin_conn_list_free(struct admin_conn_list *l)
{
	if (l == NULL)
		return;
	free(l->items);
	PQclear(l->res);
	*l = (struct admin_conn_list){ 0 };
}

enum db_status admin_drop_conn(struct db *db, const char *conn_id,
			       bool *dropped)
{
	const char *params[1] = { conn_id };
	enum db_status st;
	PGresult *r = db_run(db, &st_drop_conn, params, &st);

	*dropped = false;
	if (r == NULL)
		return st;
	*dropped = strtol(PQcmdTuples(r), NULL, 10) > 0;
	PQclear(r);
	return DB_OK;
}

/* ---- counts ------------------------------------------------------------------ */

/* No parameters. One scan of messages (an operator's question, not a
 * worker's: no index serves it), the other tables counted beside it.
 * Columns: KC_*. Whether push_queue exists (sql/005_push.sql) and may
 * be read is asked of the catalog: a statement naming a missing table
 * could not even be prepared. */
static const struct statement st_counts = { "admin_counts",
	"SELECT (SELECT count(*) FROM connections), "
	"(SELECT count(*) FROM connections WHERE expires_at < now()), "
	"(SELECT count(DISTINCT user_id) FROM connections), "
	"count(*) FILTER (WHERE recipient_id IS NOT NULL AND status = 'sent'), "
	"count(*) FILTER (WHERE recipient_id IS NOT NULL "
	"AND status = 'delivered'), "
	"count(*) FILTER (WHERE recipient_id IS NOT NULL AND status = 'read'), "
	"count(*) FILTER (WHERE recipient_id IS NOT NULL AND is_deleted), "
	"count(*) FILTER (WHERE recipient_id IS NOT NULL AND status = 'sent' "
	"AND NOT is_deleted), "
	"count(*) FILTER (WHERE recipient_id IS NULL), "
	"(SELECT count(*) FROM groups), "
	"(SELECT count(*) FROM group_members WHERE left_seq IS NULL), "
	"(SELECT count(*) FROM group_receipts WHERE status = 'delivered'), "
	"(SELECT count(*) FROM group_receipts WHERE status = 'read'), "
	"to_regclass('push_queue') IS NOT NULL, "
	"COALESCE(has_table_privilege(to_regclass('push_queue'), 'SELECT'), "
	"false) FROM messages", 0 };
enum { KC_CONNS, KC_EXPIRED, KC_USERS, KC_SENT, KC_DELIVERED, KC_READ,
       KC_DELETED, KC_PENDING, KC_GROUP_MSGS, KC_GROUPS, KC_MEMBERS,
       KC_RC_DELIVERED, KC_RC_READ, KC_PUSH_EXISTS, KC_PUSH_READABLE };

/* No parameters; run only when push_queue exists and may be read.
 * Columns: rows (pushes not done: parley-push deletes each one done or
 * dropped), rows that failed at least once. */
static const struct statement st_push_counts = { "admin_push_counts",
	"SELECT count(*), count(*) FILTER (WHERE attempts > 0) "
	"FROM push_queue", 0 };

static long long count_at(PGresult *r, int col)
{
	return strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

enum db_status admin_counts(struct db *db, struct admin_counts *out)
{
	enum db_status st;
	PGresult *r = db_run(db, &st_counts, NULL, &st);

	*out = (struct admin_counts){ 0 };
	if (r == NULL)
		return st;
	out->connections = count_at(r, KC_CONNS);
	out->expired = count_at(r, KC_EXPIRED);
	out->users_online = count_at(r, KC_USERS);
	out->sent = count_at(r, KC_SENT);
	out->delivered = count_at(r, KC_DELIVERED);
	out->read = count_at(r, KC_READ);
	out->deleted = count_at(r, KC_DELETED);
	out->pending = count_at(r, KC_PENDING);
	out->group_messages = count_at(r, KC_GROUP_MSGS);
	out->groups = count_at(r, KC_GROUPS);
	out->members = count_at(r, KC_MEMBERS);
	out->receipts_delivered = count_at(r, KC_RC_DELIVERED);
	out->receipts_read = count_at(r, KC_RC_READ);
	out->push = PQgetvalue(r, 0, KC_PUSH_EXISTS)[0] != 't'
			    ? ADMIN_PUSH_ABSENT
		    : PQgetvalue(r, 0, KC_PUSH_READABLE)[0] != 't'
			    ? ADMIN_PUSH_UNREADABLE
			    : ADMIN_PUSH_OK;
	PQclear(r);
	if (out->push != ADMIN_PUSH_OK)
		return DB_OK;
	r = db_run(db, &st_push_counts, NULL, &st);
	if (r == NULL)
		return st;
	out->push_queued = count_at(r, 0);
	out->push_retrying = count_at(r, 1);
	PQclear(r);
	return DB_OK;
}

/* ---- archive ---------------------------------------------------------------- */

/* $1 days, $2 batch. Column: the number moved. */
static const struct statement st_archive = { "admin_archive",
	"SELECT parley_archive_messages(make_interval(days => $1::int), "
	"$2::int)", 2 };

enum db_status admin_archive_batch(struct db *db, long days, long batch,
				   long long *moved)
{
	char d[24], b[24];
	const char *params[2] = { d, b };
	enum db_status st;
	PGresult *r;

	snprintf(d, sizeof(d), "%ld", days);
	snprintf(b, sizeof(b), "%ld", batch);
	*moved = 0;
	r = db_run(db, &st_archive, params, &st);
	if (r == NULL)
		return st;
	*moved = count_at(r, 0);
	PQclear(r);
	return DB_OK;
}
