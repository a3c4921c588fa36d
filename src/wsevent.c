/* wsevent.c - see wsevent.h. */
#include "common.h"
#include "wsevent.h"

static const char *const type_names[] = {
	[WS_OPEN] = "OPEN",     [WS_TEXT] = "TEXT",   [WS_BINARY] = "BINARY",
	[WS_PING] = "PING",     [WS_PONG] = "PONG",   [WS_CLOSE] = "CLOSE",
	[WS_DISCONNECT] = "DISCONNECT",
};

/* Content larger than this is refused outright: the whole request body is
 * capped well below it by the adapter anyway. */
#define WS_MAX_CONTENT (64u * 1024 * 1024)

void ws_reader_init(struct ws_reader *r, const char *body, size_t len)
{
	r->p = body;
	r->end = body + len;
}

const char *ws_type_name(enum ws_type type)
{
	return type_names[type];
}

int ws_next(struct ws_reader *r, struct ws_event *ev, const char **why)
{
	const char *p = r->p, *line_end, *name_end;
	size_t avail = (size_t)(r->end - p), namelen, clen = 0;
	bool has_len = false;
	int t = -1;

	if (avail == 0)
		return 0;
	line_end = memchr(p, '\r', avail);
	if (line_end == NULL || line_end + 1 >= r->end || line_end[1] != '\n') {
		*why = "event line not terminated by CRLF";
		return -1;
	}
	name_end = memchr(p, ' ', (size_t)(line_end - p));
	if (name_end == NULL)
		name_end = line_end;
	namelen = (size_t)(name_end - p);
	for (size_t i = 0; i < ARRAY_LEN(type_names); i++) {
		if (strlen(type_names[i]) == namelen &&
		    memcmp(type_names[i], p, namelen) == 0) {
			t = (int)i;
			break;
		}
	}
	if (t < 0) {
		*why = "unknown event type";
		return -1;
	}
	if (name_end != line_end) {
		const char *h = name_end + 1;
		if (h == line_end) {
			*why = "empty content length";
			return -1;
		}
		for (; h < line_end; h++) {
			int v = hex_value(*h);
			if (v < 0) {
				*why = "content length is not hexadecimal";
				return -1;
			}
			clen = clen * 16 + (size_t)v;
			if (clen > WS_MAX_CONTENT) {
				*why = "content length too large";
				return -1;
			}
		}
		has_len = true;
	}
	p = line_end + 2;
	ev->type = (enum ws_type)t;
	ev->data = NULL;
	ev->len = 0;
	if (has_len) {
		if ((size_t)(r->end - p) < clen + 2) {
			*why = "content shorter than its length";
			return -1;
		}
		if (p[clen] != '\r' || p[clen + 1] != '\n') {
			*why = "content not terminated by CRLF";
			return -1;
		}
		ev->data = p;
		ev->len = clen;
		p += clen + 2;
	}
	r->p = p;
	return 1;
}

bool ws_write(struct buf *out, enum ws_type type, const char *data,
	      size_t len)
{
	if (data == NULL)
		return buf_printf(out, "%s\r\n", type_names[type]);
	buf_printf(out, "%s %zx\r\n", type_names[type], len);
	buf_append(out, data, len);
	return buf_append(out, "\r\n", 2);
}

bool ws_write_text(struct buf *out, const char *prefix, const char *data,
		   size_t len)
{
	size_t plen = strlen(prefix);

	buf_printf(out, "TEXT %zx\r\n", plen + len);
	buf_append(out, prefix, plen);
	buf_append(out, data, len);
	return buf_append(out, "\r\n", 2);
}
