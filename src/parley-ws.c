/* parley-ws - the FastCGI worker behind Pushpin's WebSocket-over-HTTP.
 *
 * Pushpin holds the clients' WebSockets and POSTs their events here
 * (Content-Type application/websocket-events); this file is the only
 * one that knows libfcgi and that wire format. It decodes a request's
 * events, hands them to the transport-free handle_request() (request.c)
 * with a struct bridge whose outputs become events, GRIP control
 * messages and Set-Meta-* headers, and encodes the answer.
 *
 * Run by lighttpd (mod_fastcgi "bin-path": the listening socket is
 * stdin), or standalone for nginx and others: --listen ADDR --procs N.
 *
 * SECURITY: this program must be reachable only by Pushpin. It trusts
 * the Connection-Id and Meta-* headers, which Pushpin sets and strips
 * from clients; the query string and every frame are the client's and
 * are validated. It listens on loopback in every shipped configuration.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "request.h"
#include "wsevent.h"

#include <cjson/cJSON.h>
#include <ctype.h>

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* A request body larger than this is refused (Pushpin batches a few
 * frames per request; one frame is at most a few hundred KiB). */
#define MAX_BODY (8u * 1024 * 1024)
#define CONTENT_TYPE_EVENTS "application/websocket-events"

struct response {
	FCGX_Request *req;
	struct buf body;
	struct buf headers;
	const char *conn_id;
};

/* ---- the bridge: struct bridge over one FastCGI request ---------------- */

/* Meta-NAME as the CGI variable HTTP_META_NAME (upper case, '-' -> '_'). */
static const char *fcgi_get_state(void *ctx, const char *name)
{
	struct response *r = ctx;
	char var[64] = "HTTP_META_";
	size_t i = strlen(var);

	for (; *name != '\0' && i + 1 < sizeof(var); name++)
		var[i++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
	var[i] = '\0';
	return FCGX_GetParam(var, r->req->envp);
}

static void fcgi_set_state(void *ctx, const char *name, const char *value)
{
	struct response *r = ctx;
	buf_printf(&r->headers, "Set-Meta-%s: %s\r\n", name, value);
}

/* One GRIP control message (a "c:"-prefixed TEXT event); frees c. */
static void grip_control(struct response *r, cJSON *c)
{
	char *json = c ? cJSON_PrintUnformatted(c) : NULL;

	if (json == NULL)
		r->body.oom = true; /* answered as out of memory */
	else
		ws_write_text(&r->body, "c:", json, strlen(json));
	cJSON_free(json);
	cJSON_Delete(c);
}

static void fcgi_accept(void *ctx, long keepalive_s, long ping_s)
{
	struct response *r = ctx;
	cJSON *ka = cJSON_CreateObject();

	ws_write(&r->body, WS_OPEN, NULL, 0);
	buf_printf(&r->headers, "Sec-WebSocket-Extensions: grip\r\n"
		   "Keep-Alive-Interval: %ld\r\n", keepalive_s);
	/* GRIP keep-alive: Pushpin pings an idle client, whose pong is
	 * traffic for condure and NATs, and a request here. */
	cJSON_AddStringToObject(ka, "type", "keep-alive");
	cJSON_AddStringToObject(ka, "message-type", "ping");
	cJSON_AddStringToObject(ka, "content", "keep-alive");
	cJSON_AddNumberToObject(ka, "timeout", (double)ping_s);
	grip_control(r, ka);
}

static void fcgi_subscribe(void *ctx, const char *channel)
{
	struct response *r = ctx;
	cJSON *meta = cJSON_CreateObject(), *sub = cJSON_CreateObject();
	cJSON *filters = cJSON_AddArrayToObject(sub, "filters");

	/* skip-self compares the subscriber's (set-meta) "user" with a
	 * publish's meta "sender": set to the connection id, a connection
	 * does not get the copy of its own send. */
	cJSON_AddStringToObject(meta, "type", "set-meta");
	cJSON_AddStringToObject(meta, "name", "user");
	cJSON_AddStringToObject(meta, "value", r->conn_id);
	cJSON_AddStringToObject(sub, "type", "subscribe");
	cJSON_AddStringToObject(sub, "channel", channel);
	cJSON_AddItemToArray(filters, cJSON_CreateString("skip-self"));
	grip_control(r, meta);
	grip_control(r, sub);
}

static void fcgi_send(void *ctx, const char *json, size_t len)
{
	struct response *r = ctx;
	ws_write_text(&r->body, "m:", json, len);
}

static void fcgi_frame(void *ctx, enum ws_type type, const char *data,
		       size_t len)
{
	struct response *r = ctx;
	ws_write(&r->body, type, data, len);
}

static size_t fcgi_room(void *ctx)
{
	struct response *r = ctx;
	size_t used = r->body.len + r->headers.len;
	return used < RESPONSE_BUDGET ? RESPONSE_BUDGET - used : 0;
}

/* ---- FastCGI ------------------------------------------------------------- */

static void reply_plain(FCGX_Request *req, const char *status,
			const char *text)
{
	FCGX_FPrintF(req->out, "Status: %s\r\nContent-Type: text/plain\r\n"
		     "Cache-Control: no-store\r\n\r\n%s\n", status, text);
}

static char *read_body(FCGX_Request *req, size_t *len, const char **why)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	unsigned long n = cl ? strtoul(cl, NULL, 10) : 0;
	char *body;
	int got;

	*len = 0;
	if (n > MAX_BODY) {
		*why = "request body too large";
		return NULL;
	}
	body = malloc(n + 1);
	if (body == NULL) {
		*why = "out of memory";
		return NULL;
	}
	got = n ? FCGX_GetStr(body, (int)n, req->in) : 0;
	if (got < 0 || (unsigned long)got != n) {
		free(body);
		*why = "request body shorter than its Content-Length";
		return NULL;
	}
	body[n] = '\0';
	*len = n;
	return body;
}

