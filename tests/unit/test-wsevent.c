/* test-wsevent.c - Pushpin's WebSocket-over-HTTP event format (wsevent.h).
 *
 * Every body is parsed from a heap copy of exactly its size, so that a read
 * past `len` is an out-of-bounds read that valgrind or ASan reports. */
#include "common.h"
#include "wsevent.h"
#include "tap.h"

#define MAXEV 16

struct parsed {
	int n;                 /* events read */
	int rc;                /* last ws_next result: 0 end, -1 malformed */
	const char *why;       /* reason when rc == -1 */
	struct {
		enum ws_type type;
		bool has_data;
		size_t len;
		char data[64];
	} ev[MAXEV];
};

/* Parses body[0..len) from an exact-size heap copy; events are copied
 * out (the first 64 bytes of content) before the copy is freed. */
static struct parsed parse(const char *body, size_t len)
{
	struct parsed p;
	struct ws_reader r;
	struct ws_event ev;
	char *copy = malloc(len > 0 ? len : 1);

	memset(&p, 0, sizeof(p));
	if (copy == NULL)
		abort();
	if (len > 0)
		memcpy(copy, body, len);
	ws_reader_init(&r, copy, len);
	for (;;) {
		const char *why = NULL;
		int rc = ws_next(&r, &ev, &why);
		if (rc != 1) {
			p.rc = rc;
			p.why = why;
			break;
		}
		if (p.n < MAXEV) {
			p.ev[p.n].type = ev.type;
			p.ev[p.n].has_data = ev.data != NULL;
			p.ev[p.n].len = ev.len;
			if (ev.data != NULL)
				memcpy(p.ev[p.n].data, ev.data,
				       ev.len < 64 ? ev.len : 64);
		}
		p.n++;
		if (p.n > 100) { /* a parser that never advances */
			p.rc = 99;
			break;
		}
	}
	free(copy);
	return p;
}

#define PARSE_LIT(s) parse((s), sizeof(s) - 1)

/* A malformed body: ws_next returns -1 (after `events` good events) and
 * says why. */
static void malformed(const char *body, size_t len, int events,
		      const char *what)
{
	struct parsed p = parse(body, len);

	is_int(p.rc, -1, "%s: malformed", what);
	is_int(p.n, events, "%s: %d event(s) before the error", what, events);
	ok(p.why != NULL && *p.why != '\0', "%s: a reason is given (%s)", what,
	   p.why ? p.why : "(null)");
}

#define MALFORMED(lit, events, what) malformed((lit), sizeof(lit) - 1, events, what)

