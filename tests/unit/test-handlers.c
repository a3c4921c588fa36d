/* test-handlers.c - the transport-free request sequence (request.c and
 * everything under it) called directly, without FastCGI, Pushpin or
 * WebSocket-over-HTTP: a recording bridge that keeps the connection state
 * in memory, as a second bridge would, against the test stack's
 * PostgreSQL (PARLEY_TEST_DATABASE_URL; skipped without it, which
 * scripts/test does not allow). */
#include "common.h"

#include <libpq-fe.h>

#include "auth.h"
#include "groups.h"
#include "handlers.h"
#include "request.h"
#include "tap.h"

#include <unistd.h>

#define MAX_EVENTS 64
#define MAX_STATE 8

/* A bridge that records what it is told. */
struct recorder {
	char sent[MAX_EVENTS][4096];
	int nsent;
	char channel[256];
	int accepted, pings;
	int close_at; /* events sent before a CLOSE frame; -1: none */
	char names[MAX_STATE][32], values[MAX_STATE][64];
	int nstate;
	int sets; /* set_state calls in the last request */
};

static const char *rec_get(void *ctx, const char *name)
{
	struct recorder *r = ctx;
	for (int i = 0; i < r->nstate; i++)
		if (strcmp(r->names[i], name) == 0)
			return r->values[i];
	return NULL;
}

static void rec_set(void *ctx, const char *name, const char *value)
{
	struct recorder *r = ctx;
	int i;

	r->sets++;
	for (i = 0; i < r->nstate; i++)
		if (strcmp(r->names[i], name) == 0)
			break;
	if (i == MAX_STATE)
		return;
	if (i == r->nstate)
		r->nstate++;
	snprintf(r->names[i], sizeof(r->names[i]), "%s", name);
	snprintf(r->values[i], sizeof(r->values[i]), "%s", value);
}

static void rec_accept(void *ctx, long keepalive_s, long ping_s)
{
	struct recorder *r = ctx;
	r->accepted++;
}

static void rec_subscribe(void *ctx, const char *channel)
{
	struct recorder *r = ctx;
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
}

static void rec_send(void *ctx, const char *json, size_t len)
{
	struct recorder *r = ctx;
	if (r->nsent < MAX_EVENTS)
		snprintf(r->sent[r->nsent++], sizeof(r->sent[0]), "%.*s",
			 (int)len, json);
}

static void rec_frame(void *ctx, enum ws_type type, const char *data,
		      size_t len)
{
	struct recorder *r = ctx;
	if (type == WS_PING)
		r->pings++;
	if (type == WS_CLOSE)
		r->close_at = r->nsent;
}

static size_t rec_room(void *ctx)
{
	return 900000;
}

struct conn {
	struct recorder rec;
	struct bridge io;
	char id[64], query[128];
};

static void conn_init(struct conn *c, const char *id, const char *user)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->query, sizeof(c->query), "userId=%s", user);
	c->io = (struct bridge){
		.conn_id = c->id, .query = c->query,
		.get_state = rec_get, .set_state = rec_set,
		.accept = rec_accept, .subscribe = rec_subscribe,
		.send = rec_send, .frame = rec_frame, .room = rec_room,
		.ctx = &c->rec,
	};
}

/* One request with one event; what it sent starts at rec.sent[0]. */
static enum request_result request(struct app *app, struct auth *auth,
				   struct conn *c, enum ws_type type,
				   const char *text)
{
	struct ws_event ev = { type, text, text ? strlen(text) : 0 };
	const char *why = NULL;

	c->rec.nsent = 0;
	c->rec.pings = 0;
	c->rec.sets = 0;
	return handle_request(app, auth, &c->io, &ev, 1, &why);
}

/* A sendMessage frame with messageId "<from>-<tag>" to `to`. */
static void send_frame(char *out, size_t size, const char *from,
		       const char *tag, const char *to, const char *content)
{
	snprintf(out, size, "{\"action\":\"sendMessage\",\"messageId\":"
		 "\"%s-%s\",\"conversationId\":\"c\",\"recipientId\":"
		 "\"%s\",\"content\":\"%s\"}", from, tag, to, content);
}

