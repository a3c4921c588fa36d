/* admin.h - what parley-admin reads and changes in the database, as
 * typed calls: connection rows, the counts of every table, and dropping
 * one connection row. admin.c holds the SQL, with its parameter and
 * column order beside it; no PGresult leaves it.
 *
 * A user's unacked messages are not here: parley-admin lists them with
 * store_pending() (store.h), the query the workers deliver the backlog
 * with, so "pending" has one definition.
 *
 * Every call returns DB_OK, DB_UNAVAILABLE or DB_ERROR (db.h).
 */
#ifndef PARLEY_ADMIN_H
#define PARLEY_ADMIN_H

#include "db.h"

/* A connections row. Strings live until admin_conn_list_free(). */
struct admin_conn {
	const char *id;
	const char *user_id;
	const char *connected_at; /* RFC 3339 UTC, whole seconds */
	const char *expires_at;
	bool expired;             /* expires_at has passed */
};

struct admin_conn_list {
	int n;
	struct admin_conn *items;
	void *res;
};
void admin_conn_list_free(struct admin_conn_list *l);

/* The user's rows, oldest first. */
enum db_status admin_user_conns(struct db *db, const char *user_id,
				struct admin_conn_list *out) MUST_CHECK;
/* The row of one connection id (n 0 or 1). */
enum db_status admin_find_conn(struct db *db, const char *conn_id,
			       struct admin_conn_list *out) MUST_CHECK;
/* Deletes the row of one connection id; *dropped: there was one. */
enum db_status admin_drop_conn(struct db *db, const char *conn_id,
			       bool *dropped) MUST_CHECK;

enum admin_push {
	ADMIN_PUSH_ABSENT,     /* no table push_queue (before 005_push) */
	ADMIN_PUSH_UNREADABLE, /* there, but this login may not read it */
	ADMIN_PUSH_OK,
};

struct admin_counts {
	long long connections;   /* rows */
	long long expired;       /* of them, past expires_at */
	long long users_online;  /* distinct users of the rows */
	/* one-to-one messages: by status, deleted ones included; deleted;
	 * and unacked (status sent, not deleted: what /metrics calls
	 * parley_messages_pending) */
	long long sent, delivered, read, deleted, pending;
	long long group_messages;  /* rows of group messages */
	long long groups;
	long long members;         /* current memberships */
	long long receipts_delivered, receipts_read; /* group_receipts */
	enum admin_push push;
	long long push_queued;     /* push_queue rows: pushes not yet done */
	long long push_retrying;   /* ... of which failed at least once */
};
enum db_status admin_counts(struct db *db, struct admin_counts *out)
    MUST_CHECK;

/* One batch of sql/007_archive.sql's parley_archive_messages(): up to
 * `batch` messages received more than `days` days ago moved to
 * messages_archive (with their group receipts); *moved says how many.
 * Its own transaction. */
enum db_status admin_archive_batch(struct db *db, long days, long batch,
				   long long *moved) MUST_CHECK;

#endif
