/* db.c - see db.h.
 *
 * Trust: the database is trusted; its answers are not re-validated.
 * Parameters come from validated requests but are still only ever
 * passed as parameters.
 */
#include "common.h"
#include "db.h"
#include "buf.h"
#include "log.h"

/* RFC 3339 UTC, whole seconds, as the original design wrote times. */
#define UTC(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The message as events carry it; order matches enum msg_col. A deleted
 * message's content is never served again. */
#define MSG_COLUMNS \
	"message_id, conversation_id, sender_id, sender_name, recipient_id, " \
	"CASE WHEN is_deleted THEN '' ELSE content END, " \
	"COALESCE(sent_at_text, " UTC("received_at") "), " \
	"status, is_deleted, reply_to_message_id, " \
	"CASE WHEN is_deleted AND reply_to_content IS NOT NULL THEN '' " \
	"ELSE reply_to_content END, reply_to_sender_name, seq"

/* ack and markRead: one statement each that applies what it may and
 * reports, per requested id in request order, whether the id is the
 * user's (else skipped) and whether this call changed it (then the
 * sender gets a status event). */
#define RECEIPT_SQL(set, from_status, at) \
	"WITH req AS (SELECT id, min(ord) AS ord " \
	"  FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord) " \
	"  GROUP BY id), " \
	"upd AS (UPDATE messages m SET " set " FROM req " \
	"  WHERE m.message_id = req.id AND m.recipient_id = $2 " \
	"  AND m.status IN " from_status \
	"  RETURNING m.message_id, m.sender_id, m.conversation_id, " \
	"  m.is_deleted, " at " AS at) " \
	"SELECT req.id, m.message_id IS NOT NULL, upd.message_id IS NOT NULL, " \
	"  upd.sender_id, upd.conversation_id, upd.is_deleted, " \
	UTC("upd.at") \
	" FROM req LEFT JOIN messages m " \
	"  ON m.message_id = req.id AND m.recipient_id = $2 " \
	"LEFT JOIN upd ON upd.message_id = req.id ORDER BY req.ord"

static const struct {
	const char *name;
	const char *sql;
	int nparams;
} statements[S_COUNT] = {
	/* No row back: the user already holds $4 connections. A soft
	 * limit: two connects at the same instant may both pass. */
	[S_CONNECT] = { "connect",
		"INSERT INTO connections "
		"(connection_id, user_id, connected_at, expires_at) "
		"SELECT $1, $2, now(), now() + make_interval(secs => $3::int) "
		"WHERE (SELECT count(*) FROM connections WHERE user_id = $2 "
		"AND connection_id <> $1) < $4::int "
		"ON CONFLICT (connection_id) DO UPDATE SET "
		"user_id = EXCLUDED.user_id, connected_at = EXCLUDED.connected_at, "
		"expires_at = EXCLUDED.expires_at RETURNING 1", 4 },
	[S_DISCONNECT] = { "disconnect",
		"DELETE FROM connections WHERE connection_id = $1", 1 },
	[S_TOUCH] = { "touch",
		"UPDATE connections SET expires_at = "
		"now() + make_interval(secs => $2::int) "
		"WHERE connection_id = $1", 2 },
	/* Idempotent insert: a new row, or the existing row with the same
	 * message_id (inserted = false) so the caller can tell a duplicate
	 * from a conflict. The last column is the ack's timestamp. */
	[S_SEND] = { "send",
		"WITH ins AS (INSERT INTO messages (message_id, conversation_id, "
		"sender_id, sender_name, recipient_id, content, sent_at, "
		"sent_at_text, reply_to_message_id, reply_to_content, "
		"reply_to_sender_name) VALUES ($1, $2, $3, $4, $5, $6, "
		"$7::text::timestamptz, $7::text, $8, $9, $10) "
		"ON CONFLICT (message_id) DO NOTHING "
		"RETURNING " MSG_COLUMNS ", true AS inserted, "
		UTC("received_at") ") "
		"SELECT * FROM ins UNION ALL "
		"SELECT " MSG_COLUMNS ", false, " UTC("received_at")
		" FROM messages WHERE message_id = $1 "
		"AND NOT EXISTS (SELECT 1 FROM ins)", 10 },
	[S_PENDING] = { "pending",
		"SELECT " MSG_COLUMNS " FROM messages "
		"WHERE recipient_id = $1 AND status = 'sent' AND NOT is_deleted "
		"AND seq > $2::bigint AND ($4::int IS NULL OR "
		"received_at < now() - make_interval(secs => $4::int)) "
		"ORDER BY seq LIMIT $3::int", 4 },
	[S_ACK] = { "ack",
		RECEIPT_SQL("status = 'delivered', delivered_at = now()",
			    "('sent')", "m.delivered_at"), 2 },
	[S_READ] = { "read",
		RECEIPT_SQL("status = 'read', read_at = now(), "
			    "delivered_at = COALESCE(m.delivered_at, now())",
			    "('sent', 'delivered')", "m.read_at"), 2 },
	/* The row as it was before this call, and whether this call
	 * deleted it; the caller tells sender, recipient and stranger. */
	[S_DELETE] = { "delete",
		"WITH upd AS (UPDATE messages SET is_deleted = true "
		"WHERE message_id = $1 AND sender_id = $2 AND NOT is_deleted "
		"RETURNING message_id) "
		"SELECT sender_id, recipient_id, conversation_id, status, "
		"(SELECT count(*) FROM upd) > 0, " UTC("now()")
		" FROM messages WHERE message_id = $1", 2 },
	[S_BEFORE_SEQ] = { "before_seq",
		"SELECT seq FROM messages "
		"WHERE message_id = $1 AND conversation_id = $2", 2 },
	[S_HISTORY] = { "history",
		"SELECT " MSG_COLUMNS " FROM messages "
		"WHERE conversation_id = $1 AND (sender_id = $2 OR "
		"recipient_id = $2) AND ($3::bigint IS NULL OR seq < $3::bigint) "
		"AND ($4::timestamptz IS NULL OR received_at < $4::timestamptz) "
		"ORDER BY seq DESC LIMIT $5::int", 5 },
	/* One batch of the expiry job: short, and SKIP LOCKED so that two
	 * jobs at once, or a connect touching the row, never wait. */
	[S_EXPIRE] = { "expire",
		"WITH doomed AS (SELECT connection_id FROM connections "
		"WHERE expires_at < now() ORDER BY expires_at LIMIT $1::int "
		"FOR UPDATE SKIP LOCKED) "
		"DELETE FROM connections c USING doomed d "
		"WHERE c.connection_id = d.connection_id", 1 },
	[S_LIST_CONNS] = { "list_conns",
		"SELECT connection_id FROM connections WHERE connection_id > $1 "
		"AND connected_at < now() - make_interval(secs => $3::int) "
		"ORDER BY connection_id LIMIT $2::int", 3 },
	[S_DROP_CONNS] = { "drop_conns",
		"DELETE FROM connections WHERE connection_id = ANY($1::text[]) "
		"AND connected_at < now() - make_interval(secs => $2::int)", 2 },
};

