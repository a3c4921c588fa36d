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
 * stdin), or standalone for nginx and others: --listen ADDR --procs N,
 * or --procs N on a socket systemd passes as stdin (systemd/).
 *
 * SECURITY: this program must be reachable only by Pushpin. It trusts
 * the Connection-Id and Meta-* headers, which Pushpin sets and strips
 * from clients; the query string and every frame are the client's and
 * are validated. It listens on loopback in every shipped configuration.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "program.h"
#include "ratelimit.h"
#include "ratetable.h"
#include "groups.h"
#include "http.h"
#include "metrics.h"
#include "request.h"
#include "wsevent.h"

#include <cjson/cJSON.h>
#include <ctype.h>

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A request body larger than this is refused with 413, unread. Pushpin
 * 1.36 batches at most 200,000 bytes of frame content per request (its
 * BUFFER_SIZE), plus the last message, which takes the batch over it;
 * each frame adds its event line ("TEXT 11\r\n", "\r\n"), at most 11
 * bytes for the smallest JSON frame, {"action":"ping"} (17 bytes): at
 * most ~330 KB of pings, ~400 KB with a 64 KiB message last. The
 * shipped lighttpd and nginx configurations refuse larger bodies
 * (server.max-request-size, client_max_body_size) with the same cap. */
#define MAX_BODY (512u * 1024)
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

/* The body, after its Content-Length is checked: over MAX_BODY it is
 * refused (*status 413) without reading a byte. NULL with *status and
 * *why when refused. */
static char *read_body(FCGX_Request *req, size_t *len, const char **status,
		       const char **why)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	unsigned long n = cl ? strtoul(cl, NULL, 10) : 0;
	char *body;
	int got;

	*len = 0;
	*status = "400 Bad Request";
	if (n > MAX_BODY) {
		*status = "413 Payload Too Large";
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

/* The client's address: the X-Forwarded-For entry that Pushpin appended
 * (x_forwarded_for=truncate:0,append), or forwarded_hops entries left of
 * it the one a proxy in front of Pushpin appended. Entries further left
 * are the client's own word and never read. NULL when there is none:
 * connects are then not counted per address (logged once). */
static const char *client_address(const struct settings *cfg,
				  FCGX_Request *req, char *out, size_t size)
{
	static bool warned;
	const char *xff = FCGX_GetParam("HTTP_X_FORWARDED_FOR", req->envp);

	if (forwarded_for(xff, cfg->forwarded_hops, out, size))
		return out;
	if (!warned)
		log_warn("no client address in X-Forwarded-For (entry %ld "
			 "from the right): connects are not limited per "
			 "address; set x_forwarded_for=truncate:0,append in "
			 "Pushpin's [proxy]", cfg->forwarded_hops);
	warned = true;
	return NULL;
}

/* The HTTP status of a refused request (Pushpin shows it to the client
 * when it refuses the handshake). */
static const char *refusal_status(enum request_result r)
{
	switch (r) {
	case REQUEST_UNAUTHORIZED:
		return "401 Unauthorized";
	case REQUEST_TOO_MANY:
		return "429 Too Many Requests";
	case REQUEST_UNAVAILABLE:
		return "503 Service Unavailable";
	case REQUEST_OK:
	case REQUEST_BAD:
		break;
	}
	return "400 Bad Request";
}

/* The request's path, without its query string, into out ("" when
 * there is none or it is too long for any route). */
static const char *request_path(FCGX_Request *req, char *out, size_t size)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
	size_t n = uri ? strcspn(uri, "?") : 0;

	if (n >= size)
		n = 0;
	memcpy(out, uri ? uri : "", n);
	out[n] = '\0';
	return out;
}