static void test_single_events(void)
{
	struct parsed p;

	p = PARSE_LIT("OPEN\r\n");
	is_int(p.rc, 0, "OPEN: body ends cleanly");
	is_int(p.n, 1, "OPEN: one event");
	is_int(p.ev[0].type, WS_OPEN, "OPEN: type");
	ok(!p.ev[0].has_data, "OPEN: no content (data NULL)");
	is_int(p.ev[0].len, 0, "OPEN: len 0");

	p = PARSE_LIT("TEXT 5\r\nhello\r\n");
	is_int(p.rc, 0, "TEXT: body ends cleanly");
	is_int(p.n, 1, "TEXT: one event");
	is_int(p.ev[0].type, WS_TEXT, "TEXT: type");
	ok(p.ev[0].has_data, "TEXT: has content");
	is_mem(p.ev[0].data, p.ev[0].len, "hello", 5, "TEXT: content");

	p = PARSE_LIT("TEXT 0\r\n\r\n");
	is_int(p.rc, 0, "TEXT 0: ends cleanly");
	is_int(p.n, 1, "TEXT 0: one event");
	is_int(p.ev[0].len, 0, "TEXT 0: empty content");

	p = PARSE_LIT("BINARY 3\r\n\x01\x02\x03\r\n");
	is_int(p.n, 1, "BINARY: one event");
	is_int(p.ev[0].type, WS_BINARY, "BINARY: type");
	is_mem(p.ev[0].data, p.ev[0].len, "\x01\x02\x03", 3, "BINARY: content");

	p = PARSE_LIT("CLOSE 2\r\n\x03\xe8\r\n");
	is_int(p.rc, 0, "CLOSE with code: ends cleanly");
	is_int(p.n, 1, "CLOSE with code: one event");
	is_int(p.ev[0].type, WS_CLOSE, "CLOSE with code: type");
	is_int(p.ev[0].len, 2, "CLOSE with code: 2-byte payload");
	is_int(((unsigned char)p.ev[0].data[0] << 8) |
	       (unsigned char)p.ev[0].data[1], 1000,
	       "CLOSE with code: code 1000 (big-endian)");

	p = PARSE_LIT("CLOSE\r\n");
	is_int(p.n, 1, "CLOSE without payload (after detach): one event");
	is_int(p.ev[0].type, WS_CLOSE, "CLOSE without payload: type");
	ok(!p.ev[0].has_data, "CLOSE without payload: no content");

	p = PARSE_LIT("DISCONNECT\r\n");
	is_int(p.rc, 0, "DISCONNECT: ends cleanly");
	is_int(p.n, 1, "DISCONNECT: one event");
	is_int(p.ev[0].type, WS_DISCONNECT, "DISCONNECT: type");
	ok(!p.ev[0].has_data, "DISCONNECT: no content");

	p = PARSE_LIT("PING 4\r\nping\r\nPONG 0\r\n\r\nPING\r\n");
	is_int(p.rc, 0, "PING/PONG: ends cleanly");
	is_int(p.n, 3, "PING/PONG: three events");
	is_int(p.ev[0].type, WS_PING, "PING: type");
	is_mem(p.ev[0].data, p.ev[0].len, "ping", 4, "PING: payload");
	is_int(p.ev[1].type, WS_PONG, "PONG: type");
	is_int(p.ev[1].len, 0, "PONG: empty payload");
	is_int(p.ev[2].type, WS_PING, "PING without length: type");
	ok(!p.ev[2].has_data, "PING without length: no content");

	p = parse("", 0);
	is_int(p.rc, 0, "empty body: end at once");
	is_int(p.n, 0, "empty body: no events");

	/* Upper-case hex digits and leading zeros in the length. */
	p = PARSE_LIT("TEXT 0A\r\n0123456789\r\n");
	is_int(p.n, 1, "upper-case hex length 0A: one event");
	is_int(p.ev[0].len, 10, "upper-case hex length 0A: 10 bytes");
	p = PARSE_LIT("TEXT 1a\r\nabcdefghijklmnopqrstuvwxyz\r\n");
	is_int(p.ev[0].len, 26, "lower-case hex length 1a: 26 bytes");
	is_int(p.rc, 0, "lower-case hex length 1a: ends cleanly");
}

static void test_sequences(void)
{
	struct parsed p;

	p = PARSE_LIT("TEXT 2\r\nb0\r\nTEXT 2\r\nb1\r\n");
	is_int(p.rc, 0, "two TEXT events: ends cleanly");
	is_int(p.n, 2, "two TEXT events: both read");
	is_mem(p.ev[0].data, p.ev[0].len, "b0", 2, "two TEXT events: first");
	is_mem(p.ev[1].data, p.ev[1].len, "b1", 2, "two TEXT events: second");

	p = PARSE_LIT("OPEN\r\nTEXT 5\r\nhello\r\nPING 0\r\n\r\n"
		      "CLOSE 2\r\n\x03\xe9\r\nDISCONNECT\r\n");
	is_int(p.rc, 0, "mixed sequence: ends cleanly");
	is_int(p.n, 5, "mixed sequence: five events");
	is_int(p.ev[0].type, WS_OPEN, "mixed sequence: OPEN first");
	is_int(p.ev[1].type, WS_TEXT, "mixed sequence: then TEXT");
	is_int(p.ev[2].type, WS_PING, "mixed sequence: then PING");
	is_int(p.ev[3].type, WS_CLOSE, "mixed sequence: then CLOSE");
	is_int(p.ev[4].type, WS_DISCONNECT, "mixed sequence: DISCONNECT last");

	/* Good events before a bad one are returned; then -1. */
	MALFORMED("TEXT 2\r\nb0\r\nBOGUS\r\n", 1,
		  "good event then unknown type");
}

