/* test-notify.c - publishes as NOTIFY payloads (notify.h): the channel
 * names, a payload's header, cutting a big publish into parts at UTF-8
 * boundaries and joining them again, and what a receiver drops. */
#include "common.h"
#include "notify.h"
#include "tap.h"

/* Encodes, decodes each part and joins them: the body comes back. */
static void round_trip(const char *what, const char *body, size_t len,
		       int want_parts)
{
	struct notify_parts parts;
	struct notify_join j;
	char *out = NULL;
	size_t out_len = 0;
	bool decoded = true, bounded = true, utf8 = true;
	int got = -1;

	if (!ok(notify_encode(NOTIFY_MESSAGE, "u:bob", "conn-1",
			      "0123456789abcdef", body, len, &parts),
		"%s: encodes", what))
		return;
	is_int(parts.n, want_parts, "%s: in %d part(s)", what, want_parts);
	notify_join_init(&j);
	for (int i = 0; i < parts.n; i++) {
		struct notify_header h;
		size_t n = strlen(parts.part[i]);

		bounded = bounded && n < 8000;
		if (!notify_decode(parts.part[i], n, &h)) {
			decoded = false;
			break;
		}
		/* No part starts with a UTF-8 continuation byte. */
		utf8 = utf8 && (h.len == 0 ||
				((unsigned char)h.body[0] & 0xc0) != 0x80);
		decoded = decoded && h.part == i + 1 && h.parts == parts.n &&
			  strcmp(h.channel, "u:bob") == 0 &&
			  strcmp(h.skip, "conn-1") == 0;
		got = notify_join_add(&j, &h, &out, &out_len);
		if (got != (i + 1 == parts.n ? 1 : 0))
			break;
	}
	ok(decoded, "%s: every part decodes with its header", what);
	ok(bounded, "%s: every payload is below 8000 bytes", what);
	ok(utf8, "%s: no part starts inside a UTF-8 character", what);
	ok(got == 1 && out_len == len && out != NULL &&
	   memcmp(out, body, len) == 0, "%s: joined, the body is whole", what);
	free(out);
	notify_join_free(&j);
	notify_parts_free(&parts);
}

