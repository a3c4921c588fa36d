/* bench/null-backend.c - the chain's ceiling for scripts/bench.
 *
 * A FastCGI responder for Pushpin's WebSocket-over-HTTP that stores
 * nothing and answers the frames the load generator sends as the product
 * would, with the fewest possible moves:
 *
 *   OPEN        -> 200, OPEN, GRIP on, set-meta user=<Connection-Id>,
 *                  subscribe to u:<userId> with the skip-self filter
 *   sendMessage -> ack back (m:), the message event published to
 *                  u:<recipientId> over ZeroMQ PUSH
 *   ack         -> ack back, a status event published to u:<sender> for
 *                  each id (sender = the messageId up to its last '~',
 *                  as bench/loadgen.js makes them)
 *   ping        -> pong;  PING -> PONG;  CLOSE -> CLOSE;  DISCONNECT -> 200
 *
 * With NULL_BACKEND_SYNC_COPY=1 in its environment it also publishes each
 * message to u:<senderId> with meta sender=<Connection-Id> (the product's
 * copy for the sender's other devices, which skip-self filters out here).
 *
 * Groups, for scripts/bench-groups --channels (the two ways a group
 * message can reach its members through Pushpin, side by side), with
 * NULL_BACKEND_GROUPS=member or =channel and NULL_BACKEND_GROUP_SIZE=N:
 * a group is known by its members' names, <conv>-u0 .. <conv>-u<N-1>
 * (as bench/groups.js makes them), no createGroup needed. A sendMessage
 * with a conversationId and no recipientId is acked, and after the
 * FastCGI answer has gone:
 *   member   one publish per member channel u:<conv>-u<i> (the sender's
 *            own skipped), paced at NULL_BACKEND_FANOUT_RATE publishes/s
 *            in 50 ms steps (0: all at once) as parley-ws paces its
 *            group_fanout_rate; default 1000, the product's default
 *   channel  one publish to g:<conv>, which each member's connection
 *            subscribed to at OPEN (skip-self keeps it from the sender's)
 * No membership checks: a benchmark of the bridge's two shapes only.
 *
 * It is started by lighttpd as the "bin-path" program (the FastCGI socket
 * is stdin), with PARLEY_CONFIG=<file>; of that file it reads only
 * `publish_spec = tcp://...`. No validation beyond what it needs, no
 * Grip-Sig check, no database: loopback benchmarks only.
 *
 * Build: cc -O2 -o null-backend null-backend.c \
 *          $(pkg-config --cflags --libs libcjson libzmq) -lfcgi
 */
#include <ctype.h>
#include <errno.h>
#include <fcgiapp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#define CONTENT_TYPE_EVENTS "application/websocket-events"
#define MAX_BODY (8u * 1024 * 1024)
#define ID_MAX 128

/* ------------------------------------------------------------------ */
/* A growable byte buffer. */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		buf_add(b, tmp, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);
		if (big == NULL) {
			b->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		buf_add(b, big, (size_t)n);
		free(big);
	}
}

/* An event of the WebSocket-over-HTTP stream: TYPE <hex len>\r\n<bytes>\r\n */
static void ev_text(struct buf *b, const char *prefix, const char *s)
{
	size_t pl = strlen(prefix), sl = strlen(s);
	buf_fmt(b, "TEXT %zx\r\n", pl + sl);
	buf_add(b, prefix, pl);
	buf_add(b, s, sl);
	buf_add(b, "\r\n", 2);
}

static void ev_raw(struct buf *b, const char *type, const char *d, size_t n)
{
	buf_fmt(b, "%s %zx\r\n", type, n);
	buf_add(b, d, n);
	buf_add(b, "\r\n", 2);
}

/* ------------------------------------------------------------------ */
/* Settings and publishing */

static void *zctx, *zsock;
static unsigned long dropped;
static bool sync_copy;

enum group_mode { GROUPS_OFF, GROUPS_MEMBER, GROUPS_CHANNEL };
static enum group_mode group_mode;
static unsigned long group_size, fanout_rate = 1000;

