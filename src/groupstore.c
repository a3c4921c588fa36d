/* groupstore.c - see groupstore.h. Each statement's parameter order ($n)
 * and column order stand next to its SQL; nothing else knows them.
 *
 * Trust: as store.c: the database's answers are trusted, parameters come
 * from validated requests and only ever travel as parameters.
 */
#include "common.h"

#include <libpq-fe.h>

#include "groupstore.h"
#include "log.h"

/* The seq a membership period starts after (a message stored from now
 * on has a higher one) and the one it ends before. A message being
 * committed at the same moment may fall either side: it was sent at the
 * same moment as the change. */
#define TOP_SEQ "(SELECT COALESCE(max(seq), 0) FROM messages)"

/* Whether message m (alias) was sent to user `u`'s membership period
 * (alias gm, joined on the conversation). */
#define IN_PERIOD(gm, m) \
	m ".seq > " gm ".joined_seq AND (" gm ".left_seq IS NULL OR " \
	m ".seq < " gm ".left_seq)"

static bool flag(PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

static enum db_status run_only(struct db *db, const struct statement *s,
			       const char *const *params)
{
	enum db_status st;
	PGresult *r = db_run(db, s, params, &st);

	PQclear(r);
	return st;
}

/* ---- the group as events show it -------------------------------------- */

/* Columns of every statement that returns a group's members: user id,
 * admin, the time of the change (one value for all rows). */
enum { GV_USER, GV_ADMIN, GV_AT };

/* Takes r; the view owns it from here on. */
static enum db_status view_take(PGresult *r, const char *conversation_id,
				const char *title, struct group_view *out)
{
	int n = PQntuples(r);

	out->res = r;
	out->conversation_id = conversation_id;
	out->title = title;
	out->at = n > 0 ? PQgetvalue(r, 0, GV_AT) : "";
	out->members = n > 0 ? calloc((size_t)n, sizeof(*out->members)) : NULL;
	if (n > 0 && out->members == NULL) {
		group_view_free(out);
		return DB_ERROR;
	}
	for (out->n = 0; out->n < n; out->n++) {
		out->members[out->n].user_id = PQgetvalue(r, out->n, GV_USER);
		out->members[out->n].admin = flag(r, out->n, GV_ADMIN);
	}
	return DB_OK;
}

void group_view_free(struct group_view *g)
{
	if (g == NULL)
		return;
	free(g->members);
	PQclear(g->res);
	*g = (struct group_view){ 0 };
}

/* ---- createGroup ---------------------------------------------------------- */

/* $1 conversation, $2 title, $3 creator, $4 the other members text[].
 * No row back: the id is taken, by a group or by one-to-one messages.
 * Columns: GV_*, members by user id (bytewise). */
static const struct statement st_create = { "group_create",
	"WITH taken AS (SELECT EXISTS (SELECT 1 FROM groups "
	"WHERE conversation_id = $1) OR EXISTS (SELECT 1 FROM messages "
	"WHERE conversation_id = $1) AS t), "
	"g AS (INSERT INTO groups (conversation_id, title, created_by) "
	"SELECT $1, $2, $3 FROM taken WHERE NOT t "
	"ON CONFLICT (conversation_id) DO NOTHING RETURNING conversation_id), "
	"u AS (SELECT $3::text AS user_id UNION SELECT unnest($4::text[])), "
	"ins AS (INSERT INTO group_members (conversation_id, user_id, role, "
	"joined_seq, acked_seq) SELECT g.conversation_id, u.user_id, "
	"CASE WHEN u.user_id = $3 THEN 'admin' ELSE 'member' END, "
	TOP_SEQ ", " TOP_SEQ " FROM g, u RETURNING user_id, role) "
	"SELECT user_id, role = 'admin', " SQL_UTC("now()")
	" FROM ins ORDER BY user_id COLLATE \"C\"", 4 };

enum db_status group_create(struct db *db, const char *conversation_id,
			    const char *title, const char *creator,
			    const char *const *users, int n,
			    struct group_view *out)
{
	char *arr = db_text_array(users, n);
	const char *params[4] = { conversation_id, title, creator, arr };
	enum db_status st = DB_ERROR;
	PGresult *r = NULL;

	*out = (struct group_view){ 0 };
	if (arr != NULL)
		r = db_run(db, &st_create, params, &st);
	free(arr);
	if (r == NULL)
		return st;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return DB_FULL;
	}
	return view_take(r, conversation_id, title, out);
}

/* ---- membership changes ------------------------------------------------------ */

/* $1 conversation, $2 actor. Holds the group's row until the end of the
 * transaction. No row: no such group. Columns: title, the actor's role
 * (NULL: not a member). */
