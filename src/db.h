/* db.h - one PostgreSQL connection and its prepared statements.
 *
 * The mechanism only: connecting, preparing, running, retrying. The SQL
 * lives with its callers as `struct statement` constants (store.c for the
 * chat, parley-expire.c for the expiry job), each prepared on this
 * connection the first time it runs, so a program prepares only what it
 * uses. Nothing is ever built from input: values go as $n parameters.
 *
 * Through a transaction-mode pooler (database_pool_mode = transaction,
 * e.g. PgBouncer's pool_mode = transaction) consecutive transactions may
 * run on different server connections, so nothing may rely on the
 * session: each statement is sent unnamed with its parameters (parsed
 * and planned on every call, one round trip as before), and no SET is
 * made on connecting (the pooler sets lock_timeout and statement_timeout
 * on its server connections; db.c checks that they are on).
 *
 * A lost connection is opened again on the next call, and a call that
 * fails because the server went away is retried once on the new
 * connection: every statement run through here must be idempotent
 * (inserts use ON CONFLICT, updates move status forwards).
 */
#ifndef PARLEY_DB_H
#define PARLEY_DB_H

#include "common.h"

enum db_status {
	DB_OK,
	DB_UNAVAILABLE, /* unreachable or overloaded: the client may retry */
	DB_ERROR,       /* the query failed */
	DB_NOT_FOUND,   /* (store.c) what was named does not exist */
	DB_FULL,        /* (store.c) a limit was reached */
};

/* SQL text: a timestamptz column as RFC 3339 UTC, whole seconds, as
 * the original design wrote times. */
#define SQL_UTC(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct statement {
	const char *name; /* unique per program */
	const char *sql;
	int nparams;
};

struct db;

struct db *db_new(const char *conninfo, const char *application_name);
struct settings;
/* db_new() for the settings' database_url and database_pool_mode. */
struct db *db_new_settings(const struct settings *cfg,
			   const char *application_name);
void db_free(struct db *db);

#ifdef LIBPQ_FE_H
/* Runs a statement. Returns the result (caller PQclear()s it) or NULL
 * with *st DB_UNAVAILABLE or DB_ERROR. For store.c and the tools only. */
PGresult *db_run(struct db *db, const struct statement *s,
		 const char *const *params, enum db_status *st) MUST_CHECK;
/* Plain SQL without parameters, for the command-line tools and tests. */
PGresult *db_exec(struct db *db, const char *sql, enum db_status *st)
    MUST_CHECK;
PGconn *db_conn(struct db *db); /* connects if needed; NULL when down */
#endif

/* One transaction around several calls (a request's frames): every call
 * until db_commit() runs in it, once and on its connection. db_commit()
 * answers DB_OK only when everything in it was committed; otherwise
 * nothing was (a lost connection, a failed statement, a failed COMMIT). */
enum db_status db_begin(struct db *db) MUST_CHECK;
enum db_status db_commit(struct db *db) MUST_CHECK;
void db_rollback(struct db *db);

/* A PostgreSQL text[] literal of ids (malloc'd; NULL when out of memory). */
char *db_text_array(const char *const *ids, int n);

#endif