/* The fan-out of the last group send, run after the answer has gone. */
static struct {
	char *event;
	char conv[ID_MAX + 1], sender[ID_MAX + 1], conn[ID_MAX + 1];
} fanout;

static char *read_publish_spec(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[1024];
	char *spec = NULL;

	if (f == NULL)
		return strdup("tcp://127.0.0.1:5560");
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;
		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, "publish_spec", 12) != 0)
			continue;
		p += 12;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		free(spec);
		spec = strdup(p);
	}
	fclose(f);
	return spec ? spec : strdup("tcp://127.0.0.1:5560");
}

static void publish_init(const char *spec)
{
	int hwm = 100000, linger = 1000;

	zctx = zmq_ctx_new();
	zsock = zctx ? zmq_socket(zctx, ZMQ_PUSH) : NULL;
	if (zsock == NULL) {
		fprintf(stderr, "null-backend: zmq: %s\n", zmq_strerror(errno));
		exit(1);
	}
	zmq_setsockopt(zsock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(zsock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(zsock, spec) != 0) {
		fprintf(stderr, "null-backend: zmq_connect %s: %s\n", spec,
			zmq_strerror(errno));
		exit(1);
	}
}

/* One frame: 'J' + {"channel":..,"formats":{"ws-message":{"content":..}}} */
static void publish(const char *channel, const char *content,
		    const char *skip_conn)
{
	cJSON *item = cJSON_CreateObject();
	cJSON *formats = cJSON_AddObjectToObject(item, "formats");
	cJSON *ws = cJSON_AddObjectToObject(formats, "ws-message");
	char *json;
	size_t n;
	char *frame;

	cJSON_AddStringToObject(item, "channel", channel);
	cJSON_AddStringToObject(ws, "content", content);
	if (skip_conn != NULL) {
		cJSON *meta = cJSON_AddObjectToObject(item, "meta");
		cJSON_AddStringToObject(meta, "sender", skip_conn);
	}
	json = cJSON_PrintUnformatted(item);
	cJSON_Delete(item);
	if (json == NULL)
		return;
	n = strlen(json);
	frame = malloc(n + 1);
	if (frame != NULL) {
		frame[0] = 'J';
		memcpy(frame + 1, json, n);
		if (zmq_send(zsock, frame, n + 1, ZMQ_DONTWAIT) < 0 &&
		    dropped++ % 1000 == 0)
			fprintf(stderr, "null-backend: publish dropped (%s), "
				"%lu so far\n", zmq_strerror(errno), dropped);
		free(frame);
	}
	cJSON_free(json);
}

/* ------------------------------------------------------------------ */
/* Helpers */

static const char *now_rfc3339(void)
{
	static char out[32];
	static time_t last = -1;
	time_t t = time(NULL);
	struct tm tm;

	if (t != last) {
		gmtime_r(&t, &tm);
		strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
		last = t;
	}
	return out;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* userId from the query string, form-decoded; false if absent/invalid. */
static bool query_user(const char *qs, char *out, size_t outsz)
{
	const char *p = qs;

	while (p != NULL && *p) {
		const char *amp = strchr(p, '&');
		size_t seglen = amp ? (size_t)(amp - p) : strlen(p);
		if (seglen > 7 && strncmp(p, "userId=", 7) == 0) {
			size_t o = 0;
			for (size_t i = 7; i < seglen; i++) {
				int c = (unsigned char)p[i];
				if (c == '%' && i + 2 < seglen &&
				    hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
					c = hexv(p[i + 1]) * 16 + hexv(p[i + 2]);
					i += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (c < 0x21 || c > 0x7e || o + 1 >= outsz)
					return false;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return o > 0 && o <= ID_MAX;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

static const char *jstr(cJSON *o, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_str_or_null(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

/* {"type":TYPE,"data":DATA} as text; takes DATA. */
static char *event_json(const char *type, cJSON *data)
{
	cJSON *ev = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddItemToObject(ev, "data", data);
	s = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	return s;
}

static void reply_event(struct buf *body, const char *type, cJSON *data)
{
	char *s = event_json(type, data);
	if (s != NULL)
		ev_text(body, "m:", s);
	cJSON_free(s);
}

static void reply_error(struct buf *body, const char *code, const char *msg,
			const char *action, const char *mid)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "code", code);
	cJSON_AddStringToObject(d, "message", msg);
	if (action)
		cJSON_AddStringToObject(d, "action", action);
	if (mid)
		cJSON_AddStringToObject(d, "messageId", mid);
	reply_event(body, "error", d);
}

/* ------------------------------------------------------------------ */
/* Frames */

static unsigned long generated_ids;

static void on_send(struct buf *body, cJSON *f, const char *user,
		    const char *conn_id)
{
	const char *mid = jstr(f, "messageId"), *rcpt = jstr(f, "recipientId");
	const char *conv = jstr(f, "conversationId"), *content = jstr(f, "content");
	const char *ts = jstr(f, "timestamp");
	char gen[64], channel[ID_MAX + 8];
	cJSON *d;
	char *ev;

	bool group = rcpt == NULL && group_mode != GROUPS_OFF;

	if ((rcpt == NULL && !group) || conv == NULL || content == NULL) {
		reply_error(body, "missing_field", "recipientId, "
			    "conversationId and content are required",
			    "sendMessage", mid);
		return;
	}
	if (mid == NULL) {
		snprintf(gen, sizeof(gen), "null-%ld-%lu", (long)getpid(),
			 ++generated_ids);
		mid = gen;
	}
	/* The ack first (in the response), then the publish. */
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "action", "sendMessage");
	cJSON_AddStringToObject(d, "messageId", mid);
	cJSON_AddStringToObject(d, "status", "sent");
	cJSON_AddBoolToObject(d, "duplicate", false);
	cJSON_AddStringToObject(d, "timestamp", now_rfc3339());
	reply_event(body, "ack", d);

	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "messageId", mid);
	cJSON_AddStringToObject(d, "conversationId", conv);
	cJSON_AddStringToObject(d, "senderId", user);
	add_str_or_null(d, "senderName", jstr(f, "senderName"));
	add_str_or_null(d, "recipientId", rcpt);
	cJSON_AddStringToObject(d, "content", content);
	cJSON_AddStringToObject(d, "timestamp", ts ? ts : now_rfc3339());
	cJSON_AddStringToObject(d, "status", "sent");
	cJSON_AddBoolToObject(d, "isDeleted", false);
	add_str_or_null(d, "replyToMessageId", jstr(f, "replyToMessageId"));
	add_str_or_null(d, "replyToContent", jstr(f, "replyToContent"));
	add_str_or_null(d, "replyToSenderName", jstr(f, "replyToSenderName"));
	ev = event_json("message", d);
	if (ev == NULL)
		return;
	if (group) {
		cJSON_free(fanout.event);
		fanout.event = ev;
		snprintf(fanout.conv, sizeof(fanout.conv), "%s", conv);
		snprintf(fanout.sender, sizeof(fanout.sender), "%s", user);
		snprintf(fanout.conn, sizeof(fanout.conn), "%s", conn_id);
		return;
	}
	snprintf(channel, sizeof(channel), "u:%s", rcpt);
	publish(channel, ev, conn_id);
	if (sync_copy && strcmp(rcpt, user) != 0) {
		snprintf(channel, sizeof(channel), "u:%s", user);
		publish(channel, ev, conn_id);
	}
	cJSON_free(ev);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The queued group fan-out, if any (after FCGX_Finish_r). */
static void fanout_run(void)
{
	char channel[ID_MAX + 32];
	unsigned long step = fanout_rate ? fanout_rate / 20 : 0, done = 0;
	double next = now_s();

	if (fanout.event == NULL)
		return;
	if (group_mode == GROUPS_CHANNEL) {
		snprintf(channel, sizeof(channel), "g:%s", fanout.conv);
		publish(channel, fanout.event, fanout.conn);
	} else {
		for (unsigned long i = 0; i < group_size; i++) {
			char member[ID_MAX + 24];

			snprintf(member, sizeof(member), "%s-u%lu", fanout.conv, i);
			if (strcmp(member, fanout.sender) == 0)
				continue;
			if (step && done > 0 && done % step == 0) {
				double wait;

				next += 0.05;
				wait = next - now_s();
				if (wait > 0) {
					struct timespec ts = {
						(time_t)wait,
						(long)((wait - (double)(time_t)wait) * 1e9)
					};
					nanosleep(&ts, NULL);
				}
			}
			snprintf(channel, sizeof(channel), "u:%s", member);
			publish(channel, fanout.event, fanout.conn);
			done++;
		}
	}
	cJSON_free(fanout.event);
	fanout.event = NULL;
}

/* A member's group, by its name <conv>-u<digits>, into conv. */
static bool group_of(const char *user, char *conv, size_t convsz)
{
	const char *u = strrchr(user, '-');
	size_t n;

	if (u == NULL || u[1] != 'u' || !isdigit((unsigned char)u[2]))
		return false;
	for (const char *p = u + 2; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	n = (size_t)(u - user);
	if (n == 0 || n >= convsz)
		return false;
	memcpy(conv, user, n);
	conv[n] = '\0';
	return true;
}

static void on_ack(struct buf *body, cJSON *f)
{
	cJSON *ids = cJSON_GetObjectItemCaseSensitive(f, "messageIds"), *id;
	cJSON *d, *applied;
	char channel[ID_MAX + 8];

	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 1 ||
	    cJSON_GetArraySize(ids) > 500) {
		reply_error(body, "invalid_field", "messageIds: 1..500 ids",
			    "ack", NULL);
		return;
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "action", "ack");
	applied = cJSON_AddArrayToObject(d, "messageIds");
	cJSON_AddArrayToObject(d, "skipped");
	cJSON_ArrayForEach(id, ids) {
		const char *s = cJSON_IsString(id) ? id->valuestring : NULL;
		const char *tilde = s ? strrchr(s, '~') : NULL;
		cJSON *sd;
		char *sev;
		size_t n;

		if (s == NULL)
			continue;
		cJSON_AddItemToArray(applied, cJSON_CreateString(s));
		if (tilde == NULL || tilde == s ||
		    (n = (size_t)(tilde - s)) > ID_MAX)
			continue;
		sd = cJSON_CreateObject();
		cJSON_AddStringToObject(sd, "messageId", s);
		cJSON_AddNullToObject(sd, "conversationId");
		cJSON_AddStringToObject(sd, "status", "delivered");
		cJSON_AddBoolToObject(sd, "isDeleted", false);
		cJSON_AddStringToObject(sd, "at", now_rfc3339());
		sev = event_json("status", sd);
		if (sev == NULL)
			continue;
		snprintf(channel, sizeof(channel), "u:%.*s", (int)n, s);
		publish(channel, sev, NULL);
		cJSON_free(sev);
	}
	reply_event(body, "ack", d);
}

static void on_text(struct buf *body, const char *data, size_t len,
		    const char *user, const char *conn_id)
{
	cJSON *f = cJSON_ParseWithLength(data, len);
	const char *action;

	if (!cJSON_IsObject(f)) {
		reply_error(body, "invalid_json", "a JSON object expected",
			    NULL, NULL);
		cJSON_Delete(f);
		return;
	}
	action = jstr(f, "action");
	if (action == NULL)
		reply_error(body, "missing_field", "action is required", NULL,
			    NULL);
	else if (strcmp(action, "sendMessage") == 0)
		on_send(body, f, user, conn_id);
	else if (strcmp(action, "ack") == 0)
		on_ack(body, f);
	else if (strcmp(action, "ping") == 0)
		ev_text(body, "m:", "{\"type\":\"pong\",\"data\":{}}");
	else
		reply_error(body, "unknown_action", "not in the null backend",
			    action, NULL);
	cJSON_Delete(f);
}

/* ------------------------------------------------------------------ */
/* Requests */

static void reply_plain(FCGX_Request *req, const char *status,
			const char *text)
{
	FCGX_FPrintF(req->out, "Status: %s\r\nContent-Type: text/plain\r\n"
		     "\r\n%s\n", status, text);
}

static void serve(FCGX_Request *req)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	const char *ctype = FCGX_GetParam("CONTENT_TYPE", req->envp);
	const char *conn_id = FCGX_GetParam("HTTP_CONNECTION_ID", req->envp);
	const char *meta_user = FCGX_GetParam("HTTP_META_USER_ID", req->envp);
	const char *qs = FCGX_GetParam("QUERY_STRING", req->envp);
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	unsigned long n = cl ? strtoul(cl, NULL, 10) : 0;
	struct buf body = { 0 }, hdr = { 0 };
	char user[ID_MAX + 1] = "";
	char *in = NULL, *p, *end;
	bool closed = false;

	if (method == NULL || strcmp(method, "POST") != 0 || ctype == NULL ||
	    strcmp(ctype, CONTENT_TYPE_EVENTS) != 0) {
		reply_plain(req, "400 Bad Request", "WebSocket endpoint");
		return;
	}
	if (conn_id == NULL || n > MAX_BODY) {
		reply_plain(req, "400 Bad Request", "bad request");
		return;
	}
	if (meta_user != NULL && *meta_user && strlen(meta_user) <= ID_MAX)
		snprintf(user, sizeof(user), "%s", meta_user);
	else if (qs != NULL && !query_user(qs, user, sizeof(user)))
		user[0] = '\0';
	in = malloc(n + 1);
	if (in == NULL || (n && FCGX_GetStr(in, (int)n, req->in) != (int)n)) {
		reply_plain(req, "400 Bad Request", "short body");
		free(in);
		return;
	}
	in[n] = '\0';
	p = in;
	end = in + n;
	while (!closed && p < end) {
		const char *line = p;
		char *eol = memchr(p, '\r', (size_t)(end - p)), *sp;
		size_t clen = 0;
		bool has_len = false;
		const char *data = NULL;
		size_t tl;

		if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
			goto bad;
		sp = memchr(p, ' ', (size_t)(eol - p));
		tl = (size_t)((sp ? sp : eol) - p);
		if (sp != NULL) {
			for (char *h = sp + 1; h < eol; h++) {
				int v = hexv(*h);
				if (v < 0 || clen > MAX_BODY)
					goto bad;
				clen = clen * 16 + (size_t)v;
			}
			has_len = true;
		}
		data = eol + 2;
		if (has_len) {
			if ((size_t)(end - data) < clen + 2)
				goto bad;
			p = (char *)data + clen + 2;
		} else {
			p = (char *)data;
			clen = 0;
		}
#define IS(name) (tl == sizeof(name) - 1 && memcmp(line, name, tl) == 0)
		if (IS("OPEN")) {
			if (!query_user(qs ? qs : "", user, sizeof(user))) {
				reply_plain(req, "400 Bad Request",
					    "userId missing or invalid");
				goto out;
			}
			buf_str(&body, "OPEN\r\n");
			{
				cJSON *m = cJSON_CreateObject(), *s;
				cJSON *fl;
				char *a, *b;
				cJSON_AddStringToObject(m, "type", "set-meta");
				cJSON_AddStringToObject(m, "name", "user");
				cJSON_AddStringToObject(m, "value", conn_id);
				s = cJSON_CreateObject();
				cJSON_AddStringToObject(s, "type", "subscribe");
				{
					char ch[ID_MAX + 8];
					snprintf(ch, sizeof(ch), "u:%s", user);
					cJSON_AddStringToObject(s, "channel",
								ch);
				}
				fl = cJSON_AddArrayToObject(s, "filters");
				cJSON_AddItemToArray(fl, cJSON_CreateString(
						"skip-self"));
				a = cJSON_PrintUnformatted(m);
				b = cJSON_PrintUnformatted(s);
				if (a && b) {
					ev_text(&body, "c:", a);
					ev_text(&body, "c:", b);
				}
				cJSON_free(a);
				cJSON_free(b);
				if (group_mode == GROUPS_CHANNEL) {
					char conv[ID_MAX + 1], ch[ID_MAX + 8];

					if (group_of(user, conv, sizeof(conv))) {
						snprintf(ch, sizeof(ch), "g:%s", conv);
						cJSON_ReplaceItemInObjectCaseSensitive(
							s, "channel", cJSON_CreateString(ch));
						b = cJSON_PrintUnformatted(s);
						if (b)
							ev_text(&body, "c:", b);
						cJSON_free(b);
					}
				}
				cJSON_Delete(m);
				cJSON_Delete(s);
			}
			buf_fmt(&hdr, "Sec-WebSocket-Extensions: grip\r\n"
				"Set-Meta-User-Id: %s\r\n", user);
		} else if (IS("TEXT")) {
			if (!user[0]) {
				reply_plain(req, "400 Bad Request", "no user");
				goto out;
			}
			/* data is not NUL-terminated: cJSON gets its length. */
			on_text(&body, data, clen, user, conn_id);
		} else if (IS("PING")) {
			ev_raw(&body, "PONG", data, clen);
		} else if (IS("CLOSE")) {
			if (has_len && clen >= 2)
				ev_raw(&body, "CLOSE", data, 2);
			else
				buf_str(&body, "CLOSE\r\n");
			closed = true;
		} else if (IS("DISCONNECT")) {
			closed = true;
		}
		/* BINARY, PONG and anything else: ignored. */
#undef IS
	}
	if (body.oom || hdr.oom) {
		reply_plain(req, "500 Internal Server Error", "out of memory");
		goto out;
	}
	FCGX_FPrintF(req->out, "Status: 200 OK\r\nContent-Type: "
		     CONTENT_TYPE_EVENTS "\r\n%s\r\n", hdr.p ? hdr.p : "");
	if (body.len)
		FCGX_PutStr(body.p, (int)body.len, req->out);
	goto out;
bad:
	reply_plain(req, "400 Bad Request", "bad event stream");
out:
	free(body.p);
	free(hdr.p);
	free(in);
}

int main(void)
{
	FCGX_Request req;
	char *spec = read_publish_spec(getenv("PARLEY_CONFIG"));
	const char *sc = getenv("NULL_BACKEND_SYNC_COPY");

	const char *gm = getenv("NULL_BACKEND_GROUPS");
	const char *gs = getenv("NULL_BACKEND_GROUP_SIZE");
	const char *fr = getenv("NULL_BACKEND_FANOUT_RATE");

	sync_copy = sc != NULL && strcmp(sc, "1") == 0;
	if (gm != NULL && strcmp(gm, "member") == 0)
		group_mode = GROUPS_MEMBER;
	else if (gm != NULL && strcmp(gm, "channel") == 0)
		group_mode = GROUPS_CHANNEL;
	group_size = gs ? strtoul(gs, NULL, 10) : 0;
	if (group_size > 100000)
		group_size = 100000;
	if (fr != NULL)
		fanout_rate = strtoul(fr, NULL, 10);
	publish_init(spec);
	fprintf(stderr, "null-backend %ld: publishing to %s%s\n",
		(long)getpid(), spec, sync_copy ? " (with sync copies)" : "");
	if (group_mode != GROUPS_OFF)
		fprintf(stderr, "null-backend %ld: groups of %lu, %s\n",
			(long)getpid(), group_size, group_mode == GROUPS_CHANNEL ?
			"a group channel" : "a publish per member");
	free(spec);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
		fprintf(stderr, "null-backend: FCGX_Init failed\n");
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		serve(&req);
		FCGX_Finish_r(&req);
		fanout_run();
	}
	zmq_close(zsock);
	zmq_ctx_term(zctx);
	return 0;
}
