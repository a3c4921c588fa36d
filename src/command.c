/* command.c - see command.h. */
#include "common.h"
#include "command.h"
#include "buf.h"
#include "tnetstring.h"

#include <errno.h>
#include <zmq.h>

#define REPLY_MAX (1u << 20) /* a conncheck of 1,000 ids is ~40 KB */

struct command {
	void *ctx, *sock;
	char *reply;
};

void command_close(struct command *c)
{
	if (c == NULL)
		return;
	if (c->sock != NULL)
		zmq_close(c->sock);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	free(c->reply);
	free(c);
}

struct command *command_open(const char *spec, int timeout_ms, char *err,
			     size_t errlen)
{
	struct command *c = calloc(1, sizeof(*c));
	int linger = 0;

	if (c == NULL || (c->reply = malloc(REPLY_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		command_close(c);
		return NULL;
	}
	c->ctx = zmq_ctx_new();
	if (c->ctx != NULL)
		c->sock = zmq_socket(c->ctx, ZMQ_REQ);
	if (c->sock == NULL) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		command_close(c);
		return NULL;
	}
	zmq_setsockopt(c->sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
	zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(c->sock, spec) != 0) {
		snprintf(err, errlen, "zmq_connect %s: %s", spec,
			 zmq_strerror(errno));
		command_close(c);
		return NULL;
	}
	return c;
}

/* Marks in alive[] the ids of the answer's list. */
static bool mark_alive(const struct tns_item *value, char **ids, int n,
		       bool *alive)
{
	size_t used;

	for (const char *p = value->data; p < value->data + value->len;) {
		struct tns_item id;
		if (!tns_parse(p, (size_t)(value->data + value->len - p), &id,
			       &used) || id.type != ',')
			return false;
		p += used;
		for (int i = 0; i < n; i++)
			if (strlen(ids[i]) == id.len &&
			    memcmp(ids[i], id.data, id.len) == 0)
				alive[i] = true;
	}
	return true;
}

bool command_conncheck(struct command *c, char **ids, int n, bool *alive,
		       char *err, size_t errlen)
{
	struct buf req;
	size_t args, list, top, used;
	struct tns_item it, ok_, value;
	int got;
	bool ok = false;

	buf_init(&req);
	top = req.len;
	tns_bytes(&req, "id", 2);
	tns_bytes(&req, "parley", 6);
	tns_bytes(&req, "method", 6);
	tns_bytes(&req, "conncheck", 9);
	tns_bytes(&req, "args", 4);
	args = req.len;
	tns_bytes(&req, "ids", 3);
	list = req.len;
	for (int i = 0; i < n; i++)
		tns_bytes(&req, ids[i], strlen(ids[i]));
	tns_close(&req, list, ']');
	tns_close(&req, args, '}');
	tns_close(&req, top, '}');
	if (req.oom) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (zmq_send(c->sock, req.data, req.len, 0) < 0 ||
	    (got = zmq_recv(c->sock, c->reply, REPLY_MAX, 0)) < 0) {
		snprintf(err, errlen, "Pushpin's command socket did not "
			 "answer: %s", zmq_strerror(errno));
		goto out;
	}
	if ((unsigned)got > REPLY_MAX ||
	    !tns_parse(c->reply, (size_t)got, &it, &used) ||
	    !tns_dict_get(&it, "success", &ok_) || ok_.type != '!' ||
	    ok_.len != 4 || memcmp(ok_.data, "true", 4) != 0 ||
	    !tns_dict_get(&it, "value", &value) || value.type != ']' ||
	    !mark_alive(&value, ids, n, alive)) {
		snprintf(err, errlen, "unexpected conncheck answer from "
			 "Pushpin");
		goto out;
	}
	ok = true;
out:
	buf_free(&req);
	return ok;
}
