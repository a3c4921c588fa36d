/* wsevent.h - Pushpin's WebSocket-over-HTTP event format.
 *
 * A request or response body is a sequence of events:
 *     TYPE\r\n                       (OPEN, DISCONNECT, CLOSE after detach)
 *     TYPE SP HEXLEN\r\nBYTES\r\n    (TEXT, BINARY, PING, PONG, CLOSE)
 * The parser is pure: it trusts nothing in the body, never reads past
 * `len`, and points events into the caller's buffer (no copies).
 */
#ifndef PARLEY_WSEVENT_H
#define PARLEY_WSEVENT_H

#include "buf.h"

enum ws_type { WS_OPEN, WS_TEXT, WS_BINARY, WS_PING, WS_PONG, WS_CLOSE,
	       WS_DISCONNECT };

struct ws_event {
	enum ws_type type;
	const char *data; /* NULL when the event has no content */
	size_t len;
};

struct ws_reader {
	const char *p;
	const char *end;
};

void ws_reader_init(struct ws_reader *r, const char *body, size_t len);
/* 1: an event was read; 0: end of body; -1: malformed (*why says how). */
int ws_next(struct ws_reader *r, struct ws_event *ev, const char **why);

const char *ws_type_name(enum ws_type type);
/* Appends one event; data may be NULL for a content-less event. */
bool ws_write(struct buf *out, enum ws_type type, const char *data,
	      size_t len);
/* Appends a TEXT event whose content is `prefix` followed by data
 * (GRIP's "m:" for messages and "c:" for control messages). */
bool ws_write_text(struct buf *out, const char *prefix, const char *data,
		   size_t len);

#endif
