/* push.c - see push.h. Each statement's parameter and column order
 * stand next to its SQL.
 *
 * Trust: as store.c: the database's answers are trusted; the webhook's
 * body is built here with cJSON from the row, never from text.
 */
#include "common.h"

#include <libpq-fe.h>
#include <cjson/cJSON.h>

#include "push.h"

#define BACKOFF_MAX_S 300.0

/* $1 limit, $2 lease seconds, $3 with content, $4 max age seconds.
 * Takes due rows (SKIP LOCKED: never waits for another parley-push),
 * oldest due first. Columns: PC_*. settled: a device of the user acked
 * the message (one-to-one: its status moved on; a group's: the member's
 * receipt exists), or it was deleted. */
static const struct statement st_take = { "push_take",
	"WITH due AS (SELECT message_id, user_id FROM push_queue "
	"WHERE next_attempt_at <= now() ORDER BY next_attempt_at "
	"LIMIT $1::int FOR UPDATE SKIP LOCKED) "
	"UPDATE push_queue q SET next_attempt_at = now() + "
	"make_interval(secs => $2::int) FROM due, messages m "
	"WHERE q.message_id = due.message_id AND q.user_id = due.user_id "
	"AND m.message_id = q.message_id "
	"RETURNING q.message_id, q.user_id, q.attempts, m.conversation_id, "
	"m.sender_id, m.sender_name, "
	"CASE WHEN $3::bool AND NOT m.is_deleted THEN m.content END, "
	"m.is_deleted OR (m.recipient_id IS NOT NULL AND m.status <> 'sent') "
	"OR EXISTS (SELECT 1 FROM group_receipts g WHERE "
	"g.message_id = q.message_id AND g.user_id = q.user_id), "
	"q.queued_at < now() - make_interval(secs => $4::int)", 4 };
enum { PC_ID, PC_USER, PC_ATTEMPTS, PC_CONV, PC_SENDER, PC_SENDER_NAME,
       PC_CONTENT, PC_SETTLED, PC_EXPIRED };

/* $1 message, $2 user. */
static const struct statement st_done = { "push_done",
	"DELETE FROM push_queue WHERE message_id = $1 AND user_id = $2", 2 };

/* $1 message, $2 user, $3 delay seconds, $4 the reason. */
static const struct statement st_retry = { "push_retry",
	"UPDATE push_queue SET attempts = attempts + 1, next_attempt_at = "
	"now() + make_interval(secs => $3::float8), last_error = $4 "
	"WHERE message_id = $1 AND user_id = $2", 4 };

static const char *opt_value(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void add_nullable(cJSON *o, const char *name, const char *value)
{
	if (value == NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, value);
}

/* {"userId","messageId","conversationId","senderId","senderName"}
 * (PROTOCOL.md section 7), and "content" when it is given. */
static char *webhook_body(PGresult *r, int row)
{
	cJSON *o = cJSON_CreateObject();
	const char *content = opt_value(r, row, PC_CONTENT);
	char *json;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "userId", PQgetvalue(r, row, PC_USER));
	cJSON_AddStringToObject(o, "messageId", PQgetvalue(r, row, PC_ID));
	cJSON_AddStringToObject(o, "conversationId",
				PQgetvalue(r, row, PC_CONV));
	cJSON_AddStringToObject(o, "senderId", PQgetvalue(r, row, PC_SENDER));
	add_nullable(o, "senderName", opt_value(r, row, PC_SENDER_NAME));
	if (content != NULL)
		cJSON_AddStringToObject(o, "content", content);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}

void push_batch_free(struct push_batch *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < b->n; i++) {
		free(b->jobs[i].message_id);
		free(b->jobs[i].user_id);
		cJSON_free(b->jobs[i].body);
	}
	free(b->jobs);
	*b = (struct push_batch){ 0 };
}

enum db_status push_take(struct db *db, int limit, long lease_s,
			 bool with_content, long max_age_s,
			 struct push_batch *out)
{
	char slimit[16], slease[24], sage[24];
	const char *params[4] = { slimit, slease,
				  with_content ? "true" : "false", sage };
	enum db_status st;
	PGresult *r;
	int n;

	*out = (struct push_batch){ 0 };
	snprintf(slimit, sizeof(slimit), "%d", limit);
	snprintf(slease, sizeof(slease), "%ld", lease_s);
	snprintf(sage, sizeof(sage), "%ld", max_age_s);
	r = db_run(db, &st_take, params, &st);
	if (r == NULL)
		return st;
	n = PQntuples(r);
	out->jobs = n > 0 ? calloc((size_t)n, sizeof(*out->jobs)) : NULL;
	if (n > 0 && out->jobs == NULL) {
		PQclear(r);
		return DB_ERROR;
	}
	for (int i = 0; i < n; i++) {
		struct push_job *j = &out->jobs[out->n];
		j->message_id = strdup(PQgetvalue(r, i, PC_ID));
		j->user_id = strdup(PQgetvalue(r, i, PC_USER));
		j->attempts = atoi(PQgetvalue(r, i, PC_ATTEMPTS));
		j->settled = PQgetvalue(r, i, PC_SETTLED)[0] == 't';
		j->expired = PQgetvalue(r, i, PC_EXPIRED)[0] == 't';
		j->body = webhook_body(r, i);
		out->n++;
		if (j->message_id == NULL || j->user_id == NULL ||
		    j->body == NULL) {
			/* Its lease runs out: taken again later. */
			PQclear(r);
			push_batch_free(out);
			return DB_ERROR;
		}
	}
	PQclear(r);
	return DB_OK;
}

static enum db_status run_command(struct db *db, const struct statement *s,
				  const char *const *params)
{
	enum db_status st;
	PGresult *r = db_run(db, s, params, &st);

	if (r == NULL)
		return st;
	PQclear(r);
	return DB_OK;
}

enum db_status push_done(struct db *db, const struct push_job *j)
{
	const char *params[2] = { j->message_id, j->user_id };

	return run_command(db, &st_done, params);
}

enum db_status push_retry(struct db *db, const struct push_job *j,
			  double delay_s, const char *error)
{
	char delay[32];
	const char *params[4] = { j->message_id, j->user_id, delay, error };

	snprintf(delay, sizeof(delay), "%.3f", delay_s);
	return run_command(db, &st_retry, params);
}

double push_backoff(int failures, double u)
{
	double d = 1.0;

	for (int i = 0; i < failures && d < BACKOFF_MAX_S; i++)
		d *= 2;
	if (d > BACKOFF_MAX_S)
		d = BACKOFF_MAX_S;
	return d * (0.75 + 0.5 * u);
}
