/* parley-websocketd - the chat over websocketd: one process per WebSocket.
 *
 * websocketd (Debian's, 0.4.1) accepts the WebSocket, starts this program
 * with the handshake in a CGI-style environment (QUERY_STRING,
 * HTTP_AUTHORIZATION, REMOTE_ADDR) and then passes every text message
 * the client sends as one line on stdin and every line written to
 * stdout as one text message to the client; the connection ends when
 * either side closes (stdin's EOF here; this process's exit there).
 *
 * This file is a bridge adapter, as parley-ws.c is for Pushpin: it fills
 * a struct bridge (session.h) and calls handle_request() (request.c)
 * for the connect, for each line, for the keep-alive timer and for the
 * disconnect, and writes what the bridge collects to stdout. Deliveries
 * from other connections come as PostgreSQL NOTIFY (notify.h): a
 * subscribe is a LISTEN on this process's one database connection,
 * which it holds as long as the WebSocket lives. What websocketd cannot
 * do, this cannot either: no ping or close frame reaches the client
 * (closing is exiting), and the client's pings are answered by
 * websocketd itself (README, "websocketd").
 *
 * SECURITY: the environment is websocketd's: QUERY_STRING and the
 * HTTP_* variables (the client's headers) are the client's and are
 * validated (auth.c); REMOTE_ADDR is the TCP peer websocketd saw. Every
 * line is the client's and is validated (protocol.c). websocketd passes
 * only the variables of its --passenv on, so a client cannot set the
 * PARLEY_* ones. Trusted: the settings file, PostgreSQL, the rate table.
 */
#include "common.h"

#include <libpq-fe.h> /* before db.h: its PGconn calls */

#include "auth.h"
#include "groups.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "program.h"
#include "ratetable.h"
#include "request.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <uuid/uuid.h>

/* The payloads of delivery.c's pings (its PULL_PING and PROBE_PING). */
#define PULL_PING "parley"
#define PROBE_PING "parley-probe"
/* Requests in a row for pulls and probes before the loop reads again
 * (a backlog of many pages goes out a page at a time). */
#define PULLS_IN_A_ROW 64

static const char *const state_names[] = { STATE_USER_ID, STATE_PHASE,
					   STATE_SWEEP, STATE_REFRESH };

/* One WebSocket: this process. */
struct wsd {
	struct app app;
	const struct auth *auth;
	char conn_id[40];
	char *state[ARRAY_LEN(state_names)]; /* connstate.h's values */
	char channel[2][ID_MAX + 8];         /* subscribed (c:, u:) */
	char name[2][NOTIFY_NAME_MAX];       /* their NOTIFY channels */
	int nchannels;
	int listen_pid; /* the backend that holds the LISTENs; 0: none */
	long tick_s;    /* seconds without a request before one is made */
	bool pull;      /* the handlers asked for the next request */
	bool probe;     /* ... and for a probe's answer */
	bool close;     /* the connection is to end (a close asked for) */
	bool out_gone;  /* stdout failed: websocketd is gone */
	size_t sent;    /* bytes written in this request */
	struct notify_join join;
	char *in;       /* stdin's bytes not yet a whole line */
	size_t in_len, in_cap;
	bool skipping;  /* in an over-long line: drop until its end */
};

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- the bridge ------------------------------------------------------- */

/* One line to the client. A message never holds a raw newline (JSON
 * escapes it), which would split it in two. */