static void test_binary_safety(void)
{
	struct parsed p;

	p = PARSE_LIT("TEXT 5\r\na\0b\0c\r\n");
	is_int(p.rc, 0, "content with NULs: ends cleanly");
	is_int(p.n, 1, "content with NULs: one event");
	is_mem(p.ev[0].data, p.ev[0].len, "a\0b\0c", 5,
	       "content with NULs: all 5 bytes, NULs included");

	p = PARSE_LIT("TEXT 6\r\na\r\nb\r\n\r\n");
	is_int(p.rc, 0, "content with CRLF: ends cleanly");
	is_int(p.n, 1, "content with CRLF: one event (length wins)");
	is_mem(p.ev[0].data, p.ev[0].len, "a\r\nb\r\n", 6,
	       "content with CRLF: CRLFs are content");

	p = PARSE_LIT("TEXT c\r\nTEXT 2\r\nb0\r\n\r\n");
	is_int(p.n, 1, "content that looks like an event: one event");
	is_mem(p.ev[0].data, p.ev[0].len, "TEXT 2\r\nb0\r\n", 12,
	       "content that looks like an event: kept as content");
}

static void test_malformed(void)
{
	MALFORMED("TEXT 5\r\nhel", 0, "truncated content");
	MALFORMED("TEXT 5\r\nhello", 0, "content without its CRLF");
	MALFORMED("TEXT 5\r\nhello\r", 0, "content with a lone CR at the end");
	MALFORMED("TEXT 9\r\nhello\r\n", 0, "length longer than the content");
	MALFORMED("TEXT 3\r\nhello\r\n", 0, "length shorter than the content");
	MALFORMED("TEXT 4\r\nhello\r\n", 0, "length one short");
	MALFORMED("TEXT 6\r\nhello\r\n", 0, "length one long");
	MALFORMED("TEXT 5x\r\nhello\r\n", 0, "non-hex length");
	MALFORMED("TEXT 0x5\r\nhello\r\n", 0, "0x prefix in length");
	MALFORMED("TEXT -5\r\nhello\r\n", 0, "negative length");
	MALFORMED("TEXT  5\r\nhello\r\n", 0, "two spaces before length");
	MALFORMED("TEXT 5 \r\nhello\r\n", 0, "space after length");
	MALFORMED("TEXT \r\nhello\r\n", 0, "empty length");
	MALFORMED("TEXT \r\n\r\n", 0, "empty length, empty content");
	MALFORMED("OPEN", 0, "missing CRLF at the end");
	MALFORMED("OPEN\r", 0, "CR without LF at the end");
	MALFORMED("OPEN\n", 0, "bare LF");
	MALFORMED("OPEN\rX", 0, "CR followed by something else");
	MALFORMED("TEXT 5\nhello\r\n", 0, "bare LF after length");
	MALFORMED("FOO\r\n", 0, "unknown type");
	MALFORMED("FOO 2\r\nab\r\n", 0, "unknown type with content");
	MALFORMED("text 2\r\nab\r\n", 0, "lower-case type");
	MALFORMED("Open\r\n", 0, "mixed-case type");
	MALFORMED("OPENX\r\n", 0, "type with a suffix");
	MALFORMED("OPE\r\n", 0, "type prefix");
	MALFORMED(" OPEN\r\n", 0, "leading space");
	MALFORMED("\r\n", 0, "empty line");
	MALFORMED("\r\nOPEN\r\n", 0, "empty line before an event");
	MALFORMED("OPEN\r\n\r\n", 1, "empty line after an event");
	MALFORMED("OP\0EN\r\n", 0, "NUL inside the type");
	MALFORMED("TEXT ffffffffffffffffffffffff\r\nx\r\n", 0,
		  "huge length (would overflow size_t)");
	MALFORMED("TEXT 10000000000000002\r\nab\r\n", 0,
		  "length that wraps to 2 in 64 bits");
	MALFORMED("TEXT fffffffffffffffe\r\n", 0,
		  "length SIZE_MAX-1 (len + 2 would wrap)");
	MALFORMED("TEXT 7fffffff\r\nab\r\n", 0, "2 GiB length");
}

/* Bytes that would make a body valid lie just after `len`: the parser must
 * not look at them. */