/* /healthz, /metrics, /api/ (http.h). */
static void serve_http(struct app *app, enum http_route route,
		       FCGX_Request *req)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	struct http_request rq = {
		.method = method,
		.authorization = FCGX_GetParam("HTTP_AUTHORIZATION",
					       req->envp),
	};
	struct http_reply r;
	char *body = NULL;

	if (http_route_has_body(route) && method != NULL &&
	    strcmp(method, "POST") == 0) {
		const char *status, *why;
		body = read_body(req, &rq.len, &status, &why);
		if (body == NULL) {
			reply_plain(req, status, why);
			return;
		}
		rq.body = body;
	}
	http_serve(app, route, &rq, &r);
	free(body);
	if (r.body.oom) {
		reply_plain(req, "500 Internal Server Error", "out of memory");
	} else {
		FCGX_FPrintF(req->out, "Status: %s\r\nContent-Type: %s\r\n"
			     "Cache-Control: no-store\r\n", r.status,
			     r.content_type);
		if (r.allow != NULL)
			FCGX_FPrintF(req->out, "Allow: %s\r\n", r.allow);
		if (r.www_authenticate != NULL)
			FCGX_FPrintF(req->out, "WWW-Authenticate: %s\r\n",
				     r.www_authenticate);
		FCGX_FPrintF(req->out, "Content-Length: %lu\r\n\r\n",
			     (unsigned long)r.body.len);
		if (method == NULL || strcmp(method, "HEAD") != 0)
			FCGX_PutStr(r.body.data ? r.body.data : "",
				    (int)r.body.len, req->out);
	}
	buf_free(&r.body);
}

