/* publish.c - see publish.h.
 *
 * Trust: Pushpin's publish input has no authentication; it must stay on
 * loopback (or a private socket) and is configured as publish_spec.
 */
#include "common.h"
#include "publish.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "speclist.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

/* One Pushpin instance: its endpoint and our PUSH socket to it. */
struct instance {
	char spec[SPEC_MAX];
	void *sock;
	unsigned long dropped;
};

struct publisher {
	void *ctx;
	int n;
	struct instance inst[SPEC_LIST_MAX];
	/* publish_spec's postgres: (notify.h): NOTIFY on db too */
	bool notify;
	struct db *db;
	uint64_t nonce_key; /* random, per publisher */
	uint64_t nonces;    /* publishes made */
	unsigned long notify_failed;
};

struct publisher *publisher_new(const char *specs)
{
	struct publisher *p;
	struct spec_list *l = malloc(sizeof(*l));
	char err[SPEC_MAX + 64];

	if (l == NULL) {
		log_error("out of memory");
		return NULL;
	}
	if (!spec_list_parse_publish(specs, l, err, sizeof(err))) {
		log_error("%s", err);
		free(l);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		log_error("out of memory");
	} else {
		p->n = l->n;
		for (int i = 0; i < l->n; i++)
			memcpy(p->inst[i].spec, l->spec[i], SPEC_MAX);
		p->notify = l->notify;
		p->nonce_key = (uint64_t)wall_ms() * 0x9e3779b97f4a7c15ULL ^
			       (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)p;
	}
	free(l);
	return p;
}

void publisher_free(struct publisher *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->n; i++)
		if (p->inst[i].sock != NULL)
			zmq_close(p->inst[i].sock);
	/* Waits (ZMQ_LINGER, the sockets together) for what is queued. */
	if (p->ctx != NULL)
		zmq_ctx_term(p->ctx);
	free(p);
}

void publisher_set_db(struct publisher *p, struct db *db)
{
	if (p != NULL)
		p->db = db;
}

bool publisher_notifies(const struct publisher *p)
{
	return p->notify;
}

int publisher_count(const struct publisher *p)
{
	return p->n;
}

const char *publisher_spec(const struct publisher *p, int i)
{
	return p->inst[i].spec;
}

/* Created on first use, so a worker that forks gets its own socket.
 * ZMQ_IMMEDIATE stays 0: the socket queues from zmq_connect() on, before
 * the TCP connection is up and while it is down, so the first publishes
 * of a new worker, and those made while the instance restarts, are sent
 * once it listens (a PUB socket would drop them: the slow joiner). Each
 * instance has its own socket, so a queue for one that is down never
 * holds back the others. */
