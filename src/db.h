/* db.h - the worker's one PostgreSQL connection and its named queries.
 *
 * Every query is a prepared statement with $n parameters (db.c holds the
 * SQL); nothing is ever built from input. A lost connection is opened
 * again on the next call, and a call that fails because the server went
 * away is retried once on the new connection: every statement here is
 * idempotent (inserts use ON CONFLICT, updates move status forwards).
 */
#ifndef PARLEY_DB_H
#define PARLEY_DB_H

#include <libpq-fe.h>

enum stmt {
	S_CONNECT,    /* $1 connection, $2 user, $3 ttl seconds, $4 max */
	S_DISCONNECT, /* $1 connection */
	S_TOUCH,      /* $1 connection, $2 ttl seconds */
	S_SEND,       /* see db.c */
	S_PENDING,    /* $1 user, $2 after seq, $3 limit, $4 min age s|NULL */
	S_ACK,        /* $1 ids text[], $2 user */
	S_READ,       /* $1 ids text[], $2 user */
	S_DELETE,     /* $1 message, $2 user */
	S_BEFORE_SEQ, /* $1 message, $2 conversation */
	S_HISTORY,    /* $1 conv, $2 user, $3 seq|NULL, $4 time|NULL, $5 n */
	S_EXPIRE,     /* $1 batch size */
	S_LIST_CONNS, /* $1 after connection id, $2 limit, $3 min age s */
	S_DROP_CONNS, /* $1 connection ids text[], $2 min age s */
	S_COUNT
};

/* Columns of every query that returns messages (MSG_COLUMNS in db.c). */
enum msg_col { MC_ID, MC_CONV, MC_SENDER, MC_SENDER_NAME, MC_RECIPIENT,
	       MC_CONTENT, MC_TIMESTAMP, MC_STATUS, MC_DELETED, MC_REPLY_ID,
	       MC_REPLY_CONTENT, MC_REPLY_SENDER_NAME, MC_SEQ, MC_NCOLS };

enum db_status { DB_OK, DB_UNAVAILABLE, DB_ERROR };

struct db;

struct db *db_new(const char *conninfo, const char *application_name);
void db_free(struct db *db);
/* Runs a prepared statement. Returns the result (caller PQclear()s it)
 * or NULL with *st saying whether the database is unreachable
 * (DB_UNAVAILABLE: the client may retry) or refused the query. */
PGresult *db_run(struct db *db, enum stmt s, const char *const *params,
		 enum db_status *st) MUST_CHECK;
/* Plain SQL without parameters, for the command-line tools. */
PGresult *db_exec(struct db *db, const char *sql, enum db_status *st)
    MUST_CHECK;
PGconn *db_conn(struct db *db); /* connects if needed; NULL when down */

/* A PostgreSQL text[] literal of ids (malloc'd; NULL when out of memory). */
char *db_text_array(const char *const *ids, int n);

#endif
