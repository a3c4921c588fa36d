/* fuzz-wsevent.c - libFuzzer target for Pushpin's WebSocket-over-HTTP
 * event format (wsevent.h): the body is hostile input.
 *
 * The input is parsed with ws_reader_init/ws_next from an exact-size heap
 * copy (a read past `len` is an ASan report). Every event read is written
 * back with ws_write, and with ws_write_text for TEXT events; both outputs
 * must read back as the same events, and must parse to the end without an
 * error. Any difference aborts (a crash for libFuzzer). */
#include "common.h"
#include "wsevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define die(what) (fprintf(stderr, "fuzz-wsevent: %s\n", what), abort())

/* A non-NULL pointer for a buffer that may be empty. */
static const char *nonnull(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

/* Reads `r2` in lockstep with a fresh parse of body[0..size), expecting
 * the same events, with `prefix` before each TEXT content when not NULL
 * (and only TEXT events: the caller writes those alone). */
static void same_events(const char *body, size_t size, struct ws_reader *r2,
			const char *prefix)
{
	struct ws_reader r;
	struct ws_event ev, ev2;
	const char *why = NULL, *why2 = NULL;
	size_t plen = prefix != NULL ? strlen(prefix) : 0;

	ws_reader_init(&r, body, size);
	while (ws_next(&r, &ev, &why) == 1) {
		if (prefix != NULL && ev.type != WS_TEXT)
			continue;
		if (ws_next(r2, &ev2, &why2) != 1)
			die("written events do not read back");
		if (ev2.type != ev.type)
			die("event type changed in the round trip");
		if (prefix == NULL) {
			if ((ev.data == NULL) != (ev2.data == NULL) ||
			    ev.len != ev2.len ||
			    (ev.len > 0 && memcmp(ev.data, ev2.data, ev.len)))
				die("event content changed in the round trip");
		} else if (ev2.data == NULL || ev2.len != plen + ev.len ||
			   memcmp(ev2.data, prefix, plen) != 0 ||
			   (ev.len > 0 &&
			    memcmp(ev2.data + plen, ev.data, ev.len) != 0)) {
			die("ws_write_text content changed in the round trip");
		}
	}
	if (ws_next(r2, &ev2, &why2) != 0)
		die("written events have more, or malformed, events");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size > 0 ? size : 1);
	struct ws_reader r, r2;
	struct ws_event ev;
	struct buf out, text;
	const char *why = NULL;
	int rc;

	if (body == NULL)
		return 0;
	if (size > 0)
		memcpy(body, data, size);
	buf_init(&out);
	buf_init(&text);
	ws_reader_init(&r, body, size);
	while ((rc = ws_next(&r, &ev, &why)) == 1) {
		if ((int)ev.type < WS_OPEN || ev.type > WS_DISCONNECT ||
		    ws_type_name(ev.type) == NULL)
			die("event type out of range");
		if (ev.data == NULL ? ev.len != 0 :
		    ev.data < body || ev.len > size ||
		    ev.data + ev.len > body + size)
			die("event content outside the body");
		ws_write(&out, ev.type, ev.data, ev.len);
		if (ev.type == WS_TEXT)
			ws_write_text(&text, "m:", ev.data != NULL ? ev.data : "",
				      ev.len);
	}
	if (rc != 0 && (rc != -1 || why == NULL || *why == '\0'))
		die("ws_next failed without a reason");
	if (!out.oom && !text.oom) {
		ws_reader_init(&r2, nonnull(&out), out.len);
		same_events(body, size, &r2, NULL);
		ws_reader_init(&r2, nonnull(&text), text.len);
		same_events(body, size, &r2, "m:");
	}
	buf_free(&out);
	buf_free(&text);
	free(body);
	return 0;
}