static void test_bounds(void)
{
	static const char full[] = "OPEN\r\nTEXT 5\r\nhello\r\nCLOSE 2\r\n"
				   "\x03\xe8\r\nDISCONNECT\r\n";
	/* event boundaries in `full` */
	static const size_t bounds[] = { 0, 6, 21, 34, 46 };
	struct ws_reader r;
	struct ws_event ev;
	const char *why;
	size_t flen = sizeof(full) - 1;
	bool all_right = true;

	{
		const char *s = "TEXT 2\r\nab\r\n";
		struct parsed p = parse(s, 10); /* without the final CRLF */
		is_int(p.rc, -1, "bytes after len are not read (final CRLF)");
		p = parse(s, 8);
		is_int(p.rc, -1, "bytes after len are not read (content)");
		p = parse("OPEN\r\n", 5);
		is_int(p.rc, -1, "bytes after len are not read (LF of OPEN)");
	}

	/* The same, in place: the bytes after len are really there, so a
	 * parser that looked at them would succeed. */
	{
		static const char s1[] = "TEXT 2\r\nab\r\nOPEN\r\n";
		ws_reader_init(&r, s1, 11);
		is_int(ws_next(&r, &ev, &why), -1,
		       "in place: the final LF after len is not used");
		ws_reader_init(&r, s1, 9);
		is_int(ws_next(&r, &ev, &why), -1,
		       "in place: content after len is not used");
		ws_reader_init(&r, s1 + 12, 5);
		is_int(ws_next(&r, &ev, &why), -1,
		       "in place: the LF of OPEN after len is not used");
		ws_reader_init(&r, s1, 12);
		is_int(ws_next(&r, &ev, &why), 1, "in place: whole event");
		is_int(ws_next(&r, &ev, &why), 0,
		       "in place: then the end, not the OPEN after len");
	}

	is_int(flen, bounds[4], "bounds table matches the body");
	/* Every prefix of a valid body: events fully inside are read, a cut
	 * inside an event is malformed, a cut at a boundary is a clean end. */
	for (size_t cut = 0; cut <= flen; cut++) {
		struct parsed p = parse(full, cut);
		int whole = 0;
		bool at_bound = false;
		for (size_t b = 0; b < ARRAY_LEN(bounds); b++) {
			if (bounds[b] <= cut && b > 0)
				whole = (int)b;
			if (bounds[b] == cut)
				at_bound = true;
		}
		if (p.n != whole || p.rc != (at_bound ? 0 : -1)) {
			diag("prefix of %zu bytes: %d events, rc %d; expected "
			     "%d events, rc %d", cut, p.n, p.rc, whole,
			     at_bound ? 0 : -1);
			all_right = false;
		}
	}
	ok(all_right, "every prefix of a valid body parses as far as it is "
		      "whole, and no further");

	/* After the end ws_next keeps returning 0. */
	ws_reader_init(&r, full, 6);
	is_int(ws_next(&r, &ev, &why), 1, "reader: first event");
	is_int(ws_next(&r, &ev, &why), 0, "reader: then end");
	is_int(ws_next(&r, &ev, &why), 0, "reader: end again");

	/* Content points into the caller's buffer (no copy). */
	ws_reader_init(&r, full, flen);
	is_int(ws_next(&r, &ev, &why), 1, "reader: OPEN");
	is_int(ws_next(&r, &ev, &why), 1, "reader: TEXT");
	ok(ev.data == full + 14, "TEXT content points into the body");
}

static void round_trip(enum ws_type type, const char *data, size_t len,
		       const char *what)
{
	struct buf b;
	struct parsed p;

	buf_init(&b);
	ok(ws_write(&b, type, data, len), "%s: ws_write succeeds", what);
	p = parse(b.data, b.len);
	is_int(p.rc, 0, "%s: parses back cleanly", what);
	is_int(p.n, 1, "%s: one event", what);
	is_int(p.ev[0].type, type, "%s: same type", what);
	is_int(p.ev[0].has_data, data != NULL, "%s: same presence of content",
	       what);
	if (data != NULL)
		is_mem(p.ev[0].data, p.ev[0].len < 64 ? p.ev[0].len : 64, data,
		       len < 64 ? len : 64, "%s: same content", what);
	is_int(p.ev[0].len, len, "%s: same length", what);
	buf_free(&b);
}