static void put_line(struct wsd *w, const char *json, size_t len)
{
	const char *p = json;
	size_t left = len + 1;
	char *line;

	if (w->out_gone)
		return;
	if (memchr(json, '\n', len) != NULL) {
		log_error("connection %s: an event with a newline not sent",
			  w->conn_id);
		return;
	}
	line = malloc(len + 1);
	if (line == NULL) {
		log_error("out of memory sending an event");
		return;
	}
	memcpy(line, json, len);
	line[len] = '\n';
	p = line;
	/* Blocking: a client that does not read holds this process (and
	 * only it), as websocketd stops reading the pipe. */
	while (left > 0) {
		ssize_t n = write(STDOUT_FILENO, p, left);
		if (n < 0 && errno == EINTR && !stopping)
			continue;
		if (n <= 0) {
			w->out_gone = true;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	free(line);
	w->sent += len + 1;
}

static const char *wsd_get_state(void *ctx, const char *name)
{
	struct wsd *w = ctx;

	for (size_t i = 0; i < ARRAY_LEN(state_names); i++)
		if (strcmp(name, state_names[i]) == 0)
			return w->state[i];
	return NULL;
}

static void wsd_set_state(void *ctx, const char *name, const char *value)
{
	struct wsd *w = ctx;

	for (size_t i = 0; i < ARRAY_LEN(state_names); i++)
		if (strcmp(name, state_names[i]) == 0) {
			char *v = strdup(value);
			if (v == NULL) {
				log_error("out of memory keeping state");
				return;
			}
			free(w->state[i]);
			w->state[i] = v;
		}
}

/* Nothing to answer: websocketd has accepted the WebSocket. The
 * keep-alive requests Pushpin would make (every keepalive_s, and after
 * ping_s of client silence, its ping's pong) are this timer's. */
static void wsd_accept(void *ctx, long keepalive_s, long ping_s)
{
	struct wsd *w = ctx;

	w->tick_s = keepalive_s < ping_s ? keepalive_s : ping_s;
	if (w->tick_s < 1)
		w->tick_s = 1;
}

/* LISTEN on every subscribed channel, on the current database
 * connection: again after a reconnect, which lost them. The names are
 * "parley_" and hex digits (notify_name), never the client's bytes. */
static void listen_all(struct wsd *w)
{
	PGconn *c = db_conn(w->app.db);
	int pid = c ? PQbackendPID(c) : 0;

	if (c == NULL || w->nchannels == 0 || pid == w->listen_pid)
		return;
	if (w->listen_pid != 0)
		log_warn("connection %s: the database connection was opened "
			 "again; listening again (what was published "
			 "meanwhile comes with the next redelivery sweep)",
			 w->conn_id);
	for (int i = 0; i < w->nchannels; i++) {
		char sql[NOTIFY_NAME_MAX + 16];
		enum db_status st;
		PGresult *r;

		snprintf(sql, sizeof(sql), "LISTEN %s", w->name[i]);
		r = db_exec(w->app.db, sql, &st);
		if (r == NULL) {
			w->listen_pid = 0;
			return; /* again on the next turn of the loop */
		}
		PQclear(r);
	}
	c = db_conn(w->app.db);
	w->listen_pid = c ? PQbackendPID(c) : 0;
}

static void wsd_subscribe(void *ctx, const char *channel)
{
	struct wsd *w = ctx;

	for (int i = 0; i < w->nchannels; i++)
		if (strcmp(w->channel[i], channel) == 0)
			return;
	if (w->nchannels == (int)ARRAY_LEN(w->channel)) {
		log_error("connection %s: more than %zu channels", w->conn_id,
			  ARRAY_LEN(w->channel));
		return;
	}
	snprintf(w->channel[w->nchannels], sizeof(w->channel[0]), "%s",
		 channel);
	notify_name(w->name[w->nchannels], channel);
	w->nchannels++;
	w->listen_pid = 0; /* LISTEN on all, the new one included */
	listen_all(w);
}

static void wsd_send(void *ctx, const char *json, size_t len)
{
	put_line(ctx, json, len);
}

/* No frame reaches the client through websocketd: a pull ping becomes
 * the next request at once, a probe ping that request with the probe's
 * answer (written lines are the client's in order: what websocketd has
 * read it has taken to the socket), and a close the process's end. */
static void wsd_frame(void *ctx, enum ws_type type, const char *data,
		      size_t len)
{
	struct wsd *w = ctx;

	if (type == WS_PING) {
		w->pull = true;
		if (len == strlen(PROBE_PING) &&
		    memcmp(data, PROBE_PING, len) == 0)
			w->probe = true;
	} else if (type == WS_CLOSE) {
		w->close = true;
	}
}

static size_t wsd_room(void *ctx)
{
	struct wsd *w = ctx;
	return w->sent < RESPONSE_BUDGET ? RESPONSE_BUDGET - w->sent : 0;
}

/* ---- requests ----------------------------------------------------------- */

static enum request_result request(struct wsd *w, const struct ws_event *ev,
				   size_t n, struct bridge *io,
				   const char **why)
{
	enum request_result r;

	w->sent = 0;
	r = handle_request(&w->app, w->auth, io, ev, n, why);
	/* The answer has gone: now the group fan-outs it queued. */
	fanout_run(&w->app);
	return r;
}

/* A request with no event of the client's: the keep-alive's, a pull's,
 * or a probe's answer. */
static void request_empty(struct wsd *w, struct bridge *io)
{
	struct ws_event pong = { WS_PONG, PROBE_PING, strlen(PROBE_PING) };
	const char *why = NULL;
	bool probe = w->probe;

	w->pull = w->probe = false;
	if (request(w, &pong, probe ? 1 : 0, io, &why) != REQUEST_OK)
		log_warn("connection %s: a keep-alive request failed: %s",
			 w->conn_id, why ? why : "?");
}

static void request_line(struct wsd *w, struct bridge *io, const char *line,
			 size_t len)
{
	struct ws_event ev = { WS_TEXT, line, len };
	const char *why = NULL;

	if (request(w, &ev, 1, io, &why) != REQUEST_OK)
		log_warn("connection %s: a frame's request failed: %s",
			 w->conn_id, why ? why : "?");
}

/* $disconnect: the row goes (handlers.c), as on Pushpin's CLOSE. */
static void disconnect(struct wsd *w, struct bridge *io)
{
	struct ws_event ev = { WS_DISCONNECT, NULL, 0 };
	const char *why = NULL;

	if (request(w, &ev, 1, io, &why) != REQUEST_OK)
		log_warn("connection %s: the disconnect failed: %s",
			 w->conn_id, why ? why : "?");
}

/* A refused connect: Pushpin would refuse the handshake with an HTTP
 * status; websocketd has accepted it already, so the client gets one
 * error event saying why (with that status) and the connection ends. */
static void refuse(struct wsd *w, enum request_result r, const char *why)
{
	static const struct {
		enum request_result r;
		int status;
		const char *code;
	} map[] = {
		{ REQUEST_BAD, 400, "invalid_field" },
		{ REQUEST_UNAUTHORIZED, 401, "forbidden" },
		{ REQUEST_TOO_MANY, 429, "rate_limited" },
		{ REQUEST_UNAVAILABLE, 503, "unavailable" },
	};
	cJSON *ev = cJSON_CreateObject(), *data;
	int status = 400;
	const char *code = "invalid_field";
	char *json;

	for (size_t i = 0; i < ARRAY_LEN(map); i++)
		if (map[i].r == r) {
			status = map[i].status;
			code = map[i].code;
		}
	log_info("connection %s refused (%d): %s", w->conn_id, status, why);
	if (ev == NULL || !cJSON_AddStringToObject(ev, "type", "error") ||
	    (data = cJSON_AddObjectToObject(ev, "data")) == NULL ||
	    !cJSON_AddStringToObject(data, "code", code) ||
	    !cJSON_AddStringToObject(data, "message", why ? why : "refused") ||
	    !cJSON_AddStringToObject(data, "action", "connect") ||
	    !cJSON_AddNumberToObject(data, "status", status) ||
	    (json = cJSON_PrintUnformatted(ev)) == NULL) {
		cJSON_Delete(ev);
		return;
	}
	put_line(w, json, strlen(json));
	cJSON_free(json);
	cJSON_Delete(ev);
}

/* ---- NOTIFY ---------------------------------------------------------------- */

static void on_notify(struct wsd *w, const PGnotify *n)
{
	struct notify_header h;
	bool ours = false;
	char *body;
	size_t len;

	if (n->extra == NULL ||
	    !notify_decode(n->extra, strlen(n->extra), &h)) {
		log_debug("connection %s: a NOTIFY on %s that is not ours",
			  w->conn_id, n->relname);
		return;
	}
	/* Another channel with the same hash: not ours. */
	for (int i = 0; i < w->nchannels; i++)
		ours = ours || strcmp(h.channel, w->channel[i]) == 0;
	if (!ours || strcmp(h.skip, w->conn_id) == 0)
		return;
	switch (notify_join_add(&w->join, &h, &body, &len)) {
	case 1:
		break;
	case 0:
		return;
	default:
		log_warn("connection %s: a publish's parts dropped (out of "
			 "order or out of memory)", w->conn_id);
		metrics_add(M_PUBLISH_FAILURES, 1);
		return;
	}
	if (h.kind == NOTIFY_MESSAGE) {
		w->sent = 0;
		put_line(w, body, len);
	} else {
		log_info("connection %s: closed by a publish (code %s)",
			 w->conn_id, body);
		w->close = true;
	}
	free(body);
}

/* What the connection has received (also while it ran a query). */
static void take_notifies(struct wsd *w, bool read)
{
	PGconn *c = db_conn(w->app.db);
	PGnotify *n;

	if (c == NULL || (read && !PQconsumeInput(c)))
		return;
	while ((n = PQnotifies(c)) != NULL) {
		if (!w->close)
			on_notify(w, n);
		PQfreemem(n);
	}
}

/* ---- stdin -------------------------------------------------------------- */

/* Reads what stdin has; every whole line is a request. False at EOF. */
static bool read_lines(struct wsd *w, struct bridge *io, size_t max)
{
	char chunk[65536];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
	size_t at = 0;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0) {
		/* websocketd ends every message with a newline; a rest
		 * without one is still a message. */
		if (w->in_len > 0 && !w->skipping)
			request_line(w, io, w->in, w->in_len);
		w->in_len = 0;
		return false;
	}
	while (at < (size_t)n && !w->close) {
		char *nl = memchr(chunk + at, '\n', (size_t)n - at);
		size_t take = nl ? (size_t)(nl - (chunk + at)) : (size_t)n - at;

		if (!w->skipping && w->in_len + take > max) {
			/* Over max_frame_bytes: the handlers answer
			 * too_large on what is there; the rest is dropped. */
			size_t fit = max + 1 - w->in_len;
			memcpy(w->in + w->in_len, chunk + at,
			       fit < take ? fit : take);
			w->in_len = max + 1;
			request_line(w, io, w->in, w->in_len);
			w->in_len = 0;
			w->skipping = true;
		} else if (!w->skipping) {
			memcpy(w->in + w->in_len, chunk + at, take);
			w->in_len += take;
		}
		at += take;
		if (nl == NULL)
			break;
		at++; /* the newline */
		if (!w->skipping)
			request_line(w, io, w->in, w->in_len);
		w->in_len = 0;
		w->skipping = false;
	}
	return true;
}

/* ---- the process --------------------------------------------------------- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_conn_id(char out[40])
{
	uuid_t u;
	char text[37];
	size_t k = strlen(WSD_CONN_PREFIX);

	uuid_generate(u);
	uuid_unparse_lower(u, text);
	memcpy(out, WSD_CONN_PREFIX, k);
	for (const char *p = text; *p; p++)
		if (*p != '-')
			out[k++] = *p;
	out[k] = '\0';
}

/* The connection from its connect to its end. */
static int serve(struct wsd *w, struct bridge *io)
{
	struct ws_event open_ev = { WS_OPEN, NULL, 0 };
	const char *why = NULL;
	enum request_result r;
	double last;
	bool eof = false;

	r = request(w, &open_ev, 1, io, &why);
	if (r != REQUEST_OK) {
		refuse(w, r, why);
		return EX_OK;
	}
	log_debug("connection %s: user %s connected", w->conn_id,
		  w->state[0] ? w->state[0] : "?");
	last = mono_s();
	while (!stopping && !w->close && !w->out_gone && !eof) {
		struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
					 { .fd = -1, .events = POLLIN } };
		PGconn *c;
		double wait_s;
		int rc;

		/* A backlog's pages, a probe's answer: at once. */
		for (int i = 0; w->pull && i < PULLS_IN_A_ROW && !w->close &&
				!w->out_gone && !stopping; i++) {
			request_empty(w, io);
			take_notifies(w, false);
			last = mono_s();
		}
		listen_all(w);
		take_notifies(w, false);
		c = db_conn(w->app.db);
		fds[1].fd = c ? PQsocket(c) : -1;
		wait_s = w->pull ? 0 : last + (double)w->tick_s - mono_s();
		if (fds[1].fd < 0 && wait_s > 1)
			wait_s = 1; /* the database is down: try again soon */
		rc = poll(fds, 2, wait_s > 0 ? (int)(wait_s * 1000) + 1 : 0);
		if (rc < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (rc > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			eof = !read_lines(w, io, (size_t)w->app.cfg->max_frame_bytes);
			last = mono_s();
		}
		if (rc > 0 && fds[1].fd >= 0 &&
		    (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
			take_notifies(w, true);
		if (!w->pull && mono_s() - last >= (double)w->tick_s) {
			request_empty(w, io);
			last = mono_s();
		}
	}
	/* stdin's EOF (the client or websocketd closed), a signal
	 * (websocketd's SIGINT after the EOF, a shutdown), a close
	 * publish: the row goes, then the process. */
	disconnect(w, io);
	log_debug("connection %s: ended", w->conn_id);
	return EX_OK;
}

static int wsd_run(void *ctx, const struct settings *cfg)
{
	struct wsd *w = ctx;
	struct bridge_files files;
	struct sigaction sa = { .sa_handler = on_term };
	struct bridge io = {
		.query = getenv("QUERY_STRING"),
		.authorization = getenv("HTTP_AUTHORIZATION"),
		.address = getenv("REMOTE_ADDR"),
		.get_state = wsd_get_state,
		.set_state = wsd_set_state,
		.accept = wsd_accept,
		.subscribe = wsd_subscribe,
		.send = wsd_send,
		.frame = wsd_frame,
		.room = wsd_room,
		.ctx = w,
	};
	int rc;

	if (io.address != NULL && io.address[0] == '\0')
		io.address = NULL;
	/* Mapped before root is given up: the files may be root's. */
	rc = bridge_files_open(&files, cfg);
	if (rc != EX_OK)
		return rc;
	if (!program_drop_privileges(cfg->run_as_user))
		return EX_NOPERM;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: poll() returns */
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (fcntl(STDIN_FILENO, F_SETFL,
		  fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK) != 0)
		log_warn("stdin: cannot make it non-blocking: %s",
			 strerror(errno));
	rc = app_open(&w->app, cfg, &files, "parley-websocketd");
	if (rc != EX_OK) {
		bridge_files_close(&files);
		return rc;
	}
	w->auth = files.auth;
	w->in_cap = (size_t)cfg->max_frame_bytes + 1;
	w->in = malloc(w->in_cap);
	make_conn_id(w->conn_id);
	io.conn_id = w->conn_id;
	notify_join_init(&w->join);
	if (w->in == NULL) {
		log_error("out of memory");
		rc = EX_OSERR;
	} else {
		if (!publisher_notifies(w->app.pub))
			log_warn("publish_spec has no postgres:: this "
				 "connection hears only its own process's "
				 "publishes (README, websocketd)");
		rc = serve(w, &io);
	}
	notify_join_free(&w->join);
	for (size_t i = 0; i < ARRAY_LEN(w->state); i++)
		free(w->state[i]);
	free(w->in);
	app_close(&w->app);
	bridge_files_close(&files);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct program prog = {
		.name = "parley-websocketd",
		.usage = "\n"
			 "  run by websocketd, one process per WebSocket:\n"
			 "  websocketd --port 8200 parley-websocketd "
			 "--config /etc/parley/parley.conf",
		.run = wsd_run,
		/* the LISTENs of its connection's channels */
		.needs_session = "LISTEN on its connection's channels",
	};
	static struct wsd w;

	return program_main(argc, argv, &prog, &w);
}