static const struct statement st_lock = { "group_lock",
	"SELECT g.title, (SELECT role FROM group_members m "
	"WHERE m.conversation_id = $1 AND m.user_id = $2 "
	"AND m.left_seq IS NULL) FROM groups g WHERE g.conversation_id = $1 "
	"FOR NO KEY UPDATE OF g", 2 };
enum { GL_TITLE, GL_ROLE };

/* $1 conversation. Columns: GV_*. */
static const struct statement st_members = { "group_members",
	"SELECT user_id, role = 'admin', " SQL_UTC("now()")
	" FROM group_members WHERE conversation_id = $1 "
	"AND left_seq IS NULL ORDER BY user_id COLLATE \"C\"", 1 };

/* $1 conversation, $2 users text[] (none of them a member). */
static const struct statement st_add = { "group_add",
	"INSERT INTO group_members (conversation_id, user_id, role, "
	"joined_seq, acked_seq) SELECT $1, u, 'member', " TOP_SEQ ", "
	TOP_SEQ " FROM unnest($2::text[]) u", 2 };

/* $1 conversation, $2 users text[]: their current periods end. */
static const struct statement st_remove = { "group_remove",
	"UPDATE group_members SET left_seq = " TOP_SEQ " + 1, "
	"left_at = now() WHERE conversation_id = $1 "
	"AND user_id = ANY($2::text[]) AND left_seq IS NULL", 2 };

/* $1 conversation: without an admin, the longest-standing member
 * becomes one. */
static const struct statement st_fix_admin = { "group_fix_admin",
	"UPDATE group_members SET role = 'admin' WHERE period = "
	"(SELECT period FROM group_members WHERE conversation_id = $1 "
	"AND left_seq IS NULL ORDER BY joined_seq, period LIMIT 1) "
	"AND NOT EXISTS (SELECT 1 FROM group_members WHERE "
	"conversation_id = $1 AND left_seq IS NULL AND role = 'admin')", 1 };

static bool listed(const struct group_view *g, const char *user)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->members[i].user_id, user) == 0)
			return true;
	return false;
}

/* What refuses the change, looking at the group before it. */
static enum group_refusal check_change(enum group_change kind,
				       const struct group_view *now,
				       const char *const *users, int n,
				       int max, const char **who)
{
	*who = NULL;
	for (int i = 0; i < n; i++) {
		bool is = listed(now, users[i]);
		if (kind == GROUP_ADD && is) {
			*who = users[i];
			return GROUP_IS_MEMBER;
		}
		if (kind == GROUP_REMOVE && !is) {
			*who = users[i];
			return GROUP_NOT_MEMBER;
		}
	}
	if (kind == GROUP_ADD && now->n + n > max)
		return GROUP_TOO_MANY;
	return GROUP_DONE;
}

/* The change inside an open transaction. */
static enum db_status change_in_tx(struct db *db, enum group_change kind,
				   const char *conversation_id,
				   const char *actor, const char *const *users,
				   int n, int max, struct group_result *out)
{
	const char *lp[2] = { conversation_id, actor };
	const char *one[1] = { conversation_id };
	struct group_view before = { 0 };
	enum db_status st;
	PGresult *lock, *r;
	char *arr;
	const char *role;

	lock = db_run(db, &st_lock, lp, &st);
	if (lock == NULL)
		return st;
	if (PQntuples(lock) == 0) {
		out->refusal = GROUP_UNKNOWN;
		PQclear(lock);
		return DB_OK;
	}
	role = PQgetisnull(lock, 0, GL_ROLE) ? NULL
					      : PQgetvalue(lock, 0, GL_ROLE);
	if (role == NULL || (kind != GROUP_LEAVE && strcmp(role, "admin"))) {
		out->refusal = GROUP_NOT_ADMIN;
		PQclear(lock);
		return DB_OK;
	}
	if (kind == GROUP_LEAVE) {
		users = &actor;
		n = 1;
	}
	r = db_run(db, &st_members, one, &st);
	if (r == NULL || (st = view_take(r, conversation_id, NULL, &before))
			     != DB_OK) {
		PQclear(lock);
		return st;
	}
	out->refusal = check_change(kind, &before, users, n, max, &out->user);
	group_view_free(&before);
	if (out->refusal != GROUP_DONE) {
		PQclear(lock);
		return DB_OK;
	}
	arr = db_text_array(users, n);
	if (arr == NULL) {
		PQclear(lock);
		return DB_ERROR;
	}
	{
		const char *cp[2] = { conversation_id, arr };
		st = run_only(db, kind == GROUP_ADD ? &st_add : &st_remove, cp);
	}
	free(arr);
	if (st == DB_OK && kind != GROUP_ADD)
		st = run_only(db, &st_fix_admin, one);
	if (st == DB_OK && (r = db_run(db, &st_members, one, &st)) != NULL) {
		/* The title lives in lock's result: keep it with the view by
		 * copying it into the result struct's lifetime. */
		const char *title = PQgetisnull(lock, 0, GL_TITLE)
					    ? NULL
					    : PQgetvalue(lock, 0, GL_TITLE);
		st = view_take(r, conversation_id, title, &out->view);
		out->lock = lock;
		return st;
	}
	PQclear(lock);
	return st;
}