static int count_containing(const struct recorder *r, const char *needle)
{
	int n = 0;
	for (int i = 0; i < r->nsent; i++)
		n += strstr(r->sent[i], needle) != NULL;
	return n;
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
	struct auth *auth;
	static struct conn a, b;
	char ua[64], ub[64], frame[512], sql[512], err[256], rates[64];
	long pid = (long)getpid();

	if (url == NULL) {
		printf("1..0 # SKIP PARLEY_TEST_DATABASE_URL not set (scripts/test "
		       "sets it)\n");
		return 0;
	}
	settings_defaults(&cfg);
	snprintf(cfg.database_url, sizeof(cfg.database_url), "%s", url);
	/* scripts/test's pooled run: the URL is PgBouncer's (README,
	 * PgBouncer), in transaction mode. */
	if (getenv("PARLEY_TEST_DATABASE_POOL_MODE") != NULL)
		snprintf(cfg.database_pool_mode, sizeof(cfg.database_pool_mode),
			 "%s", getenv("PARLEY_TEST_DATABASE_POOL_MODE"));
	diag("database_pool_mode = %s", cfg.database_pool_mode);
	snprintf(cfg.auth_mode, sizeof(cfg.auth_mode), "none");
	cfg.page_messages = 2;
	auth = auth_new(&cfg, err, sizeof(err));
	app_init(&app, &cfg, db_new_settings(&cfg, "test-handlers"),
		 publisher_new("inproc://parley-test-handlers"));
	snprintf(rates, sizeof(rates), "/tmp/parley-test-handlers-%ld", pid);
	unlink(rates);
	app.rates = rate_table_open(rates, err, sizeof(err));
	if (!ok(app.rates != NULL, "a rate table in %s", rates))
		diag("%s", err);
	snprintf(ua, sizeof(ua), "unit-a-%ld", pid);
	snprintf(ub, sizeof(ub), "unit-b-%ld", pid);

	/* Three messages for b while b is offline, sent by a. */
	conn_init(&a, "unit-conn-a", ua);
	is_int(request(&app, auth, &a, WS_OPEN, NULL), REQUEST_OK,
	       "OPEN: accepted");
	is_int(a.rec.accepted, 1, "  the bridge is told to accept");
	is_str(rec_get(&a.rec, "User-Id"), ua, "  state User-Id is the user");
	ok(strncmp(rec_get(&a.rec, "Phase"), "w:", 2) == 0, "  an empty "
	   "backlog: live, the early check due (%s)",
	   rec_get(&a.rec, "Phase"));
	snprintf(frame, sizeof(frame), "u:%s", ua);
	is_str(a.rec.channel, frame, "  subscribed to the user's channel");
	is_int(a.rec.pings, 0, "  no ping: no further request needed");
	for (int i = 1; i <= 3; i++) {
		snprintf(frame, sizeof(frame), "{\"action\":\"sendMessage\","
			 "\"messageId\":\"%s-m%d\",\"conversationId\":\"c-%ld\","
			 "\"recipientId\":\"%s\",\"content\":\"hello %d\"}",
			 ua, i, pid, ub, i);
		(void)request(&app, auth, &a, WS_TEXT, frame);
	}
	ok(a.rec.nsent == 1 && strstr(a.rec.sent[0], "\"type\":\"ack\"") &&
	   strstr(a.rec.sent[0], "\"duplicate\":false"),
	   "sendMessage: an ack, duplicate false: %s", a.rec.sent[0]);
	is_int(a.rec.sets, 0, "  no state written (the budget is the "
	       "user's, in the rate table)");
	(void)request(&app, auth, &a, WS_TEXT, frame);
	is_int(count_containing(&a.rec, "\"duplicate\":true"), 1,
	       "the same messageId again: duplicate true");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages WHERE "
		 "sender_id = '%s'", ua);
	is_int(count_rows(app.db, sql), 3, "  three rows, sender = user");

	/* b connects: its backlog in pages of two, pulled by pings. */
	conn_init(&b, "unit-conn-b", ub);
	is_int(request(&app, auth, &b, WS_OPEN, NULL), REQUEST_OK,
	       "b connects");
	is_int(count_containing(&b.rec, "\"type\":\"message\""), 2,
	       "  the first page: two messages");
	ok(strncmp(rec_get(&b.rec, "Phase"), "b:", 2) == 0,
	   "  backlog phase (%s)", rec_get(&b.rec, "Phase"));
	is_str(b.rec.channel, "", "  not subscribed yet");
	is_int(b.rec.pings, 1, "  a ping asks for the next page");
	(void)request(&app, auth, &b, WS_PONG, "parley");
	is_int(count_containing(&b.rec, "hello 3"), 1,
	       "the pong's request: the third message");
	snprintf(frame, sizeof(frame), "u:%s", ub);
	is_str(b.rec.channel, frame, "  then subscribed");
	ok(strncmp(rec_get(&b.rec, "Phase"), "w:", 2) == 0,
	   "  live, the early check due (%s)", rec_get(&b.rec, "Phase"));
	is_int(b.rec.pings, 0, "  and no ping after the last page");
	snprintf(frame, sizeof(frame), "{\"action\":\"ack\",\"messageIds\":"
		 "[\"%s-m1\",\"%s-m2\",\"%s-m3\",\"nope\"]}", ua, ua, ua);
	(void)request(&app, auth, &b, WS_TEXT, frame);
	is_int(b.rec.nsent, 1, "ack: one answer, nothing delivered again");
	ok(strstr(b.rec.sent[0], "\"skipped\":[\"nope\"]") != NULL,
	   "  unknown ids are skipped: %s", b.rec.sent[0]);
	ok(strncmp(rec_get(&b.rec, "Phase"), "w:", 2) == 0,
	   "  still settling (%s)", rec_get(&b.rec, "Phase"));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages WHERE "
		 "recipient_id = '%s' AND status = 'delivered'", ub);
	is_int(count_rows(app.db, sql), 3, "  three rows delivered");
	{
		int extra = 0;
		for (int i = 0; i < 5; i++) {
			(void)request(&app, auth, &b, WS_TEXT,
				      "{\"action\":\"ping\"}");
			extra += b.rec.nsent - 1 + b.rec.sets;
		}
		is_int(extra, 0, "five later requests: only their pongs, "
		       "no state written");
	}

	/* The early check 2 s after subscribing: nothing is unacked, so
	 * nothing comes, and the connection is simply live. */
	sleep(2);
	(void)request(&app, auth, &b, WS_TEXT, "{\"action\":\"ping\"}");
	is_int(b.rec.nsent, 1, "the early check: nothing unacked, only the "
	       "pong");
	is_str(rec_get(&b.rec, "Phase"), "l", "  then live");

	/* Acks are never refused for the rate. */
	cfg.rate_limit = 1;
	cfg.rate_burst = 1;
	for (int i = 0; i < 20; i++)
		(void)request(&app, auth, &b, WS_TEXT, frame);
	is_int(count_containing(&b.rec, "rate_limited"), 0,
	       "20 acks over a 1/s budget: none refused");
	(void)request(&app, auth, &b, WS_TEXT, "{\"action\":\"typing\","
		      "\"recipientId\":\"x\"}");
	(void)request(&app, auth, &b, WS_TEXT, "{\"action\":\"typing\","
		      "\"recipientId\":\"x\"}");
	is_int(count_containing(&b.rec, "rate_limited"), 1,
	       "  but typing over it is");
	/* The budget is the user's: b's second connection finds it spent. */
	{
		static struct conn b2;
		conn_init(&b2, "unit-conn-b2", ub);
		is_int(request(&app, auth, &b2, WS_OPEN, NULL), REQUEST_OK,
		       "b opens a second connection");
		(void)request(&app, auth, &b2, WS_TEXT, "{\"action\":"
			      "\"typing\",\"recipientId\":\"x\"}");
		is_int(count_containing(&b2.rec, "rate_limited"), 1,
		       "  its typing is over b's budget too (the user's)");
		(void)request(&app, auth, &b2, WS_TEXT, frame);
		is_int(count_containing(&b2.rec, "rate_limited"), 0,
		       "  its ack is not");
		(void)request(&app, auth, &b2, WS_DISCONNECT, NULL);
	}
	cfg.rate_limit = 50;
	cfg.rate_burst = 100;

	/* Connects: a user's budget, and (before authentication) the
	 * address's. */
	{
		static struct conn c[4];
		char uc[64], id[64];
		const char *why = NULL;
		struct ws_event open = { WS_OPEN, NULL, 0 };
		enum request_result r[4];

		cfg.user_connect_rate = 1;
		cfg.user_connect_burst = 2;
		snprintf(uc, sizeof(uc), "unit-c-%ld", pid);
		for (int i = 0; i < 3; i++) {
			snprintf(id, sizeof(id), "unit-conn-c%d", i);
			conn_init(&c[i], id, uc);
			r[i] = handle_request(&app, auth, &c[i].io, &open, 1,
					      &why);
		}
		ok(r[0] == REQUEST_OK && r[1] == REQUEST_OK &&
		   r[2] == REQUEST_TOO_MANY, "a user's third connect in a "
		   "burst of 2: refused (%d %d %d)", r[0], r[1], r[2]);
		is_str(why, "too many connection attempts for this user; "
		       "retry later", "  with its reason");
		for (int i = 0; i < 2; i++)
			(void)request(&app, auth, &c[i], WS_DISCONNECT, NULL);
		cfg.user_connect_rate = 1;
		cfg.user_connect_burst = 30;

		cfg.address_connect_rate = 1;
		cfg.address_connect_burst = 1;
		for (int i = 0; i < 2; i++) {
			snprintf(id, sizeof(id), "unit-conn-d%d", i);
			snprintf(uc, sizeof(uc), "unit-d%d-%ld", i, pid);
			conn_init(&c[i], id, uc);
			c[i].io.address = "198.51.100.7";
			r[i] = handle_request(&app, auth, &c[i].io, &open, 1,
					      &why);
		}
		ok(r[0] == REQUEST_OK && r[1] == REQUEST_TOO_MANY,
		   "two users from one address over its burst of 1: the "
		   "second refused (%d %d)", r[0], r[1]);
		is_str(why, "too many connection attempts from this address; "
		       "retry later", "  with its reason");
		(void)request(&app, auth, &c[0], WS_DISCONNECT, NULL);
		cfg.address_connect_rate = 20;
		cfg.address_connect_burst = 200;
	}

	(void)request(&app, auth, &a, WS_TEXT, "{\"action\":");
	is_int(count_containing(&a.rec, "\"code\":\"invalid_json\""), 1,
	       "bad JSON: invalid_json");
	(void)request(&app, auth, &a, WS_TEXT, "{\"action\":\"ping\"}");
	is_str(a.rec.sent[0], "{\"type\":\"pong\",\"data\":{}}", "ping: pong");
	snprintf(frame, sizeof(frame), "{\"action\":\"getMessages\","
		 "\"conversationId\":\"c-%ld\"}", pid);
	(void)request(&app, auth, &a, WS_TEXT, frame);
	ok(strstr(a.rec.sent[0], "\"type\":\"messages\"") &&
	   strstr(a.rec.sent[0], "\"content\":\"hello 3\"") &&
	   strstr(a.rec.sent[0], "\"hasMore\":false"),
	   "getMessages: the messages, hasMore false");

	/* Several frames in one request: one transaction, acks after it. */
	{
		struct ws_event evs[3];
		char f1[512], f2[512];
		const char *why = NULL;
		send_frame(f1, sizeof(f1), ua, "t1", ub, "one");
		send_frame(f2, sizeof(f2), ua, "t2", ub, "two");
		evs[0] = (struct ws_event){ WS_TEXT, f1, strlen(f1) };
		evs[1] = (struct ws_event){ WS_TEXT, "{\"action\":\"ping\"}", 17 };
		evs[2] = (struct ws_event){ WS_TEXT, f2, strlen(f2) };
		a.rec.nsent = 0;
		is_int(handle_request(&app, auth, &a.io, evs, 3, &why),
		       REQUEST_OK, "three frames in one request");
		is_int(count_containing(&a.rec, "\"duplicate\":false"), 2,
		       "  both sends acked");
		ok(a.rec.nsent == 3 && strstr(a.rec.sent[0], "pong"),
		   "  the pong first, the acks after the COMMIT");
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages "
			 "WHERE message_id IN ('%s-t1', '%s-t2')", ua, ua);
		is_int(count_rows(app.db, sql), 2, "  both rows stored");
	}

	/* What the statements above left in the session they ran in: named
	 * prepared statements (session), or nothing (transaction: through a
	 * pooler the next transaction may run on another server connection,
	 * where a name prepared here would not exist). */
	{
		bool pooled = strcmp(cfg.database_pool_mode, "transaction") == 0;
		long n = count_rows(app.db, "SELECT count(*) FROM "
					    "pg_prepared_statements");

		ok(pooled ? n == 0 : n > 0, "database_pool_mode %s: %ld named "
		   "statements in the session", cfg.database_pool_mode, n);
	}

	/* A transaction is believed only when it committed. */
	{
		enum db_status st;
		PGresult *r;
		struct db *killer = db_new_settings(&cfg, "test-killer");
		char kill[128];

		ok(db_begin(app.db) == DB_OK, "db_begin");
		r = db_exec(app.db, "SELECT 1/0", &st);
		PQclear(r);
		is_int(st, DB_ERROR, "  a failing statement in it");
		ok(db_commit(app.db) != DB_OK, "  then COMMIT is not OK "
		   "(PostgreSQL answers it as ROLLBACK)");

		ok(db_begin(app.db) == DB_OK, "db_begin again");
		r = db_exec(app.db, "SELECT pg_backend_pid()", &st);
		snprintf(kill, sizeof(kill), "SELECT pg_terminate_backend(%s)",
			 r && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "0");
		PQclear(r);
		r = db_exec(killer, kill, &st);
		PQclear(r);
		usleep(200000);
		r = db_exec(app.db, "SELECT 1", &st);
		PQclear(r);
		ok(st != DB_OK, "  a statement after the connection died fails "
		   "(no retry on a new connection inside a transaction)");
		ok(db_commit(app.db) != DB_OK, "  and COMMIT is not OK");
		r = db_exec(app.db, "SELECT 1", &st);
		PQclear(r);
		is_int(st, DB_OK, "afterwards the next call reconnects");
		db_free(killer);
	}

	/* Backpressure: a statement waiting on a lock gives up after
	 * lock_timeout (2 s) with DB_UNAVAILABLE, and for the next second
	 * the worker answers DB_UNAVAILABLE without waiting again. */
	{
		struct db *holder = db_new_settings(&cfg, "test-lock");
		enum db_status st;
		struct timespec t0, t1, t2;
		PGresult *r;

		ok(db_begin(holder) == DB_OK, "lock: a second session begins");
		PQclear(db_exec(holder, "LOCK TABLE messages IN ACCESS "
			       "EXCLUSIVE MODE", &st));
		is_int(st, DB_OK, "  and locks messages");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = db_exec(app.db, "SELECT count(*) FROM messages", &st);
		PQclear(r);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		is_int(st, DB_UNAVAILABLE, "a query behind the lock: "
		       "unavailable");
		ok(t1.tv_sec - t0.tv_sec >= 1 && t1.tv_sec - t0.tv_sec <= 4,
		   "  after lock_timeout, once (%lld s)",
		   (long long)(t1.tv_sec - t0.tv_sec));
		r = db_exec(app.db, "SELECT 1", &st);
		PQclear(r);
		clock_gettime(CLOCK_MONOTONIC, &t2);
		ok(st == DB_UNAVAILABLE &&
		   (t2.tv_sec - t1.tv_sec) * 1000 +
			   (t2.tv_nsec - t1.tv_nsec) / 1000000 < 200,
		   "  the next call at once: unavailable, no wait");
		db_rollback(holder);
		db_free(holder);
		sleep(1);
		usleep(100000);
		r = db_exec(app.db, "SELECT count(*) FROM messages", &st);
		PQclear(r);
		is_int(st, DB_OK, "a second later, with the lock gone: OK");
	}

	/* A live connection's sweep: first a probe ping, no copies; the
	 * probe's pong starts the sweep, which resends what is unacked. */
	{
		snprintf(sql, sizeof(sql), "INSERT INTO messages (message_id, "
			 "conversation_id, sender_id, recipient_id, content, "
			 "received_at) VALUES ('%s-old', 'c-%ld', '%s', '%s', "
			 "'old', now() - interval '1 hour')", ua, pid, ua, ub);
		PQclear(db_exec(app.db, sql, &(enum db_status){ 0 }));
		rec_set(&b.rec, "Phase", "l");
		rec_set(&b.rec, "Sweep", "1");
		(void)request(&app, auth, &b, WS_PONG, "parley");
		is_int(b.rec.pings, 1, "a sweep due: a probe ping");
		is_int(count_containing(&b.rec, "-old\""), 0,
		       "  and no copy yet");
		ok(strncmp(rec_get(&b.rec, "Phase"), "p:", 2) == 0,
		   "  waiting for its pong (%s)", rec_get(&b.rec, "Phase"));
		(void)request(&app, auth, &b, WS_PONG, "parley");
		is_int(count_containing(&b.rec, "-old\""), 0,
		       "another pong (a pull's) starts nothing");
		(void)request(&app, auth, &b, WS_PONG, "parley-probe");
		is_int(count_containing(&b.rec, "-old\""), 1,
		       "the probe's pong: the unacked message again");
		is_str(rec_get(&b.rec, "Phase"), "l", "  then live");
	}

	/* Two sends and a CLOSE in one request: the acks before the CLOSE. */
	{
		struct ws_event evs[3];
		char f1[512], f2[512];
		const char *why = NULL;
		send_frame(f1, sizeof(f1), ub, "x1", ua, "x");
		send_frame(f2, sizeof(f2), ub, "x2", ua, "y");
		evs[0] = (struct ws_event){ WS_TEXT, f1, strlen(f1) };
		evs[1] = (struct ws_event){ WS_TEXT, f2, strlen(f2) };
		evs[2] = (struct ws_event){ WS_CLOSE, "\x03\xe8", 2 };
		b.rec.nsent = 0;
		b.rec.close_at = -1;
		is_int(handle_request(&app, auth, &b.io, evs, 3, &why),
		       REQUEST_OK, "two sends and a CLOSE in one request");
		is_int(b.rec.close_at, 2, "  both acks go out before the CLOSE");
	}
	(void)request(&app, auth, &a, WS_DISCONNECT, NULL);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM connections WHERE "
		 "connection_id IN ('unit-conn-a', 'unit-conn-b')");
	is_int(count_rows(app.db, sql), 0, "DISCONNECT and CLOSE delete the "
	       "rows");

	fanout_run(&app);
	db_free(app.db);
	publisher_free(app.pub);
	rate_table_close(app.rates);
	unlink(rates);
	auth_free(auth);
	return done_testing();
}
