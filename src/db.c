/* db.c - see db.h.
 *
 * Trust: the database is trusted; its answers are not re-validated.
 * Parameters come from validated requests but are still only ever
 * passed as parameters.
 */
#include "common.h"

#include <libpq-fe.h>

#include "db.h"
#include "buf.h"
#include "log.h"

/* Statements one program may prepare on a connection. */
#define MAX_PREPARED 32

struct db {
	char *conninfo;
	char *appname;
	PGconn *conn;
	unsigned gen; /* counts connections opened */
	/* what is prepared on `conn`; emptied when it is closed */
	const struct statement *prepared[MAX_PREPARED];
	int nprepared;
	/* a transaction is open (db_begin) on connection txn_gen; failed:
	 * a statement in it failed, so COMMIT must not be believed */
	bool txn, txn_failed;
	unsigned txn_gen;
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

static void db_close(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
}

void db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_close(db);
	free(db->conninfo);
	free(db->appname);
	free(db);
}

static bool db_open(struct db *db)
{
	/* Defaults first: keys expanded from the connection string come
	 * later and win. */
	const char *keys[] = { "connect_timeout", "application_name",
			       "dbname", NULL };
	const char *vals[] = { "5", db->appname, db->conninfo, NULL };
	PGresult *r;

	db->gen++;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_error("database connection failed: %s",
			  db->conn ? PQerrorMessage(db->conn) : "out of memory");
		db_close(db);
		return false;
	}
	/* A request must never hang on a lock: Pushpin gives up anyway. */
	r = PQexec(db->conn, "SET statement_timeout = '10s'");
	PQclear(r);
	return true;
}

PGconn *db_conn(struct db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK)
		db_close(db);
	if (db->conn == NULL && !db_open(db))
		return NULL;
	return db->conn;
}

static bool db_prepare(struct db *db, const struct statement *s)
{
	PGresult *r;
	bool ok;

	for (int i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == s)
			return true;
	if (db->nprepared == MAX_PREPARED) {
		log_error("prepare %s: more than %d statements", s->name,
			  MAX_PREPARED);
		return false;
	}
	r = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (ok)
		db->prepared[db->nprepared++] = s;
	else
		log_error("prepare %s failed: %s", s->name,
			  PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* Errors that a new connection or a second try can cure. */
static bool db_transient(PGresult *r, PGconn *conn)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK || state == NULL)
		return true;
	return strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	       strncmp(state, "53", 2) == 0 || strcmp(state, "40001") == 0 ||
	       strcmp(state, "40P01") == 0;
}

/* s == NULL: plain `sql`. Inside a transaction a statement runs once,
 * on the transaction's own connection: a retry on a new one would run
 * it outside the transaction, whose earlier work is gone. */
static PGresult *db_call(struct db *db, const struct statement *s,
			 const char *sql, const char *const *params,
			 enum db_status *st)
{
	const char *what = s ? s->name : "(sql)";

	if (db->txn && (db->txn_failed || db->conn == NULL ||
			db->gen != db->txn_gen ||
			PQstatus(db->conn) != CONNECTION_OK)) {
		db->txn_failed = true;
		*st = DB_UNAVAILABLE;
		return NULL;
	}
	for (int attempt = 0; attempt < (db->txn ? 1 : 2); attempt++) {
		PGresult *r;
		ExecStatusType rs;

		if (db_conn(db) == NULL) {
			*st = DB_UNAVAILABLE;
			continue;
		}
		if (s != NULL && !db_prepare(db, s)) {
			db_close(db);
			*st = DB_UNAVAILABLE;
			continue;
		}
		r = s ? PQexecPrepared(db->conn, s->name, s->nparams, params,
				       NULL, NULL, 0)
		      : PQexec(db->conn, sql);
		rs = PQresultStatus(r);
		if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
			*st = DB_OK;
			return r;
		}
		db->txn_failed = db->txn;
		if (!db_transient(r, db->conn)) {
			log_error("query %s failed: %s", what,
				  PQresultErrorMessage(r));
			PQclear(r);
			*st = DB_ERROR;
			return NULL;
		}
		log_warn("query %s failed, %s: %s", what,
			 attempt == 0 ? "retrying" : "giving up",
			 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		PQclear(r);
		if (PQstatus(db->conn) != CONNECTION_OK)
			db_close(db);
		*st = DB_UNAVAILABLE;
	}
	return NULL;
}

PGresult *db_run(struct db *db, const struct statement *s,
		 const char *const *params, enum db_status *st)
{
	return db_call(db, s, NULL, params, st);
}

PGresult *db_exec(struct db *db, const char *sql, enum db_status *st)
{
	return db_call(db, NULL, sql, NULL, st);
}

enum db_status db_begin(struct db *db)
{
	enum db_status st;
	PGresult *r;

	if (db->txn)
		return DB_ERROR;
	r = db_exec(db, "BEGIN", &st);
	PQclear(r);
	if (st == DB_OK) {
		db->txn = true;
		db->txn_failed = false;
		db->txn_gen = db->gen;
	}
	return st;
}

enum db_status db_commit(struct db *db)
{
	enum db_status st = DB_UNAVAILABLE;
	bool same = db->conn != NULL && db->gen == db->txn_gen &&
		    PQstatus(db->conn) == CONNECTION_OK;
	PGresult *r;

	if (!db->txn)
		return DB_ERROR;
	if (same && !db->txn_failed) {
		r = PQexec(db->conn, "COMMIT");
		/* COMMIT of a failed transaction answers OK, as ROLLBACK. */
		if (PQresultStatus(r) == PGRES_COMMAND_OK &&
		    strcmp(PQcmdStatus(r), "COMMIT") == 0)
			st = DB_OK;
		else
			log_warn("commit failed: %s", r ? PQresultErrorMessage(r)
							 : "no answer");
		PQclear(r);
	} else if (same) {
		PQclear(PQexec(db->conn, "ROLLBACK"));
	}
	db->txn = false;
	if (st != DB_OK && db->conn != NULL &&
	    PQstatus(db->conn) != CONNECTION_OK)
		db_close(db);
	return st;
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

void db_rollback(struct db *db)
{
	if (!db->txn)
		return;
	db->txn_failed = true;
	if (db_commit(db) == DB_OK) /* rolls back: never OK */
		log_error("a rollback reported a commit");
}