enum db_status group_change(struct db *db, bool in_tx, enum group_change kind,
			    const char *conversation_id, const char *actor,
			    const char *const *users, int n, int max,
			    struct group_result *out)
{
	enum db_status st;

	*out = (struct group_result){ 0 };
	if (!in_tx && (st = db_begin(db)) != DB_OK)
		return st;
	st = change_in_tx(db, kind, conversation_id, actor, users, n, max,
			  out);
	if (in_tx)
		return st;
	if (st != DB_OK) {
		db_rollback(db);
		group_result_free(out);
		return st;
	}
	st = db_commit(db);
	if (st != DB_OK) {
		group_result_free(out);
		*out = (struct group_result){ 0 };
	}
	return st;
}

void group_result_free(struct group_result *r)
{
	if (r == NULL)
		return;
	group_view_free(&r->view);
	PQclear(r->lock);
	r->lock = NULL;
}

/* ---- who to tell -------------------------------------------------------------- */

/* $1 conversation, $2 message seq (<= 0: any current member). Column:
 * user id. */
static const struct statement st_online = { "group_online",
	"SELECT gm.user_id FROM group_members gm "
	"WHERE gm.conversation_id = $1 AND gm.left_seq IS NULL "
	"AND ($2::bigint <= 0 OR gm.joined_seq < $2::bigint) "
	"AND EXISTS (SELECT 1 FROM connections c "
	"WHERE c.user_id = gm.user_id)", 2 };

enum db_status group_online(struct db *db, const char *conversation_id,
			    long long seq, struct user_list *out)
{
	char seq_s[24];
	const char *params[2] = { conversation_id, seq_s };
	enum db_status st;
	PGresult *r;
	int n;

	*out = (struct user_list){ 0 };
	snprintf(seq_s, sizeof(seq_s), "%lld", seq);
	r = db_run(db, &st_online, params, &st);
	if (r == NULL)
		return st;
	n = PQntuples(r);
	out->res = r;
	out->ids = n > 0 ? calloc((size_t)n, sizeof(*out->ids)) : NULL;
	if (n > 0 && out->ids == NULL) {
		user_list_free(out);
		return DB_ERROR;
	}
	for (out->n = 0; out->n < n; out->n++)
		out->ids[out->n] = PQgetvalue(r, out->n, 0);
	return DB_OK;
}

void user_list_free(struct user_list *l)
{
	if (l == NULL)
		return;
	free(l->ids);
	PQclear(l->res);
	*l = (struct user_list){ 0 };
}

/* $1 conversation, $2 user. No row: not a group. Column: member. */
static const struct statement st_membership = { "group_membership",
	"SELECT EXISTS (SELECT 1 FROM group_members WHERE conversation_id = $1 "
	"AND user_id = $2 AND left_seq IS NULL) FROM groups "
	"WHERE conversation_id = $1", 2 };

enum db_status group_membership(struct db *db, const char *conversation_id,
				const char *user_id, bool *member)
{
	const char *params[2] = { conversation_id, user_id };
	enum db_status st;
	PGresult *r = db_run(db, &st_membership, params, &st);

	*member = false;
	if (r == NULL)
		return st;
	st = PQntuples(r) == 1 ? DB_OK : DB_NOT_FOUND;
	if (st == DB_OK)
		*member = flag(r, 0, 0);
	PQclear(r);
	return st;
}

/* ---- getReceipts -------------------------------------------------------------- */

/* $1 message, $2 user. No row: no such message. Columns: the user sent
 * it; the user is its recipient or a member it was sent to. */
static const struct statement st_access = { "receipts_access",
	"SELECT m.sender_id = $2, m.recipient_id IS NOT DISTINCT FROM $2 OR "
	"(m.recipient_id IS NULL AND EXISTS (SELECT 1 FROM group_members gm "
	"WHERE gm.conversation_id = m.conversation_id AND gm.user_id = $2 "
	"AND " IN_PERIOD("gm", "m") ")) FROM messages m "
	"WHERE m.message_id = $1", 2 };

/* $1 message, $2 after user id or NULL, $3 limit. Columns: user id,
 * status, the time of that status. The recipient of a one-to-one
 * message, or every member a group message was sent to but its sender. */