/* The whole body as events, validated before any is acted on (malloc'd
 * array, NULL with *why when malformed or out of memory). */
static struct ws_event *parse_events(const char *body, size_t len, size_t *n,
				     const char **why)
{
	struct ws_reader rd;
	struct ws_event ev, *events;
	size_t count = 0;
	int rc;

	ws_reader_init(&rd, body, len);
	while ((rc = ws_next(&rd, &ev, why)) == 1)
		count++;
	if (rc < 0)
		return NULL;
	events = calloc(count ? count : 1, sizeof(*events));
	if (events == NULL) {
		*why = "out of memory";
		return NULL;
	}
	ws_reader_init(&rd, body, len);
	for (*n = 0; *n < count && ws_next(&rd, &events[*n], why) == 1; (*n)++)
		;
	return events;
}

static void serve(struct app *app, const struct auth *auth,
		  FCGX_Request *req)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	const char *ctype = FCGX_GetParam("CONTENT_TYPE", req->envp);
	const char *conn_id = FCGX_GetParam("HTTP_CONNECTION_ID", req->envp);
	struct response resp = { .req = req, .conn_id = conn_id };
	struct bridge io = {
		.conn_id = conn_id,
		.query = FCGX_GetParam("QUERY_STRING", req->envp),
		.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", req->envp),
		.get_state = fcgi_get_state,
		.set_state = fcgi_set_state,
		.accept = fcgi_accept,
		.subscribe = fcgi_subscribe,
		.send = fcgi_send,
		.frame = fcgi_frame,
		.room = fcgi_room,
		.ctx = &resp,
	};
	const char *why = NULL;
	struct ws_event *events = NULL;
	size_t len, n = 0;
	char *body = NULL;

	if (method == NULL || strcmp(method, "POST") != 0 || ctype == NULL ||
	    strcmp(ctype, CONTENT_TYPE_EVENTS) != 0) {
		reply_plain(req, "400 Bad Request", "This is a WebSocket "
			    "endpoint: connect with a WebSocket client.");
		return;
	}
	if (!auth_check_grip(auth, FCGX_GetParam("HTTP_GRIP_SIG", req->envp))) {
		/* Not from our Pushpin: Connection-Id and Meta-* may be
		 * forged. Say nothing more. */
		log_warn("request without a valid Grip-Sig refused");
		reply_plain(req, "403 Forbidden", "forbidden");
		return;
	}
	if (conn_id == NULL || !valid_id(conn_id, strlen(conn_id))) {
		reply_plain(req, "400 Bad Request", "missing Connection-Id");
		return;
	}
	body = read_body(req, &len, &why);
	if (body == NULL) {
		reply_plain(req, "400 Bad Request", why);
		return;
	}
	events = parse_events(body, len, &n, &why);
	if (events == NULL) {
		log_warn("connection %s: bad event stream: %s", conn_id, why);
		reply_plain(req, "400 Bad Request", why);
		goto out;
	}
	buf_init(&resp.body);
	buf_init(&resp.headers);
	switch (handle_request(app, auth, &io, events, n, &why)) {
	case REQUEST_OK:
		break;
	case REQUEST_BAD:
		reply_plain(req, "400 Bad Request", why);
		goto out;
	case REQUEST_UNAUTHORIZED:
		reply_plain(req, "401 Unauthorized", why);
		goto out;
	case REQUEST_TOO_MANY:
		reply_plain(req, "429 Too Many Requests", why);
		goto out;
	case REQUEST_UNAVAILABLE:
		reply_plain(req, "503 Service Unavailable", why);
		goto out;
	}
	if (resp.body.oom || resp.headers.oom) {
		reply_plain(req, "500 Internal Server Error", "out of memory");
		goto out;
	}
	FCGX_FPrintF(req->out, "Status: 200 OK\r\nContent-Type: %s\r\n%s\r\n",
		     CONTENT_TYPE_EVENTS,
		     resp.headers.data ? resp.headers.data : "");
	FCGX_PutStr(resp.body.data ? resp.body.data : "", (int)resp.body.len,
		    req->out);