struct db {
	char *conninfo;
	char *appname;
	PGconn *conn;
	bool prepared;
};

struct db *db_new(const char *conninfo, const char *application_name)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->conninfo = strdup(conninfo);
	db->appname = strdup(application_name);
	if (db->conninfo == NULL || db->appname == NULL) {
		db_free(db);
		return NULL;
	}
	return db;
}

void db_free(struct db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->conninfo);
	free(db->appname);
	free(db);
}

static void disconnect(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->prepared = false;
}

static bool connect_db(struct db *db)
{
	/* Defaults first: keys expanded from the connection string come
	 * later and win. */
	const char *keys[] = { "connect_timeout", "application_name",
			       "dbname", NULL };
	const char *vals[] = { "5", db->appname, db->conninfo, NULL };
	PGresult *r;

	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_error("database connection failed: %s",
			  db->conn ? PQerrorMessage(db->conn) : "out of memory");
		disconnect(db);
		return false;
	}
	/* A request must never hang on a lock: Pushpin gives up anyway. */
	r = PQexec(db->conn, "SET statement_timeout = '10s'");
	PQclear(r);
	return true;
}

static bool prepare_all(struct db *db)
{
	for (int i = 0; i < S_COUNT; i++) {
		PGresult *r = PQprepare(db->conn, statements[i].name,
					statements[i].sql,
					statements[i].nparams, NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("prepare %s failed: %s", statements[i].name,
				  PQresultErrorMessage(r));
		PQclear(r);
		if (!ok)
			return false;
	}
	db->prepared = true;
	return true;
}

PGconn *db_conn(struct db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK)
		disconnect(db);
	if (db->conn == NULL && !connect_db(db))
		return NULL;
	return db->conn;
}

/* Errors that a new connection or a second try can cure. */
static bool transient(PGresult *r, PGconn *conn)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK || state == NULL)
		return true;
	return strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	       strncmp(state, "53", 2) == 0 || strcmp(state, "40001") == 0 ||
	       strcmp(state, "40P01") == 0;
}

static PGresult *run(struct db *db, enum stmt s, const char *sql,
		     const char *const *params, enum db_status *st)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		ExecStatusType rs;

		if (db_conn(db) == NULL) {
			*st = DB_UNAVAILABLE;
			continue;
		}
		if (sql == NULL && !db->prepared && !prepare_all(db)) {
			disconnect(db);
			*st = DB_UNAVAILABLE;
			continue;
		}
		r = sql ? PQexec(db->conn, sql)
			: PQexecPrepared(db->conn, statements[s].name,
					 statements[s].nparams, params, NULL,
					 NULL, 0);
		rs = PQresultStatus(r);
		if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
			*st = DB_OK;
			return r;
		}
		if (!transient(r, db->conn)) {
			log_error("query %s failed: %s",
				  sql ? "(sql)" : statements[s].name,
				  PQresultErrorMessage(r));
			PQclear(r);
			*st = DB_ERROR;
			return NULL;
		}
		log_warn("query %s failed, %s: %s",
			 sql ? "(sql)" : statements[s].name,
			 attempt == 0 ? "retrying" : "giving up",
			 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		PQclear(r);
		if (PQstatus(db->conn) != CONNECTION_OK)
			disconnect(db);
		*st = DB_UNAVAILABLE;
	}
	return NULL;
}

PGresult *db_run(struct db *db, enum stmt s, const char *const *params,
		 enum db_status *st)
{
	return run(db, s, NULL, params, st);
}

char *db_text_array(const char *const *ids, int n)
{
	struct buf b;

	/* Ids are printable ASCII: inside a quoted element only '"' and
	 * '\' need a backslash. */
	buf_init(&b);
	buf_puts(&b, "{");
	for (int i = 0; i < n; i++) {
		buf_puts(&b, i ? ",\"" : "\"");
		for (const char *p = ids[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, p, 1);
		}
		buf_puts(&b, "\"");
	}
	buf_puts(&b, "}");
	if (b.oom || b.data == NULL) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

PGresult *db_exec(struct db *db, const char *sql, enum db_status *st)
{
	return run(db, S_COUNT, sql, NULL, st);
}