static const struct statement st_receipts_of = { "receipts_of",
	"SELECT * FROM (SELECT m.recipient_id AS user_id, m.status, "
	SQL_UTC("COALESCE(m.read_at, m.delivered_at, m.received_at)")
	" FROM messages m WHERE m.message_id = $1 "
	"AND m.recipient_id IS NOT NULL UNION ALL "
	"SELECT gm.user_id, COALESCE(r.status, 'sent'), "
	SQL_UTC("COALESCE(r.read_at, r.delivered_at, m.received_at)")
	" FROM messages m JOIN group_members gm "
	"ON gm.conversation_id = m.conversation_id AND " IN_PERIOD("gm", "m")
	" LEFT JOIN group_receipts r ON r.message_id = m.message_id "
	"AND r.user_id = gm.user_id WHERE m.message_id = $1 "
	"AND m.recipient_id IS NULL AND gm.user_id <> m.sender_id) x "
	"WHERE $2::text IS NULL OR x.user_id COLLATE \"C\" > $2::text "
	"ORDER BY x.user_id COLLATE \"C\" LIMIT $3::int", 3 };
enum { RO_USER, RO_STATUS, RO_AT };

enum db_status group_receipts_of(struct db *db, const char *message_id,
				 const char *user_id, const char *after,
				 int limit, struct receipts_of *out)
{
	const char *ap[2] = { message_id, user_id };
	char limit_s[16];
	const char *lp[3] = { message_id, after, limit_s };
	enum db_status st;
	PGresult *r;
	int n;

	*out = (struct receipts_of){ .access = RECEIPTS_UNKNOWN };
	r = db_run(db, &st_access, ap, &st);
	if (r == NULL)
		return st;
	if (PQntuples(r) == 1 && flag(r, 0, 0))
		out->access = RECEIPTS_OK;
	else if (PQntuples(r) == 1 && flag(r, 0, 1))
		out->access = RECEIPTS_FORBIDDEN;
	PQclear(r);
	if (out->access != RECEIPTS_OK)
		return DB_OK;
	snprintf(limit_s, sizeof(limit_s), "%d", limit + 1);
	r = db_run(db, &st_receipts_of, lp, &st);
	if (r == NULL)
		return st;
	n = PQntuples(r);
	out->more = n > limit;
	if (out->more)
		n = limit;
	out->res = r;
	out->items = n > 0 ? calloc((size_t)n, sizeof(*out->items)) : NULL;
	if (n > 0 && out->items == NULL) {
		receipts_of_free(out);
		return DB_ERROR;
	}
	for (out->n = 0; out->n < n; out->n++) {
		struct member_receipt *m = &out->items[out->n];
		m->user_id = PQgetvalue(r, out->n, RO_USER);
		m->status = PQgetvalue(r, out->n, RO_STATUS);
		m->at = PQgetvalue(r, out->n, RO_AT);
	}
	return DB_OK;
}

void receipts_of_free(struct receipts_of *r)
{
	if (r == NULL)
		return;
	free(r->items);
	PQclear(r->res);
	*r = (struct receipts_of){ 0 };
}

/* ---- offline delivery's start --------------------------------------------------- */

/* $1 user, $2 received before (unix ms). For each of the user's periods
 * that can still move: up to the message before the first one still
 * unacked, and no further than the newest message received before $2
 * (nor past the period's end). */
static const struct statement st_catch_up = { "group_catch_up",
	"UPDATE group_members gm SET acked_seq = c.upto FROM ("
	"SELECT p.period, LEAST("
	"COALESCE((SELECT min(m.seq) - 1 FROM messages m "
	"WHERE m.conversation_id = p.conversation_id "
	"AND m.seq > p.acked_seq AND m.recipient_id IS NULL "
	"AND m.sender_id <> $1 AND NOT m.is_deleted "
	"AND (p.left_seq IS NULL OR m.seq < p.left_seq) "
	"AND NOT EXISTS (SELECT 1 FROM group_receipts r "
	"WHERE r.message_id = m.message_id AND r.user_id = $1)), "
	"9223372036854775807), "
	"(SELECT COALESCE(max(m.seq), 0) FROM messages m "
	"WHERE m.conversation_id = p.conversation_id "
	"AND m.received_at < to_timestamp($2::bigint / 1000.0)), "
	"COALESCE(p.left_seq - 1, 9223372036854775807)) AS upto "
	"FROM group_members p WHERE p.user_id = $1 "
	"AND (p.left_seq IS NULL OR p.acked_seq < p.left_seq - 1)) c "
	"WHERE gm.period = c.period AND c.upto > gm.acked_seq", 2 };

enum db_status group_catch_up(struct db *db, const char *user_id,
			      long long before_ms)
{
	char before_s[24];
	const char *params[2] = { user_id, before_s };

	snprintf(before_s, sizeof(before_s), "%lld", before_ms);
	return run_only(db, &st_catch_up, params);
}
