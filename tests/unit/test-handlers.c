/* test-handlers.c - the chat handlers called directly, without FastCGI,
 * WebSocket-over-HTTP or Pushpin: a session whose output functions
 * record what the handlers say, against the test stack's PostgreSQL
 * (PARLEY_TEST_DATABASE_URL; skipped without it, which scripts/test does
 * not allow). This is the seam a second bridge would use. */
#include "common.h"
#include "handlers.h"
#include "tap.h"

#include <unistd.h>

struct recorder {
	char events[16][4096];
	int n;
	char channel[256];
	char state_name[8][32], state_value[8][64];
	int nstate;
};

static void rec_send(void *ctx, const char *json, size_t len)
{
	struct recorder *r = ctx;
	if (r->n < 16)
		snprintf(r->events[r->n++], sizeof(r->events[0]), "%.*s",
			 (int)len, json);
}

static void rec_subscribe(void *ctx, const char *channel)
{
	struct recorder *r = ctx;
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
}

static void rec_state(void *ctx, const char *name, const char *value)
{
	struct recorder *r = ctx;
	if (r->nstate < 8) {
		snprintf(r->state_name[r->nstate], 32, "%s", name);
		snprintf(r->state_value[r->nstate++], 64, "%s", value);
	}
}

static size_t rec_room(void *ctx)
{
	return 900000;
}

static void text(struct app *app, struct session *s, struct recorder *r,
		 const char *frame)
{
	r->n = 0;
	handle_text(app, s, frame, strlen(frame));
}

static long count_rows(struct db *db, const char *sql)
{
	enum db_status st;
	PGresult *res = db_exec(db, sql, &st);
	long n = res && PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return n;
}

int main(void)
{
	const char *url = getenv("PARLEY_TEST_DATABASE_URL");
	struct settings cfg;
	struct app app;
	struct recorder rec = { .n = 0 };
	struct session s = { 0 };
	char conn[64], user[64], frame[512], sql[512];

	if (url == NULL) {
		printf("1..0 # SKIP PARLEY_TEST_DATABASE_URL not set (scripts/test "
		       "sets it)\n");
		return 0;
	}
	settings_defaults(&cfg);
	snprintf(cfg.database_url, sizeof(cfg.database_url), "%s", url);
	app_init(&app, &cfg, db_new(cfg.database_url, "test-handlers"),
		 publisher_new("inproc://parley-test-handlers"));
	snprintf(conn, sizeof(conn), "unit-conn-%ld", (long)getpid());
	snprintf(user, sizeof(user), "unit-user-%ld", (long)getpid());
	s.conn_id = conn;
	s.user_id = user;
	s.out = (struct session_out){ rec_send, rec_subscribe, rec_state,
				      rec_room, &rec };

	is_int(handle_open(&app, &s), OPEN_OK, "handle_open stores the "
	       "connection");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM connections WHERE "
		 "connection_id = '%s' AND user_id = '%s'", conn, user);
	is_int(count_rows(app.db, sql), 1, "  one connections row");
	is_str(s.flush, "f:0", "  with a backlog page due");
	is_str(rec.channel, "", "  and not yet subscribed");
	handle_flush(&app, &s);
	ok(strncmp(s.flush, "c:", 2) == 0, "  after an empty backlog: "
	   "subscribed, catch-up due (%s)", s.flush);
	snprintf(frame, sizeof(frame), "u:%s", user);
	is_str(rec.channel, frame, "  to the user's channel");

	snprintf(frame, sizeof(frame), "{\"action\":\"sendMessage\","
		 "\"messageId\":\"%s-m1\",\"conversationId\":\"c-%s\","
		 "\"recipientId\":\"%s\",\"content\":\"hello\"}", conn, conn,
		 "unit-peer");
	text(&app, &s, &rec, frame);
	is_int(rec.n, 1, "sendMessage answers once");
	ok(strstr(rec.events[0], "\"type\":\"ack\"") &&
	   strstr(rec.events[0], "\"duplicate\":false"),
	   "  with an ack, duplicate false: %s", rec.events[0]);
	text(&app, &s, &rec, frame);
	ok(strstr(rec.events[0], "\"duplicate\":true") != NULL,
	   "the same messageId again: duplicate true");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages WHERE "
		 "message_id = '%s-m1' AND sender_id = '%s'", conn, user);
	is_int(count_rows(app.db, sql), 1, "  stored once, sender = user");

	text(&app, &s, &rec, "{\"action\":");
	ok(strstr(rec.events[0], "\"code\":\"invalid_json\"") != NULL,
	   "bad JSON: invalid_json");
	text(&app, &s, &rec, "{\"action\":\"ping\"}");
	is_str(rec.events[0], "{\"type\":\"pong\",\"data\":{}}", "ping: pong");

	snprintf(frame, sizeof(frame), "{\"action\":\"getMessages\","
		 "\"conversationId\":\"c-%s\"}", conn);
	text(&app, &s, &rec, frame);
	ok(strstr(rec.events[0], "\"type\":\"messages\"") &&
	   strstr(rec.events[0], "\"content\":\"hello\"") &&
	   strstr(rec.events[0], "\"hasMore\":false"),
	   "getMessages: the message, hasMore false");

	handle_close(&app, &s);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM connections WHERE "
		 "connection_id = '%s'", conn);
	is_int(count_rows(app.db, sql), 0, "handle_close deletes the row");

	db_free(app.db);
	publisher_free(app.pub);
	return done_testing();
}