static void serve_ws(struct app *app, const struct auth *auth,
		     FCGX_Request *req)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	const char *ctype = FCGX_GetParam("CONTENT_TYPE", req->envp);
	const char *conn_id = FCGX_GetParam("HTTP_CONNECTION_ID", req->envp);
	struct response resp = { .req = req, .conn_id = conn_id };
	char address[64];
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
	const char *why = NULL, *status;
	enum request_result result;
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
	body = read_body(req, &len, &status, &why);
	if (body == NULL) {
		reply_plain(req, status, why);
		return;
	}
	events = parse_events(body, len, &n, &why);
	if (events == NULL) {
		log_warn("connection %s: bad event stream: %s", conn_id, why);
		reply_plain(req, "400 Bad Request", why);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (events[i].type == WS_OPEN) /* only a handshake needs it */
			io.address = client_address(app->cfg, req, address,
						    sizeof(address));
	buf_init(&resp.body);
	buf_init(&resp.headers);
	result = handle_request(app, auth, &io, events, n, &why);
	if (result != REQUEST_OK) {
		reply_plain(req, refusal_status(result), why);
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

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request: the HTTP routes by path; anything else is the WebSocket
 * endpoint, wherever the server mounts it (it refuses what is not
 * Pushpin's). Timed for /metrics. */
static void serve(struct app *app, const struct auth *auth,
		  FCGX_Request *req)
{
	char path[64];
	enum http_route route = http_route_of(request_path(req, path,
							   sizeof(path)));
	double t0 = mono_s();

	if (route != HTTP_NONE)
		serve_http(app, route, req);
	else
		serve_ws(app, auth, req);
	metrics_request(route != HTTP_NONE ? REQ_HTTP : REQ_WS, mono_s() - t0);
}

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t in_request; /* a worker is in serve() */

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* A worker's SIGTERM or SIGINT (lighttpd's stop, the supervisor's, an
 * operator's): waiting for a request, it exits at once; serving one, it
 * finishes it (its COMMIT and its answer) and then exits. */
static void on_worker_term(int sig)
{
	(void)sig;
	stopping = 1;
	if (!in_request)
		_exit(EX_OK);
}

static void worker_signals(void)
{
	struct sigaction sa = { .sa_handler = on_worker_term };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Standalone mode: fork `procs` workers on one listening socket and
 * restart any that dies, until SIGTERM or SIGINT. */
static void supervise(int procs)
{
	pid_t *kids = calloc((size_t)procs, sizeof(*kids));
	struct sigaction sa = { .sa_handler = on_term };

	if (kids == NULL) {
		log_error("out of memory");
		exit(EX_OSERR);
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
	exit(EX_OK);
}

struct ws_main {
	const char *listen_on; /* NULL: the socket on stdin */
	int procs;
	bool supervise; /* --listen or --procs: fork procs workers */
};

static bool ws_option(void *ctx, int opt, const char *arg)
{
	struct ws_main *m = ctx;
	char *end;

	switch (opt) {
	case 'l':
		m->listen_on = arg;
		m->supervise = true;
		return true;
	case 'p':
		m->procs = (int)strtol(arg, &end, 10);
		if (*end != '\0' || m->procs < 1 || m->procs > 64) {
			log_error("--procs must be 1..64");
			return false;
		}
		m->supervise = true;
		return true;
	}
	return false;
}

static int ws_run(void *ctx, const struct settings *cfg)
{
	struct ws_main *m = ctx;
	struct app app;
	struct bridge_files files;
	struct apikeys_file keys;
	FCGX_Request req;
	int sock = 0, rc;

	/* Mapped before root is given up: the files may be root's. */
	rc = bridge_files_open(&files, cfg);
	if (rc != EX_OK)
		return rc;
	if (auth_is_none(files.auth))
		log_warn("auth_mode none: anyone can connect as any userId "
			 "(development only)");
	if (cfg->grip_sig_key[0] == '\0')
		log_warn("grip_sig_key not set: requests are not checked to "
			 "come from Pushpin; keep the workers on loopback");
	/* Read before root is given up too (re-read when it changes, as
	 * the workers' user: README, "HTTP send API"). */
	apikeys_file_init(&keys, cfg->api_keys_file);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		rc = EX_SOFTWARE;
		goto out;
	}
	if (m->listen_on != NULL) {
		sock = FCGX_OpenSocket(m->listen_on, 128);
		if (sock < 0) {
			log_error("cannot listen on %s", m->listen_on);
			rc = EX_UNAVAILABLE;
			goto out;
		}
		log_info("listening on %s with %d workers", m->listen_on,
			 m->procs);
	} else if (m->supervise) {
		/* --procs alone: systemd's socket activation
		 * (StandardInput=socket, systemd/parley-ws.socket) hands
		 * the listening socket over as stdin, as lighttpd's
		 * bin-path does; the workers share it. */
		int listening = 0;
		socklen_t optlen = sizeof(listening);

		if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			       &optlen) != 0 || !listening) {
			log_error("--procs without --listen needs a listening "
				  "socket on stdin (systemd: "
				  "StandardInput=socket)");
			rc = EX_USAGE;
			goto out;
		}
		log_info("serving the socket on stdin with %d workers",
			 m->procs);
	}
	/* Started as root (lighttpd runs bin-path programs as its own
	 * user), the worker gives root up before it reads a single
	 * request: after the configuration and keys are loaded and the
	 * listening socket is open. */
	if (!program_drop_privileges(cfg->run_as_user)) {
		rc = EX_NOPERM;
		goto out;
	}
	if (m->supervise)
		supervise(m->procs); /* returns in each child */
	rc = app_open(&app, cfg, &files, "parley-ws");
	if (rc != EX_OK)
		goto out;
	app.api_keys = keys; /* the app's from now on (re-read there) */
	keys = (struct apikeys_file){ 0 };
	if (FCGX_InitRequest(&req, sock, 0) != 0) {
		log_error("FCGX_InitRequest failed");
		app_close(&app);
		apikeys_file_free(&app.api_keys);
		rc = EX_SOFTWARE;
		goto out;
	}
	worker_signals();
	log_info("worker ready");
	while (!stopping) {
		/* A SIGTERM while waiting here ends the process at once
		 * (nothing is in hand); one during serve() lets the
		 * request finish first. */
		in_request = 0;
		if (stopping || FCGX_Accept_r(&req) < 0)
			break;
		in_request = 1;
		serve(&app, files.auth, &req);
		FCGX_Finish_r(&req);
		/* The answer has gone: now the group fan-outs it queued. */
		fanout_run(&app);
	}
	if (stopping)
		log_info("stopping on a signal (no request in hand)");
	app_close(&app);
	apikeys_file_free(&app.api_keys);
	rc = EX_OK;
out:
	apikeys_file_free(&keys);
	bridge_files_close(&files);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "procs", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct program prog = {
		.name = "parley-ws",
		.usage = "[--listen ADDR] [--procs N]\n"
			 "  --listen ADDR  serve FastCGI on HOST:PORT or a "
			 "socket path\n"
			 "                 (default: the socket on stdin, as "
			 "lighttpd's bin-path\n"
			 "                 or systemd's StandardInput=socket "
			 "gives)\n"
			 "  --procs N      worker processes on that socket, "
			 "restarted when one\n"
			 "                 dies (default 2 with --listen; "
			 "without either option: one)",
		.options = opts,
		.shortopts = "l:p:",
		.option = ws_option,
		.run = ws_run,
	};
	struct ws_main m = { .procs = 2 };

	return program_main(argc, argv, &prog, &m);
}
