/* store.h - the chat's rows in PostgreSQL, as typed calls.
 *
 * Every call here is one prepared statement (store.c holds the SQL, with
 * its parameter and column order beside it) and takes and returns
 * structs: no PGresult, column index or positional parameter leaves
 * store.c. Strings in results point into storage owned by the result
 * struct and live until its *_free().
 *
 * Every call returns DB_OK, DB_UNAVAILABLE (the database is unreachable
 * or overloaded: the client may retry) or DB_ERROR (the query failed).
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include "db.h"

/* A message as events carry it (README, "Events: server to client"). */
struct message {
	const char *id;
	const char *conversation_id;
	const char *sender_id;
	const char *sender_name;          /* NULL: not given */
	const char *recipient_id;         /* NULL: a group message */
	const char *content;              /* "" once deleted */
	const char *timestamp;            /* the sender's, else receive time */
	const char *status;               /* sent, delivered, read */
	bool is_deleted;
	const char *reply_to_message_id;  /* NULL: not given */
	const char *reply_to_content;     /* NULL: not given */
	const char *reply_to_sender_name; /* NULL: not given */
	long long seq;                    /* receive order */
};

struct message_list {
	int n;
	struct message *items;
	void *res; /* owns the strings */
};
void message_list_free(struct message_list *l);

/* A new message from the connection's user. */
struct message_in {
	const char *id;
	const char *conversation_id;
	const char *sender_id; /* the connection's user */
	const char *sender_name;
	const char *recipient_id; /* NULL: to the group conversation_id */
	const char *content;
	const char *timestamp;
	const char *reply_to_message_id;
	const char *reply_to_content;
	const char *reply_to_sender_name;
	bool queue_push; /* offline push on: queue it for offline users */
};

struct stored {
	bool inserted;         /* false: this message_id existed already */
	struct message_list row; /* the row as stored (one item) */
	const char *acked_at;  /* the ack's timestamp: the receive time */
	/* Whether anyone could be listening, from the connections table at
	 * the time of the insert: lets the caller skip a publish that no
	 * connection is subscribed to. (A stale row only means one publish
	 * too many.) */
	bool recipient_online;
	bool sender_has_others; /* a connection of the sender but this one */
	bool is_group;  /* conversation_id is a group's */
	bool is_member; /* ... and the sender a current member */
};
void stored_free(struct stored *s);

/* Idempotent insert. A duplicate from another sender comes back with
 * inserted false and row.items[0].sender_id not the sender's.
 * DB_NOT_FOUND, nothing stored: a group message (no recipient_id) to a
 * conversation that is no group or from a non-member, or a one-to-one
 * message under a group's id; is_group and is_member tell which. */
enum db_status store_message(struct db *db, const struct message_in *in,
			     const char *conn_id, struct stored *out) MUST_CHECK;

/* ack (delivered) and markRead (read): per requested id, in request
 * order (duplicates folded). The ids point into the caller's `ids`. */
struct receipt {
	const char *id;
	bool mine;    /* addressed to the user (else "skipped") */
	bool changed; /* this call moved its status: notify the sender */
	const char *sender_id;        /* when changed */
	const char *conversation_id;  /* when changed */
	bool is_deleted;              /* when changed */
	const char *at;               /* when changed */
	bool group; /* a group message: the receipt is the user's own */
};
struct receipt_list {
	int n;
	struct receipt *items;
	void *res, *group_res;
};
void receipt_list_free(struct receipt_list *l);
enum db_status store_receipts(struct db *db, bool read, const char *user_id,
			      const char *const *ids, int nids,
			      struct receipt_list *out) MUST_CHECK;

/* deleteMessage: the row as it was, and whether this call deleted it. */
struct deletion {
	bool found;
	const char *sender_id, *conversation_id, *status, *at;
	const char *recipient_id; /* NULL: a group message */
	bool changed;
	long long seq;
	bool member; /* a group message sent to the user as a member */
	void *res;
};
void deletion_free(struct deletion *d);
enum db_status store_delete(struct db *db, const char *message_id,
			    const char *user_id, struct deletion *out)
    MUST_CHECK;

/* The user's messages that no device acked (one-to-one, and group
 * messages sent to the user as a member), in receive order, after seq
 * `after`; with before_ms > 0 only those received before that unix time
 * in milliseconds. */
enum db_status store_pending(struct db *db, const char *user_id,
			     long long after, long long before_ms, long limit,
			     struct message_list *out) MUST_CHECK;

/* History, newest first: the user's messages of the conversation (of a
 * group: those sent while the user was a member). `before` (may be NULL) is a message id of the
 * conversation or an RFC 3339 time; DB_NOT_FOUND when it is neither. */
enum db_status store_history(struct db *db, const char *conversation_id,
			     const char *user_id, const char *before,
			     int limit, struct message_list *out) MUST_CHECK;

/* Connections. store_connect: DB_FULL when the user holds max already. */
enum db_status store_connect(struct db *db, const char *conn_id,
			     const char *user_id, long ttl, long max)
    MUST_CHECK;
enum db_status store_disconnect(struct db *db, const char *conn_id);
/* For /healthz and /metrics: connection rows and one-to-one messages no
 * device acked (-1 each when it fails). */
enum db_status store_counts(struct db *db, long long *connections,
			    long long *pending) MUST_CHECK;
enum db_status store_touch(struct db *db, const char *conn_id, long ttl)
    MUST_CHECK;

/* pg_notify(name, payload) of each of the n payloads, in order, in one
 * statement (notify.h: a publish's parts are committed together). Not
 * to be called inside an open transaction that may roll back. */
enum db_status store_notify(struct db *db, const char *name,
			    char *const *payloads, int n) MUST_CHECK;

#endif