static bool ensure_socket(struct publisher *p, struct instance *in)
{
	int hwm = 100000, linger = 1000;

	if (in->sock != NULL)
		return true;
	if (p->ctx == NULL && (p->ctx = zmq_ctx_new()) == NULL) {
		log_error("zmq_ctx_new: %s", zmq_strerror(errno));
		return false;
	}
	in->sock = zmq_socket(p->ctx, ZMQ_PUSH);
	if (in->sock == NULL) {
		log_error("zmq_socket: %s", zmq_strerror(errno));
		return false;
	}
	zmq_setsockopt(in->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(in->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(in->sock, in->spec) != 0) {
		log_error("zmq_connect %s: %s", in->spec, zmq_strerror(errno));
		zmq_close(in->sock);
		in->sock = NULL;
		return false;
	}
	return true;
}

/* A new item for `channel` and its formats.ws-message object in *ws;
 * NULL when out of memory. */
static cJSON *new_item(const char *channel, cJSON **ws)
{
	cJSON *item = cJSON_CreateObject(), *formats;

	*ws = NULL;
	if (item == NULL)
		return NULL;
	if (cJSON_AddStringToObject(item, "channel", channel) == NULL ||
	    (formats = cJSON_AddObjectToObject(item, "formats")) == NULL ||
	    (*ws = cJSON_AddObjectToObject(formats, "ws-message")) == NULL) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

/* Sends one frame to one instance; false (counted, logged every 1000th
 * time) when its socket does not take it. */
static bool push_frame(struct publisher *p, struct instance *in,
		       const char *frame, size_t n)
{
	if (!ensure_socket(p, in) ||
	    zmq_send(in->sock, frame, n, ZMQ_DONTWAIT) < 0) {
		metrics_add(M_PUBLISH_FAILURES, 1);
		if (in->dropped++ % 1000 == 0)
			log_warn("publish to %s dropped (%s); %lu so far",
				 in->spec, zmq_strerror(errno), in->dropped);
		return false;
	}
	return true;
}

/* Sends one item (Pushpin's "J" + JSON frame) to every instance; takes
 * item. True when every instance's socket took it. */
static bool push_item(struct publisher *p, cJSON *item)
{
	char *json = NULL, *frame = NULL;
	bool ok = false;
	size_t n;

	if (item == NULL)
		goto out;
	json = cJSON_PrintUnformatted(item);
	if (json == NULL)
		goto out;
	n = strlen(json);
	frame = malloc(n + 1);
	if (frame == NULL)
		goto out;
	frame[0] = 'J';
	memcpy(frame + 1, json, n);
	ok = true;
	for (int i = 0; i < p->n; i++)
		if (!push_frame(p, &p->inst[i], frame, n + 1))
			ok = false;
out:
	free(frame);
	cJSON_free(json);
	cJSON_Delete(item);
	return ok;
}

/* The publish as NOTIFY (notify.h), when publish_spec names postgres:.
 * True when it was sent or is not to be; a failure is counted and
 * logged like a dropped ZeroMQ publish (redelivery covers a message). */
static bool push_notify(struct publisher *p, enum notify_kind kind,
			const char *channel, const char *skip_conn,
			const char *body)
{
	struct notify_parts parts;
	char name[NOTIFY_NAME_MAX], nonce[17];
	uint64_t x;
	bool ok;

	if (!p->notify)
		return true;
	/* A splitmix64 step of key + count: distinct within a publisher,
	 * and unlikely to meet another's among the few joined at once. */
	x = p->nonce_key + ++p->nonces * 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	snprintf(nonce, sizeof(nonce), "%016llx", (unsigned long long)x);
	notify_name(name, channel);
	ok = p->db != NULL &&
	     notify_encode(kind, channel, skip_conn, nonce, body, strlen(body),
			   &parts);
	if (ok) {
		ok = store_notify(p->db, name, parts.part, parts.n) == DB_OK;
		notify_parts_free(&parts);
	}
	if (!ok) {
		metrics_add(M_PUBLISH_FAILURES, 1);
		if (p->notify_failed++ % 1000 == 0)
			log_warn("publish as NOTIFY to %s failed%s; %lu so far",
				 channel, p->db ? "" : " (no database)",
				 p->notify_failed);
	}
	return ok;
}

bool publish_ws(struct publisher *p, const char *channel, const char *content,
		const char *skip_conn)
{
	bool noted = push_notify(p, NOTIFY_MESSAGE, channel, skip_conn,
				 content);

	cJSON *ws, *meta, *item = new_item(channel, &ws);

	if (item == NULL || !cJSON_AddStringToObject(ws, "content", content))
		goto fail;
	if (skip_conn != NULL) {
		/* Pushpin's skip-self filter drops the item for the
		 * subscriber whose meta "user" equals meta "sender"; each
		 * connection sets "user" to its own connection id. */
		meta = cJSON_AddObjectToObject(item, "meta");
		if (meta == NULL ||
		    !cJSON_AddStringToObject(meta, "sender", skip_conn))
			goto fail;
	}
	return push_item(p, item) && noted;
fail:
	cJSON_Delete(item);
	return false;
}

bool publish_close(struct publisher *p, const char *channel, int code)
{
	char code_s[16];
	cJSON *ws, *item;
	bool noted;

	snprintf(code_s, sizeof(code_s), "%d", code);
	noted = push_notify(p, NOTIFY_CLOSE, channel, NULL, code_s);
	item = new_item(channel, &ws);

	if (item == NULL || !cJSON_AddStringToObject(ws, "action", "close") ||
	    (code != 0 && !cJSON_AddNumberToObject(ws, "code", code))) {
		cJSON_Delete(item);
		return false;
	}
	return push_item(p, item) && noted;
}

void conn_channel(char *out, size_t size, const char *conn_id)
{
	snprintf(out, size, "c:%s", conn_id);
}

/* ---- reachability (/healthz) ---------------------------------------------- */

/* A non-blocking connect to addr, waited for at most timeout_ms. */
static bool connect_within(int family, const struct sockaddr *addr,
			   socklen_t len, int timeout_ms, char *err,
			   size_t errlen)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	bool ok = false;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return false;
	}
	if (connect(fd, addr, len) == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n = poll(&p, 1, timeout_ms);
		if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
					 &sl) == 0 && soerr == 0)
			ok = true;
		else
			snprintf(err, errlen, "%s", n == 0 ? "timed out"
				 : strerror(soerr ? soerr : errno));
	} else {
		snprintf(err, errlen, "%s", strerror(errno));
	}
	close(fd);
	return ok;
}

bool publisher_reachable(const char *spec, int timeout_ms, char *err,
			 size_t errlen)
{
	if (strncmp(spec, "ipc://", 6) == 0) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		if (strlen(spec + 6) >= sizeof(un.sun_path)) {
			snprintf(err, errlen, "%s: path too long", spec);
			return false;
		}
		strcpy(un.sun_path, spec + 6);
		return connect_within(AF_UNIX, (struct sockaddr *)&un,
				      sizeof(un), timeout_ms, err, errlen);
	}
	if (strncmp(spec, "tcp://", 6) == 0) {
		char host[256];
		const char *colon = strrchr(spec + 6, ':');
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		size_t n = colon ? (size_t)(colon - (spec + 6)) : 0;
		bool ok;
		int rc;

		if (colon == NULL || n == 0 || n >= sizeof(host)) {
			snprintf(err, errlen, "%s: not tcp://HOST:PORT", spec);
			return false;
		}
		memcpy(host, spec + 6, n);
		host[n] = '\0';
		rc = getaddrinfo(host, colon + 1, &hints, &res);
		if (rc != 0 || res == NULL) {
			snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
			return false;
		}
		ok = connect_within(res->ai_family, res->ai_addr,
				    res->ai_addrlen, timeout_ms, err, errlen);
		freeaddrinfo(res);
		return ok;
	}
	snprintf(err, errlen, "%s: not tcp:// or ipc://", spec);
	return false;
}