static void test_write(void)
{
	struct buf b;
	struct parsed p;
	struct ws_reader r;
	struct ws_event ev;
	const char *why;
	char *big;
	size_t biglen = 100000;

	buf_init(&b);
	ok(ws_write(&b, WS_TEXT, "hello", 5), "ws_write TEXT");
	is_str(b.data, "TEXT 5\r\nhello\r\n", "ws_write TEXT: exact bytes");
	buf_reset(&b);
	ok(ws_write(&b, WS_OPEN, NULL, 0), "ws_write OPEN");
	is_str(b.data, "OPEN\r\n", "ws_write OPEN: exact bytes");
	buf_reset(&b);
	ok(ws_write(&b, WS_CLOSE, "\x03\xe8", 2), "ws_write CLOSE 1000");
	is_mem(b.data, b.len, "CLOSE 2\r\n\x03\xe8\r\n", 13,
	       "ws_write CLOSE: exact bytes");
	buf_reset(&b);
	ok(ws_write(&b, WS_TEXT, "abcdefghijklmnopqrstuvwxyz", 26),
	   "ws_write 26 bytes");
	is_int(strncmp(b.data, "TEXT 1a\r\n", 9), 0,
	       "ws_write: length in hex (1a)");
	buf_reset(&b);
	ok(ws_write_text(&b, "m:", "{\"a\":1}", 7), "ws_write_text");
	is_str(b.data, "TEXT 9\r\nm:{\"a\":1}\r\n",
	       "ws_write_text: prefix counted in the length");
	buf_reset(&b);
	ok(ws_write_text(&b, "", "x", 1), "ws_write_text, empty prefix");
	is_str(b.data, "TEXT 1\r\nx\r\n", "ws_write_text, empty prefix: bytes");
	buf_free(&b);

	round_trip(WS_OPEN, NULL, 0, "round trip OPEN");
	round_trip(WS_DISCONNECT, NULL, 0, "round trip DISCONNECT");
	round_trip(WS_TEXT, "hello", 5, "round trip TEXT");
	round_trip(WS_TEXT, "", 0, "round trip empty TEXT");
	round_trip(WS_BINARY, "\0\r\n\0\xff", 5, "round trip BINARY with NUL/CRLF");
	round_trip(WS_CLOSE, "\x03\xe8", 2, "round trip CLOSE 1000");
	round_trip(WS_PING, "p", 1, "round trip PING");
	round_trip(WS_PONG, "p", 1, "round trip PONG");

	/* A large event: a length with several hex digits. */
	big = malloc(biglen);
	if (big == NULL)
		abort();
	for (size_t i = 0; i < biglen; i++)
		big[i] = (char)('a' + i % 26);
	big[500] = '\r';
	big[501] = '\n';
	buf_init(&b);
	ok(ws_write(&b, WS_BINARY, big, biglen), "ws_write 100000 bytes");
	is_int(strncmp(b.data, "BINARY 186a0\r\n", 14), 0,
	       "100000 bytes: length 186a0");
	ws_reader_init(&r, b.data, b.len);
	is_int(ws_next(&r, &ev, &why), 1, "100000 bytes: parses");
	ok(ev.len == biglen && memcmp(ev.data, big, biglen) == 0,
	   "100000 bytes: same content");
	is_int(ws_next(&r, &ev, &why), 0, "100000 bytes: then end");
	buf_free(&b);
	free(big);

	/* Several writes make one body that parses in order. */
	buf_init(&b);
	ws_write(&b, WS_OPEN, NULL, 0);
	ws_write_text(&b, "c:", "{\"type\":\"subscribe\"}", 20);
	ws_write_text(&b, "m:", "x", 1);
	ok(ws_write(&b, WS_CLOSE, "\x03\xe8", 2), "four writes");
	p = parse(b.data, b.len);
	is_int(p.rc, 0, "four writes: clean body");
	is_int(p.n, 4, "four writes: four events");
	is_mem(p.ev[1].data, p.ev[1].len, "c:{\"type\":\"subscribe\"}", 22,
	       "four writes: control message with its prefix");
	is_mem(p.ev[2].data, p.ev[2].len, "m:x", 3, "four writes: message");
	buf_free(&b);
}

static void test_type_names(void)
{
	is_str(ws_type_name(WS_OPEN), "OPEN", "ws_type_name OPEN");
	is_str(ws_type_name(WS_TEXT), "TEXT", "ws_type_name TEXT");
	is_str(ws_type_name(WS_BINARY), "BINARY", "ws_type_name BINARY");
	is_str(ws_type_name(WS_PING), "PING", "ws_type_name PING");
	is_str(ws_type_name(WS_PONG), "PONG", "ws_type_name PONG");
	is_str(ws_type_name(WS_CLOSE), "CLOSE", "ws_type_name CLOSE");
	is_str(ws_type_name(WS_DISCONNECT), "DISCONNECT",
	       "ws_type_name DISCONNECT");
}

int main(void)
{
	test_single_events();
	test_sequences();
	test_binary_safety();
	test_malformed();
	test_bounds();
	test_write();
	test_type_names();
	return done_testing();
}
