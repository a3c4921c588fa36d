/* groupstore.h - a group's rows in PostgreSQL (sql/004_groups.sql), as
 * typed calls, like store.h: the SQL is in groupstore.c, next to its
 * parameter and column order; strings in results live until the
 * result's *_free().
 *
 * A group message is one messages row (recipient_id NULL). Membership
 * comes in periods measured in messages.seq: a message with seq s was
 * sent to the members whose period holds s. Each member's receipt is a
 * group_receipts row once the member acks or reads (store_receipts()
 * handles both kinds of message).
 */
#ifndef PARLEY_GROUPSTORE_H
#define PARLEY_GROUPSTORE_H

#include "db.h"

struct group_member {
	const char *user_id;
	bool admin;
};

/* A group as group events show it: its current members, by user id. */
struct group_view {
	const char *conversation_id;
	const char *title; /* NULL: none */
	int n;
	struct group_member *members;
	const char *at; /* the change's time, RFC 3339 */
	void *res;
};
void group_view_free(struct group_view *g);

/* createGroup: DB_FULL when conversation_id is taken (by a group or by
 * one-to-one messages), else the new group in *out. users: the other
 * members (the creator is added as admin). */
enum db_status group_create(struct db *db, const char *conversation_id,
			    const char *title, const char *creator,
			    const char *const *users, int n,
			    struct group_view *out) MUST_CHECK;

enum group_change { GROUP_ADD, GROUP_REMOVE, GROUP_LEAVE };

/* Why a membership change was refused (nothing changed). */
enum group_refusal {
	GROUP_DONE,        /* applied: out->view is the group now */
	GROUP_UNKNOWN,     /* no such group */
	GROUP_NOT_ADMIN,   /* the actor may not (not an admin, or for
			      GROUP_LEAVE not a member) */
	GROUP_IS_MEMBER,   /* GROUP_ADD: out->user is a member already */
	GROUP_NOT_MEMBER,  /* GROUP_REMOVE: out->user is not a member */
	GROUP_TOO_MANY,    /* GROUP_ADD: more than max members in all */
};

struct group_result {
	enum group_refusal refusal;
	const char *user;       /* the member it is about, or NULL */
	struct group_view view; /* GROUP_DONE: the group after the change */
	void *lock;             /* owns view.title */
};

/* addMembers, removeMembers (users[0..n)) and leaveGroup (the actor),
 * as one transaction (or inside the caller's, when in_tx) that holds the
 * group's row: changes of one group are serialized. When the last admin
 * goes and members remain, the longest-standing member becomes admin. */
enum db_status group_change(struct db *db, bool in_tx, enum group_change kind,
			    const char *conversation_id, const char *actor,
			    const char *const *users, int n, int max,
			    struct group_result *out) MUST_CHECK;
void group_result_free(struct group_result *r);

/* The users to tell about a group message with seq `seq` (seq <= 0:
 * every current member): current members whose period began before
 * it and who have a connection row. */
struct user_list {
	int n;
	const char **ids;
	void *res;
};
void user_list_free(struct user_list *l);
enum db_status group_online(struct db *db, const char *conversation_id,
			    long long seq, struct user_list *out) MUST_CHECK;

/* Whether conversation_id is a group (DB_NOT_FOUND: no) and the user a
 * current member of it. */
enum db_status group_membership(struct db *db, const char *conversation_id,
				const char *user_id, bool *member) MUST_CHECK;

/* getReceipts: the message's recipients and their status, by user id,
 * after `after` (NULL: from the first), at most `limit`. */
enum receipts_access { RECEIPTS_OK, RECEIPTS_FORBIDDEN, RECEIPTS_UNKNOWN };
struct member_receipt {
	const char *user_id, *status, *at;
};
struct receipts_of {
	enum receipts_access access;
	int n;
	struct member_receipt *items;
	bool more; /* more exist after items[n - 1] */
	void *res;
};
void receipts_of_free(struct receipts_of *r);
enum db_status group_receipts_of(struct db *db, const char *message_id,
				 const char *user_id, const char *after,
				 int limit, struct receipts_of *out)
    MUST_CHECK;

/* Moves the user's offline-delivery start (group_members.acked_seq)
 * past what the user has acked and that was received before
 * before_ms (unix ms; a minute or more ago, so that no message still
 * being committed has a lower seq). */
enum db_status group_catch_up(struct db *db, const char *user_id,
			      long long before_ms) MUST_CHECK;

#endif
