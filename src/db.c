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
#include "metrics.h"
#include "settings.h"

/* Statements one program may prepare on a connection. */
#define MAX_PREPARED 32

/* After a lock wait or a statement timed out, the database is taken as
 * stuck for this long: calls answer DB_UNAVAILABLE at once instead of
 * each holding the worker for lock_timeout again, so the requests
 * queued behind it (in lighttpd, in Pushpin) get their `unavailable`
 * within a couple of seconds, not one lock_timeout after another. The
 * first call after it tries for real. */
#define STUCK_MS 1000

struct db {
	char *conninfo;
	char *appname;
	PGconn *conn;
	unsigned gen; /* counts connections opened */
	/* database_pool_mode = transaction: statements go unnamed, no
	 * session setting is made (db.h) */
	bool pooled;
	bool timeouts_checked; /* pooled: db_check_timeouts() got an answer */
	bool opened;  /* one was made: the next is a reconnect (metrics) */
	/* what is prepared on `conn`; emptied when it is closed */
	const struct statement *prepared[MAX_PREPARED];
	int nprepared;
	/* a transaction is open (db_begin) on connection txn_gen; failed:
	 * a statement in it failed, so COMMIT must not be believed */
	bool txn, txn_failed;
	unsigned txn_gen;
	int64_t stuck_until_ms; /* monotonic; see STUCK_MS */
	int64_t failed_log_ms;  /* a failed connect was last logged */
	unsigned failed_quiet;  /* failed connects not logged since */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

struct db *db_new_settings(const struct settings *cfg,
			   const char *application_name)
{
	struct db *db = db_new(cfg->database_url, application_name);

	if (db != NULL)
		db->pooled = strcmp(cfg->database_pool_mode, "transaction") == 0;
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

/* Through a transaction-mode pooler the backpressure timeouts (see
 * db_open) are the pooler's to set on its server connections: a SET
 * sent from here would stay on whichever server connection ran it, for
 * whichever client gets that one next, and the others would have none.
 * So this only looks at the server connection it lands on, once, and
 * says so when they are off. */
static void db_check_timeouts(struct db *db)
{
	PGresult *r;

	if (db->timeouts_checked)
		return;
	r = PQexec(db->conn, "SELECT current_setting('lock_timeout'), "
			     "current_setting('statement_timeout')");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    PQnfields(r) == 2) {
		db->timeouts_checked = true;
		if (strcmp(PQgetvalue(r, 0, 0), "0") == 0 ||
		    strcmp(PQgetvalue(r, 0, 1), "0") == 0)
			log_warn("database_pool_mode = transaction, and the "
				 "server connection has lock_timeout %s and "
				 "statement_timeout %s: set them where the "
				 "pooler opens its connections (PgBouncer: "
				 "connect_query; README, PgBouncer), or a "
				 "stuck database holds every worker",
				 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	}
	PQclear(r);
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
		/* Every request tries again: one line a second is enough. */
		int64_t now = now_ms();

		metrics_add(M_DB_FAILURES, 1);
		if (now - db->failed_log_ms >= 1000) {
			log_error("database connection failed: %s%s",
				  db->conn ? PQerrorMessage(db->conn)
					   : "out of memory",
				  db->failed_quiet ? " (and more failures "
						     "not logged)" : "");
			db->failed_log_ms = now;
			db->failed_quiet = 0;
		} else {
			db->failed_quiet++;
		}
		db_close(db);
		return false;
	}
	if (db->opened)
		metrics_add(M_DB_RECONNECTS, 1);
	db->opened = true;
	if (db->failed_log_ms != 0) {
		log_info("database connection is back");
		db->failed_log_ms = 0;
		db->failed_quiet = 0;
	}
	/* Backpressure: a request must not hold its worker while the
	 * database is stuck. A lock wait gives up after 2 s and any
	 * statement after 10 s, and the client gets `unavailable` (retry):
	 * with all workers waiting, every other connection's requests
	 * would queue behind them in lighttpd and Pushpin. Through a
	 * transaction-mode pooler these are the pooler's (pgbouncer/
	 * pgbouncer.ini.in has the same values). */
	if (db->pooled) {
		db_check_timeouts(db);
		return true;
	}
	r = PQexec(db->conn, "SET lock_timeout = '2s'; "
			     "SET statement_timeout = '10s'");
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

/* The errors a named statement gets through a transaction-mode pooler
 * with database_pool_mode = session: 26000, prepared on another server
 * connection; 42P05, another client prepared it on this one. */
static const char *pooler_hint(const struct db *db, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (db->pooled || state == NULL ||
	    (strcmp(state, "26000") != 0 && strcmp(state, "42P05") != 0))
		return "";
	return " (a transaction-mode pooler in between? it needs "
	       "database_pool_mode = transaction)";
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
		log_error("prepare %s failed: %s%s", s->name,
			  PQresultErrorMessage(r), pooler_hint(db, r));
	PQclear(r);
	return ok;
}

/* A lock wait or a statement that timed out (lock_timeout,
 * statement_timeout): the database is stuck, and a second try would
 * hold the worker as long again. */
static bool db_timed_out(PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL &&
	       (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0);
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
	if (db->stuck_until_ms != 0) {
		if (now_ms() < db->stuck_until_ms) {
			db->txn_failed = db->txn;
			*st = DB_UNAVAILABLE;
			return NULL;
		}
		db->stuck_until_ms = 0;
	}
	for (int attempt = 0; attempt < (db->txn ? 1 : 2); attempt++) {
		PGresult *r;
		ExecStatusType rs;

		if (db_conn(db) == NULL) {
			*st = DB_UNAVAILABLE;
			continue;
		}
		if (s != NULL && !db->pooled && !db_prepare(db, s)) {
			db_close(db);
			*st = DB_UNAVAILABLE;
			continue;
		}
		/* Pooled: the unnamed statement, parsed and planned here
		 * (Parse, Bind, Execute in one round trip). */
		if (s == NULL)
			r = PQexec(db->conn, sql);
		else if (db->pooled)
			r = PQexecParams(db->conn, s->sql, s->nparams, NULL,
					 params, NULL, NULL, 0);
		else
			r = PQexecPrepared(db->conn, s->name, s->nparams,
					   params, NULL, NULL, 0);
		rs = PQresultStatus(r);
		if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
			*st = DB_OK;
			return r;
		}
		db->txn_failed = db->txn;
		if (db_timed_out(r)) {
			log_warn("query %s timed out: %s; answering "
				 "unavailable for %d ms", what,
				 PQresultErrorMessage(r), STUCK_MS);
			PQclear(r);
			db->stuck_until_ms = now_ms() + STUCK_MS;
			*st = DB_UNAVAILABLE;
			return NULL;
		}
		if (!db_transient(r, db->conn)) {
			log_error("query %s failed: %s%s", what,
				  PQresultErrorMessage(r), pooler_hint(db, r));
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