out:
	buf_free(&resp.body);
	buf_free(&resp.headers);
	free(events);
	free(body);
}

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	stopping = 1;
}

/* Standalone mode: fork `procs` workers on one listening socket and
 * restart any that dies, until SIGTERM or SIGINT. */
static void supervise(int procs)
{
	pid_t *kids = calloc((size_t)procs, sizeof(*kids));
	struct sigaction sa = { .sa_handler = on_term };

	if (kids == NULL) {
		log_error("out of memory");
		exit(1);
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stopping) {
		for (int i = 0; i < procs; i++) {
			if (kids[i] > 0)
				continue;
			kids[i] = fork();
			if (kids[i] == 0) {
				signal(SIGTERM, SIG_DFL);
				signal(SIGINT, SIG_DFL);
				free(kids);
				return; /* the child serves */
			}
			if (kids[i] < 0) {
				log_error("fork: %s", strerror(errno));
				kids[i] = 0;
			}
		}
		pid_t dead = wait(NULL);
		for (int i = 0; i < procs; i++)
			if (kids[i] == dead) {
				if (!stopping)
					log_warn("worker %ld exited; "
						 "restarting", (long)dead);
				kids[i] = 0;
				sleep(1);
			}
	}
	for (int i = 0; i < procs; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	exit(0);
}

/* Started as root (lighttpd runs bin-path programs as its own user),
 * the worker gives root up before it reads a single request: after
 * the configuration and keys are loaded and the listening socket is
 * open. Failing to drop is fatal rather than serving as root. */
static bool drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		return true;
	}
	if (*user == '\0') {
		log_warn("running as root: set run_as_user");
		return true;
	}
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_uid == 0) {
		log_error("run_as_user %s: no such unprivileged user", user);
		return false;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		log_error("cannot switch to user %s: %s", user, strerror(errno));
		return false;
	}
	log_info("running as user %s", user);
	return true;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: parley-ws [--config FILE] [--listen ADDR "
		   "[--procs N]]\n"
		   "  --config FILE  settings (default: $PARLEY_CONFIG)\n"
		   "  --listen ADDR  serve FastCGI on HOST:PORT or a socket "
		   "path\n"
		   "                 (default: the socket on stdin, as "
		   "lighttpd's bin-path gives)\n"
		   "  --procs N      worker processes with --listen (default "
		   "2)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "procs", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = getenv("PARLEY_CONFIG"), *listen_on = NULL;
	struct settings cfg;
	enum log_level level;
	struct app app;
	struct auth *auth;
	FCGX_Request req;
	char err[512];
	int c, procs = 2, sock = 0;

	log_set_program("parley-ws");
	while ((c = getopt_long(argc, argv, "c:l:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			listen_on = optarg;
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (!settings_load(&cfg, config, err, sizeof(err))) {
		log_error("configuration: %s", err);
		return 78;
	}
	if (log_parse_level(cfg.log_level, &level))
		log_set_level(level);
	auth = auth_new(&cfg, err, sizeof(err));
	if (auth == NULL) {
		log_error("configuration: %s", err);
		return 78;
	}
	if (auth_is_none(auth))
		log_warn("auth_mode none: anyone can connect as any userId "
			 "(development only)");
	if (cfg.connection_ttl < 2 * cfg.keepalive_interval)
		log_warn("connection_ttl %ld is below twice keepalive_interval "
			 "%ld: idle live connections may expire", cfg.connection_ttl,
			 cfg.keepalive_interval);
	if (cfg.grip_sig_key[0] == '\0')
		log_warn("grip_sig_key not set: requests are not checked to "
			 "come from Pushpin; keep the workers on loopback");
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 70;
	}
	if (listen_on != NULL) {
		sock = FCGX_OpenSocket(listen_on, 128);
		if (sock < 0) {
			log_error("cannot listen on %s", listen_on);
			return 69;
		}
		if (procs < 1 || procs > 64) {
			log_error("--procs must be 1..64");
			return 64;
		}
		log_info("listening on %s with %d workers", listen_on, procs);
		if (!drop_privileges(cfg.run_as_user))
			return 77;
		supervise(procs);
	} else if (!drop_privileges(cfg.run_as_user)) {
		return 77;
	}
	app_init(&app, &cfg, db_new(cfg.database_url, "parley-ws"),
		 publisher_new(cfg.publish_spec));
	if (app.db == NULL || app.pub == NULL) {
		log_error("out of memory");
		return 71;
	}
	if (FCGX_InitRequest(&req, sock, 0) != 0) {
		log_error("FCGX_InitRequest failed");
		return 70;
	}
	log_info("worker ready");
	while (FCGX_Accept_r(&req) >= 0) {
		serve(&app, auth, &req);
		FCGX_Finish_r(&req);
	}
	db_free(app.db);
	publisher_free(app.pub);
	auth_free(auth);
	return 0;
}