int main(void)
{
	char name[NOTIFY_NAME_MAX], other[NOTIFY_NAME_MAX];
	char long_id[ID_MAX + 3] = "u:";
	struct notify_parts parts;
	struct notify_header h;
	struct notify_join j;
	char *big, *body;
	size_t len;
	int r;

	/* NOTIFY channel names */
	ok(conn_is_websocketd("wsd-0123") && !conn_is_websocketd("ws-1") &&
	   !conn_is_websocketd(NULL), "websocketd connection ids");
	notify_name(name, "u:alice");
	is_int((long)strlen(name), 39, "a channel name is 39 bytes");
	ok(strncmp(name, "parley_", 7) == 0 &&
	   strspn(name + 7, "0123456789abcdef") == 32,
	   "  \"parley_\" and 32 lower-case hex digits: %s", name);
	/* SHA-256("u:alice") starts 5b... : fixed, every process agrees. */
	notify_name(other, "u:alice");
	is_str(other, name, "the same channel, the same name");
	notify_name(other, "u:alicf");
	ok(strcmp(other, name) != 0, "another channel, another name");
	memset(long_id + 2, '~', ID_MAX);
	long_id[ID_MAX + 2] = '\0';
	notify_name(other, long_id);
	is_int((long)strlen(other), 39, "a 130-byte channel: 39 bytes too");

	/* one part */
	ok(notify_encode(NOTIFY_MESSAGE, "u:bob", NULL, "00000000000000ff",
			 "{\"type\":\"typing\"}", 17, &parts) && parts.n == 1,
	   "a small publish is one part");
	is_str(parts.part[0], "P1 m u:bob - 00000000000000ff 1/1\n"
	       "{\"type\":\"typing\"}", "  its payload");
	ok(notify_decode(parts.part[0], strlen(parts.part[0]), &h) &&
	   h.kind == NOTIFY_MESSAGE && strcmp(h.channel, "u:bob") == 0 &&
	   h.skip[0] == '\0' && h.part == 1 && h.parts == 1 && h.len == 17 &&
	   memcmp(h.body, "{\"type\":\"typing\"}", 17) == 0,
	   "  decodes: kind, channel, no skip, 1/1, body");
	notify_parts_free(&parts);
	ok(notify_encode(NOTIFY_CLOSE, "c:wsd-1", NULL, "0000000000000001",
			 "4000", 4, &parts) && parts.n == 1 &&
	   notify_decode(parts.part[0], strlen(parts.part[0]), &h) &&
	   h.kind == NOTIFY_CLOSE && h.len == 4,
	   "a close is one part, its code the body");
	notify_parts_free(&parts);
	ok(notify_encode(NOTIFY_MESSAGE, "u:bob", NULL, "0000000000000001", "",
			 0, &parts) && parts.n == 1, "an empty body: one part");
	notify_parts_free(&parts);

	/* refused input */
	ok(!notify_encode(NOTIFY_MESSAGE, "u:b b", NULL, "0000000000000001",
			  "x", 1, &parts) && parts.n == 0,
	   "a channel with a space is refused");
	ok(!notify_encode(NOTIFY_MESSAGE, "u:b", "a\nb", "0000000000000001",
			  "x", 1, &parts), "a skip with a newline is refused");

	/* big: 60 KB of ASCII, then of 2- and 3-byte characters */
	big = malloc(600000);
	memset(big, 'a', 61440);
	round_trip("60 KiB ASCII", big, 61440, 9);
	for (size_t i = 0; i + 2 <= 61440; i += 2)
		memcpy(big + i, "\xc3\xa9", 2); /* e acute */
	round_trip("60 KiB of 2-byte characters", big, 61440, 9);
	for (size_t i = 0; i + 3 <= 61440; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3); /* euro sign */
	round_trip("60 KiB of 3-byte characters", big, 61440, 9);
	memset(big, 'b', 7000);
	round_trip("exactly one part's body", big, 7000, 1);
	round_trip("one byte more", big, 7001, 2);
	memset(big, 'c', 600000);
	ok(notify_encode(NOTIFY_MESSAGE, "u:b", NULL, "0000000000000001", big,
			 600000, &parts) && parts.n == 86,
	   "600,000 bytes: 86 parts");
	notify_parts_free(&parts);

	/* malformed payloads */
	ok(!notify_decode("P1 m u:bob - 0000000000000001 1/1", 33, &h),
	   "no newline: not a payload");
	ok(!notify_decode("P2 m u:bob - 0000000000000001 1/1\nx", 35, &h),
	   "another version: not a payload");
	ok(!notify_decode("P1 x u:bob - 0000000000000001 1/1\nx", 35, &h),
	   "an unknown kind: not a payload");
	ok(!notify_decode("P1 m u:bob ? 0000000000000001 1/1\nx", 35, &h),
	   "a skip that is neither - nor =ID: not a payload");
	ok(!notify_decode("P1 m u:bob - 0000000000000001 2/1\nx", 35, &h),
	   "a part past the count: not a payload");
	ok(!notify_decode("P1 m u:bob - 0000000000000001 0/1\nx", 35, &h),
	   "part 0: not a payload");
	ok(!notify_decode("P1 m u:bob - 0000000000000001 1/999\nx", 37, &h),
	   "more parts than allowed: not a payload");
	ok(!notify_decode("P1 m u:bob - 0000000000000001 1/1 x\nx", 37, &h),
	   "a word more: not a payload");
	ok(notify_decode("P1 m u:bob =wsd-1 0000000000000001 1/1\n{}", 41,
			 &h) && strcmp(h.skip, "wsd-1") == 0,
	   "=ID names the skipped connection");

	/* joining: out of order, interleaved, the oldest evicted */
	notify_join_init(&j);
	memset(big, 'd', 20000);
	ok(notify_encode(NOTIFY_MESSAGE, "u:b", NULL, "000000000000000a", big,
			 20000, &parts) && parts.n == 3, "three parts");
	ok(notify_decode(parts.part[1], strlen(parts.part[1]), &h) &&
	   notify_join_add(&j, &h, &body, &len) == -1 && body == NULL,
	   "a part 2 without its part 1 is dropped");
	ok(notify_decode(parts.part[0], strlen(parts.part[0]), &h) &&
	   notify_join_add(&j, &h, &body, &len) == 0, "part 1: more to come");
	ok(notify_decode(parts.part[2], strlen(parts.part[2]), &h) &&
	   notify_join_add(&j, &h, &body, &len) == -1,
	   "part 3 after part 1: dropped");
	ok(notify_decode(parts.part[1], strlen(parts.part[1]), &h) &&
	   notify_join_add(&j, &h, &body, &len) == -1,
	   "  and the publish with it (part 2 now is out of order)");
	{
		struct notify_parts other_parts;
		struct notify_header h2;
		bool good = notify_encode(NOTIFY_MESSAGE, "u:b", NULL,
					  "000000000000000b", big, 20000,
					  &other_parts);
		/* Two publishes interleaved, each in order: both whole. */
		int ra = 0, rb = 0;
		for (int i = 0; good && i < 3; i++) {
			char *ba = NULL, *bb = NULL;
			size_t la, lb;
			good = notify_decode(parts.part[i],
					     strlen(parts.part[i]), &h) &&
			       notify_decode(other_parts.part[i],
					     strlen(other_parts.part[i]), &h2);
			ra = notify_join_add(&j, &h, &ba, &la);
			rb = notify_join_add(&j, &h2, &bb, &lb);
			if (ra == 1)
				good = good && la == 20000;
			if (rb == 1)
				good = good && lb == 20000;
			free(ba);
			free(bb);
		}
		ok(good && ra == 1 && rb == 1,
		   "two publishes interleaved: both joined");
		notify_parts_free(&other_parts);
	}
	/* More publishes begun than slots: the oldest is dropped. */
	for (int k = 0; k < NOTIFY_JOIN_SLOTS + 1; k++) {
		struct notify_parts p;
		char nonce[17];
		snprintf(nonce, sizeof(nonce), "%016x", 0x100 + k);
		if (notify_encode(NOTIFY_MESSAGE, "u:b", NULL, nonce, big,
				  20000, &p) &&
		    notify_decode(p.part[0], strlen(p.part[0]), &h))
			r = notify_join_add(&j, &h, &body, &len);
		notify_parts_free(&p);
	}
	{
		struct notify_parts p;
		bool enc = notify_encode(NOTIFY_MESSAGE, "u:b", NULL,
					 "0000000000000100", big, 20000, &p);
		ok(enc && notify_decode(p.part[1], strlen(p.part[1]), &h) &&
		   notify_join_add(&j, &h, &body, &len) == -1,
		   "more publishes begun than %d slots: the oldest is dropped",
		   NOTIFY_JOIN_SLOTS);
		notify_parts_free(&p);
	}
	notify_join_free(&j);
	notify_parts_free(&parts);
	free(big);
	(void)r;
	return done_testing();
}
