/* test-protocol.c - client frames (protocol.h; README, "Frames: client to server"
 * and "Events: server to client").
 *
 * Frames are parsed from heap copies of exactly their size, without a
 * terminating NUL, so that valgrind/ASan see any read past `len`. */
#include "common.h"
#include "protocol.h"
#include "tap.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct limits LIM = { 65536, 500, 32, 1000 };

static const char WSCAT[] =
	"{\"action\":\"sendMessage\",\"messageId\":\"test-123\","
	"\"conversationId\":\"conv-1\",\"senderId\":\"test-user-1\","
	"\"senderName\":\"Test User\",\"recipientId\":\"test-user-2\","
	"\"content\":\"Hello from wscat!\",\"timestamp\":\"2025-10-21T10:30:00Z\"}";

/* proto_parse on an exact-size heap copy of frame[0..len). */
static bool parse_len(const char *frame, size_t len, const struct limits *lim,
		      struct request *req, struct proto_error *err)
{
	char *copy = malloc(len > 0 ? len : 1);
	bool r;

	if (copy == NULL)
		abort();
	if (len > 0)
		memcpy(copy, frame, len);
	r = proto_parse(copy, len, lim, req, err);
	/* The request points into its own cJSON tree, not into the frame:
	 * poison and free the frame before anyone looks at the request. */
	memset(copy, 'Z', len);
	free(copy);
	return r;
}

/* Expects success; the caller checks fields and calls request_free. */
static bool accept_lim(const char *frame, const struct limits *lim,
		       struct request *req, const char *what)
{
	struct proto_error err;
	bool r = parse_len(frame, strlen(frame), lim, req, &err);

	if (!ok(r, "accepted: %s", what))
		diag("code %s: %s", err.code ? err.code : "(null)", err.message);
	return r;
}

static bool accept(const char *frame, struct request *req, const char *what)
{
	return accept_lim(frame, &LIM, req, what);
}

/* Accepts and frees at once (for frames whose fields are not checked). */
static void accepted(const char *frame, const char *what)
{
	struct request req;

	accept(frame, &req, what);
	request_free(&req);
}

static void reject_len_lim(const char *frame, size_t len,
			   const struct limits *lim, const char *code,
			   const char *what, struct proto_error *errout)
{
	struct request req;
	struct proto_error err;
	bool r = parse_len(frame, len, lim, &req, &err);

	ok(!r, "rejected: %s", what);
	if (r) {
		request_free(&req);
		if (errout)
			memset(errout, 0, sizeof(*errout));
		is_str(NULL, code, "  error code for: %s", what);
		return;
	}
	is_str(err.code, code, "  error code for: %s", what);
	if (err.message[0] == '\0')
		ok(0, "  a human message for: %s", what);
	/* A failed parse leaves nothing to free; freeing again is safe. */
	if (req.root != NULL || req.ids != NULL)
		ok(0, "  failed parse freed its request: %s", what);
	request_free(&req);
	if (errout)
		*errout = err;
}

static void reject(const char *frame, const char *code, const char *what)
{
	reject_len_lim(frame, strlen(frame), &LIM, code, what, NULL);
}

static void reject_lim(const char *frame, const struct limits *lim,
		       const char *code, const char *what)
{
	reject_len_lim(frame, strlen(frame), lim, code, what, NULL);
}

#define REJECT_BYTES(lit, code, what) \
	reject_len_lim((lit), sizeof(lit) - 1, &LIM, (code), (what), NULL)
/* Rejects a literal frame and keeps the error for further checks. */
#define REJECT_CTX(lit, code, what, errp) \
	reject_len_lim((lit), sizeof(lit) - 1, &LIM, (code), (what), (errp))

/* A valid sendMessage frame (messageId m-1 to bob in conv-1, content
 * "hi") changed for one test: `extra` (JSON members) is added, replacing
 * the default of any field it names, and the `omit` field is left out.
 * The caller frees the result. */
static char *send_frame(const char *omit, const char *extra)
{
	static const char *const fields[][2] = {
		{ "messageId", "\"m-1\"" },
		{ "conversationId", "\"conv-1\"" },
		{ "recipientId", "\"bob\"" },
		{ "content", "\"hi\"" },
	};
	char *text = NULL;
	size_t textlen = 0;
	FILE *f = open_memstream(&text, &textlen);

	if (f == NULL)
		abort();
	fputs("{\"action\":\"sendMessage\"", f);
	if (extra != NULL)
		fprintf(f, ",%s", extra);
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		char key[64];
		snprintf(key, sizeof(key), "\"%s\":", fields[i][0]);
		if ((omit != NULL && strcmp(omit, fields[i][0]) == 0) ||
		    (extra != NULL && strstr(extra, key) != NULL))
			continue;
		fprintf(f, ",%s%s", key, fields[i][1]);
	}
	fputs("}", f);
	fclose(f);
	return text;
}

static void send_reject(const char *omit, const char *extra, const char *code,
			const char *what)
{
	char *frame = send_frame(omit, extra);
	struct proto_error err;

	reject_len_lim(frame, strlen(frame), &LIM, code, what, &err);
	free(frame);
}

static void send_accept(const char *omit, const char *extra, const char *what)
{
	char *frame = send_frame(omit, extra);

	accepted(frame, what);
	free(frame);
}

/* ---------------------------------------------------------------- */

static void test_wscat_line(void)
{
	struct request req;

	if (!accept(WSCAT, &req, "the original guide's wscat line")) {
		skip(12, "wscat line not parsed");
		return;
	}
	is_int(req.action, ACT_SEND, "wscat: sendMessage");
	is_str(req.message_id, "test-123", "wscat: messageId");
	is_str(req.conversation_id, "conv-1", "wscat: conversationId");
	is_str(req.sender_id, "test-user-1", "wscat: senderId");
	is_str(req.sender_name, "Test User", "wscat: senderName");
	is_str(req.recipient_id, "test-user-2", "wscat: recipientId");
	is_str(req.content, "Hello from wscat!", "wscat: content");
	is_str(req.timestamp, "2025-10-21T10:30:00Z", "wscat: timestamp");
	is_str(req.reply_to_message_id, NULL, "wscat: no replyToMessageId");
	is_str(req.reply_to_content, NULL, "wscat: no replyToContent");
	is_str(req.reply_to_sender_name, NULL, "wscat: no replyToSenderName");
	is_str(action_name(req.action), "sendMessage", "wscat: action_name");
	request_free(&req);
}

static void test_send(void)
{
	struct request req;

	if (accept("{\"action\":\"sendMessage\",\"messageId\":\"uuid\","
		   "\"conversationId\":\"uuid\",\"senderId\":\"sender-id\","
		   "\"senderName\":\"John Doe\",\"recipientId\":\"recipient-id\","
		   "\"content\":\"Hello!\",\"timestamp\":\"2025-10-21T10:30:00Z\","
		   "\"replyToMessageId\":\"uuid-0\",\"replyToContent\":\"...\","
		   "\"replyToSenderName\":\"Jane\"}", &req,
		   "sendMessage with reply fields")) {
		is_str(req.reply_to_message_id, "uuid-0", "reply: id");
		is_str(req.reply_to_content, "...", "reply: content");
		is_str(req.reply_to_sender_name, "Jane", "reply: sender name");
		request_free(&req);
	}
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"x\","
		   "\"replyToMessageId\":null,\"messageId\":null,"
		   "\"senderId\":null,\"senderName\":null,\"timestamp\":null,"
		   "\"replyToContent\":null,\"replyToSenderName\":null}", &req,
		   "sendMessage with every optional field null")) {
		is_str(req.message_id, NULL, "null messageId is absent");
		is_str(req.sender_id, NULL, "null senderId is absent");
		is_str(req.sender_name, NULL, "null senderName is absent");
		is_str(req.timestamp, NULL, "null timestamp is absent");
		is_str(req.reply_to_message_id, NULL, "null reply id is absent");
		is_str(req.reply_to_content, NULL, "null reply content absent");
		request_free(&req);
	}
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"x\"}", &req,
		   "sendMessage with only the required fields")) {
		is_str(req.recipient_id, "bob", "minimal: recipientId");
		is_str(req.conversation_id, "c", "minimal: conversationId");
		is_str(req.content, "x", "minimal: content");
		is_str(req.message_id, NULL, "minimal: no messageId");
		is_str(req.sender_id, NULL, "minimal: no senderId");
		is_str(req.timestamp, NULL, "minimal: no timestamp");
		request_free(&req);
	}
	/* Field order does not matter; whitespace around tokens is fine. */
	if (accept(" \t\r\n{ \"content\" : \"a \\\"quoted\\\" \\\\ text\\n\" ,"
		   " \"conversationId\":\"c\", \"recipientId\" : \"bob\" ,"
		   "\"action\":\"sendMessage\" }\r\n ", &req,
		   "whitespace, escapes and any field order")) {
		is_str(req.content, "a \"quoted\" \\ text\n",
		       "JSON escapes in content are decoded");
		request_free(&req);
	}
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"\\u00e9\\u20ac"
		   "\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", &req,
		   "non-ASCII content, escaped and raw")) {
		is_str(req.content, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
		       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		       "non-ASCII content decodes to UTF-8");
		request_free(&req);
	}
	/* Literal text "\u0000" (an escaped backslash) is fine. */
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"\\\\u0000\"}", &req,
		   "content with an escaped backslash before u0000")) {
		is_str(req.content, "\\u0000",
		       "\"\\\\u0000\" is the six characters \\u0000");
		request_free(&req);
	}
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"\\\\\\\\u0000\"}",
		   &req, "content with two escaped backslashes before u0000")) {
		is_str(req.content, "\\\\u0000", "two backslashes then u0000");
		request_free(&req);
	}
	/* Extra fields, of any type and depth, are ignored. */
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"x\",\"extra\":"
		   "{\"a\":[1,2,{\"b\":null}]},\"n\":1.5e3,\"t\":true,"
		   "\"status\":\"read\",\"isDeleted\":true}", &req,
		   "extra fields are ignored")) {
		is_str(req.content, "x", "extra fields: content intact");
		request_free(&req);
	}
	/* Ids at the edges of the id syntax. */
	send_accept(NULL, "\"recipientId\":\"!~\"", "id of 0x21 and 0x7E");
	send_accept(NULL, "\"recipientId\":\"us-east-1:0e4b2f44-6b0c-4b9e-a"
			  "bcd-1234567890ab\"", "Cognito-style sub as id");
	send_accept(NULL, "\"recipientId\":\"\\u0041\"",
		    "id given as a \\u escape of a printable character");
	/* Timestamps. */
	send_accept(NULL, "\"timestamp\":\"2024-02-29T23:59:59Z\"",
		    "timestamp on a leap day");
	send_accept(NULL, "\"timestamp\":\"2025-10-21T10:30:00.123+05:30\"",
		    "timestamp with a fraction and an offset");
	if (accept("{\"action\":\"sendMessage\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"content\":\"x\","
		   "\"timestamp\":\"2025-10-21t10:30:00.5z\"}", &req,
		   "timestamp with lower-case t and z")) {
		is_str(req.timestamp, "2025-10-21t10:30:00.5z",
		       "timestamp kept exactly as sent");
		request_free(&req);
	}
	/* Empty optional texts are allowed. */
	send_accept(NULL, "\"senderName\":\"\"", "empty senderName");
	send_accept(NULL, "\"replyToContent\":\"\"", "empty replyToContent");
}

static void test_other_actions(void)
{
	struct request req;

	if (accept("{\"action\":\"ack\",\"messageIds\":[\"m-1\",\"m-2\"]}", &req,
		   "ack")) {
		is_int(req.action, ACT_ACK, "ack: action");
		is_int(req.nids, 2, "ack: two ids");
		ok(req.ids != NULL && strcmp(req.ids[0], "m-1") == 0 &&
		   strcmp(req.ids[1], "m-2") == 0, "ack: the ids in order");
		request_free(&req);
	}
	if (accept("{\"action\":\"markRead\",\"messageIds\":[\"m-9\"]}", &req,
		   "markRead")) {
		is_int(req.action, ACT_MARKREAD, "markRead: action");
		is_int(req.nids, 1, "markRead: one id");
		is_str(req.ids[0], "m-9", "markRead: the id");
		request_free(&req);
	}
	if (accept("{\"action\":\"deleteMessage\",\"messageId\":\"m-3\"}", &req,
		   "deleteMessage")) {
		is_int(req.action, ACT_DELETE, "deleteMessage: action");
		is_str(req.message_id, "m-3", "deleteMessage: messageId");
		request_free(&req);
	}
	if (accept("{\"action\":\"getMessages\",\"conversationId\":\"conv-1\"}",
		   &req, "getMessages with defaults")) {
		is_int(req.action, ACT_GET, "getMessages: action");
		is_str(req.conversation_id, "conv-1", "getMessages: conv");
		is_int(req.limit, 50, "getMessages: limit defaults to 50");
		is_str(req.before, NULL, "getMessages: no before");
		request_free(&req);
	}
	if (accept("{\"action\":\"getMessages\",\"conversationId\":\"c\","
		   "\"before\":null,\"limit\":null}", &req,
		   "getMessages with null before and limit")) {
		is_int(req.limit, 50, "null limit is the default 50");
		is_str(req.before, NULL, "null before is absent");
		request_free(&req);
	}
	if (accept("{\"action\":\"getMessages\",\"conversationId\":\"c\","
		   "\"before\":\"m-7\",\"limit\":1}", &req,
		   "getMessages before a messageId, limit 1")) {
		is_str(req.before, "m-7", "before messageId");
		is_int(req.limit, 1, "limit 1");
		request_free(&req);
	}
	if (accept("{\"action\":\"getMessages\",\"conversationId\":\"c\","
		   "\"before\":\"2025-10-21T10:30:00Z\",\"limit\":200}", &req,
		   "getMessages before a time, limit 200")) {
		is_str(req.before, "2025-10-21T10:30:00Z", "before time");
		is_int(req.limit, 200, "limit 200");
		request_free(&req);
	}
	if (accept("{\"action\":\"getMessages\",\"conversationId\":\"c\","
		   "\"limit\":2.0e1}", &req, "limit 2.0e1 is the number 20")) {
		is_int(req.limit, 20, "limit 2.0e1 is 20");
		request_free(&req);
	}
	if (accept("{\"action\":\"typing\",\"recipientId\":\"bob\"}", &req,
		   "typing with only recipientId")) {
		is_int(req.action, ACT_TYPING, "typing: action");
		is_str(req.recipient_id, "bob", "typing: recipientId");
		is_str(req.conversation_id, NULL, "typing: no conversationId");
		ok(req.is_typing, "typing: isTyping defaults to true");
		request_free(&req);
	}
	if (accept("{\"action\":\"typing\",\"recipientId\":\"bob\","
		   "\"conversationId\":\"c\",\"isTyping\":false}", &req,
		   "typing false")) {
		is_str(req.conversation_id, "c", "typing: conversationId");
		ok(!req.is_typing, "typing: isTyping false");
		request_free(&req);
	}
	if (accept("{\"action\":\"typing\",\"recipientId\":\"bob\","
		   "\"isTyping\":true}", &req, "typing true")) {
		ok(req.is_typing, "typing: isTyping true");
		request_free(&req);
	}
	if (accept("{\"action\":\"typing\",\"recipientId\":\"bob\","
		   "\"isTyping\":null}", &req, "typing null")) {
		ok(req.is_typing, "typing: isTyping null is the default true");
		request_free(&req);
	}
	if (accept("{\"action\":\"ping\"}", &req, "ping")) {
		is_int(req.action, ACT_PING, "ping: action");
		request_free(&req);
	}
	accepted("{\"action\":\"ping\",\"x\":[1,{\"y\":null}]}",
		 "ping with extra fields");
	accepted("{\"action\":\"ack\",\"messageIds\":[\"a\"],\"x\":1}",
		 "ack with extra fields");
}

static void test_invalid_json(void)
{
	char deep[200];
	size_t n;

	reject("", "invalid_json", "empty frame");
	reject("   ", "invalid_json", "only whitespace");
	reject("hello", "invalid_json", "not JSON");
	reject("[{\"action\":\"ping\"}]", "invalid_json", "JSON array");
	reject("\"ping\"", "invalid_json", "JSON string");
	reject("42", "invalid_json", "JSON number");
	reject("null", "invalid_json", "JSON null");
	reject("true", "invalid_json", "JSON true");
	reject("{\"action\":\"ping\"", "invalid_json", "truncated object");
	reject("{\"action\":\"pi", "invalid_json", "truncated string");
	reject("{\"action\":", "invalid_json", "truncated after colon");
	reject("{\"action\":\"ping\",}", "invalid_json", "trailing comma");
	reject("{'action':'ping'}", "invalid_json", "single quotes");
	reject("{action:\"ping\"}", "invalid_json", "unquoted key");
	reject("{\"action\":\"ping\" /* c */}", "invalid_json", "comment");
	reject("{\"action\":\"ping\",\"x\":\"\\x41\"}", "invalid_json",
	       "invalid escape \\x");
	reject("{\"action\":\"ping\",\"x\":\"\\ud800\"}", "invalid_json",
	       "lone high surrogate escape");
	reject("{\"action\":\"ping\",\"x\":\"\\udc00\"}", "invalid_json",
	       "lone low surrogate escape");
	reject("{\"action\":\"ping\",\"x\":\"\\ud800\\u0041\"}", "invalid_json",
	       "high surrogate escape followed by a non-surrogate");
	/* Invalid UTF-8, inside and outside strings. */
	reject("{\"action\":\"ping\",\"x\":\"\xff\"}", "invalid_json",
	       "invalid UTF-8 byte 0xFF");
	reject("{\"action\":\"ping\",\"x\":\"\x80\"}", "invalid_json",
	       "lone continuation byte");
	reject("{\"action\":\"ping\",\"x\":\"\xc3\"}", "invalid_json",
	       "truncated 2-byte sequence");
	reject("{\"action\":\"ping\",\"x\":\"\xe2\x82\"}", "invalid_json",
	       "truncated 3-byte sequence");
	reject("{\"action\":\"ping\",\"x\":\"\xc0\xaf\"}", "invalid_json",
	       "overlong 2-byte '/'");
	reject("{\"action\":\"ping\",\"x\":\"\xe0\x80\xaf\"}", "invalid_json",
	       "overlong 3-byte '/'");
	reject("{\"action\":\"ping\",\"x\":\"\xf0\x80\x80\xaf\"}",
	       "invalid_json", "overlong 4-byte '/'");
	reject("{\"action\":\"ping\",\"x\":\"\xed\xa0\x80\"}", "invalid_json",
	       "UTF-8-encoded high surrogate U+D800");
	reject("{\"action\":\"ping\",\"x\":\"\xed\xbf\xbf\"}", "invalid_json",
	       "UTF-8-encoded low surrogate U+DFFF");
	reject("{\"action\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}",
	       "invalid_json", "code point above U+10FFFF");
	reject("{\"action\":\"ping\",\"x\":\"\xf8\x88\x80\x80\x80\"}",
	       "invalid_json", "5-byte sequence");
	reject("{\"action\":\"ping\"}\xff", "invalid_json",
	       "invalid UTF-8 after the object");
	reject("{\"action\":\"ping\",\"x\xff\":1}", "invalid_json",
	       "invalid UTF-8 in a key");
	/* Raw control characters inside strings. */
	reject("{\"action\":\"ping\",\"x\":\"a\tb\"}", "invalid_json",
	       "raw TAB inside a string");
	reject("{\"action\":\"ping\",\"x\":\"a\nb\"}", "invalid_json",
	       "raw LF inside a string");
	reject("{\"action\":\"ping\",\"x\":\"a\x01z\"}", "invalid_json",
	       "raw 0x01 inside a string");
	reject("{\"action\":\"ping\",\"x\":\"a\x1f\"}", "invalid_json",
	       "raw 0x1F inside a string");
	REJECT_BYTES("{\"action\":\"ping\",\"x\":\"a\0b\"}", "invalid_json",
		     "raw NUL inside a string");
	REJECT_BYTES("{\"action\":\"ping\"}\0", "invalid_json",
		     "NUL after the object");
	REJECT_BYTES("{\"action\":\"ping\",\0\"x\":1}", "invalid_json",
		     "NUL between tokens");
	/* Trailing data after the object. */
	reject("{\"action\":\"ping\"}x", "invalid_json",
	       "garbage after the object");
	reject("{\"action\":\"ping\"}{\"action\":\"ping\"}", "invalid_json",
	       "two objects in one frame");
	reject("{\"action\":\"ping\"}]", "invalid_json",
	       "stray bracket after the object");
	accepted("{\"action\":\"ping\"} \r\n\t", "whitespace after the object");

	/* Nesting: the object itself is level 1. */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"action\":\"ping\",\"x\":");
	for (int i = 0; i < 31; i++)
		deep[n++] = '[';
	for (int i = 0; i < 31; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	accepted(deep, "nesting of exactly max_depth (32) levels");
	n = (size_t)snprintf(deep, sizeof(deep), "{\"action\":\"ping\",\"x\":");
	for (int i = 0; i < 32; i++)
		deep[n++] = '[';
	for (int i = 0; i < 32; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	reject(deep, "invalid_json", "nesting of max_depth + 1 levels");
	{
		struct limits l3 = LIM;
		l3.max_depth = 3;
		reject_lim("{\"action\":\"ping\",\"x\":{\"y\":{\"z\":{}}}}", &l3,
			   "invalid_json", "4 levels of objects, max_depth 3");
		reject_lim("{\"action\":\"ping\",\"x\":[{\"y\":[1]}]}", &l3,
			   "invalid_json", "4 mixed levels, max_depth 3");
		{
			struct request req;
			if (accept_lim("{\"action\":\"ping\",\"x\":{\"y\":[1]},"
				       "\"z\":[[2]]}", &l3, &req,
				       "3 levels twice, max_depth 3"))
				request_free(&req);
			if (accept_lim("{\"action\":\"ping\",\"x\":\"[[[[[{{{{\","
				       "\"y\":\"\\\"[[[[[[\"}", &l3, &req,
				       "brackets inside strings do not nest"))
				request_free(&req);
		}
	}
	/* Very deep nesting: refused, without trouble. */
	{
		size_t big = 100000;
		char *s = malloc(big * 2 + 64);
		if (s == NULL)
			abort();
		n = (size_t)sprintf(s, "{\"action\":\"ping\",\"x\":");
		memset(s + n, '[', big);
		n += big;
		memset(s + n, ']', big);
		n += big;
		s[n++] = '}';
		s[n] = '\0';
		reject(s, "invalid_json", "100000 levels of nesting");
		free(s);
	}
}

static void test_missing_field(void)
{
	reject("{}", "missing_field", "empty object: no action");
	reject("{\"messageId\":\"m-1\"}", "missing_field", "no action");
	reject("{\"action\":null}", "missing_field", "action null");
	send_reject("conversationId", NULL, "missing_field",
		    "sendMessage without conversationId");
	send_reject("content", NULL, "missing_field",
		    "sendMessage without content");
	send_reject(NULL, "\"conversationId\":null", "missing_field",
		    "sendMessage with conversationId null");
	send_reject(NULL, "\"content\":null", "missing_field",
		    "sendMessage with content null");
	reject("{\"action\":\"ack\"}", "missing_field", "ack without messageIds");
	reject("{\"action\":\"ack\",\"messageIds\":null}", "missing_field",
	       "ack with messageIds null");
	reject("{\"action\":\"markRead\"}", "missing_field",
	       "markRead without messageIds");
	reject("{\"action\":\"deleteMessage\"}", "missing_field",
	       "deleteMessage without messageId");
	reject("{\"action\":\"deleteMessage\",\"messageId\":null}",
	       "missing_field", "deleteMessage with messageId null");
	reject("{\"action\":\"getMessages\"}", "missing_field",
	       "getMessages without conversationId");
	reject("{\"action\":\"getMessages\",\"conversationId\":null}",
	       "missing_field", "getMessages with conversationId null");
	reject("{\"action\":\"typing\"}", "missing_field",
	       "typing without recipientId or conversationId");
	reject("{\"action\":\"typing\",\"recipientId\":null}",
	       "missing_field", "typing with recipientId null, no conversation");
	/* Keys are case-sensitive. */
	reject("{\"Action\":\"ping\"}", "missing_field",
	       "\"Action\" is not \"action\"");
	send_reject("conversationId", "\"conversationid\":\"c\"",
		    "missing_field", "\"conversationid\" is not \"conversationId\"");
}

static void test_invalid_field(void)
{
	char id129[200], id128[200], frame[400];
	static const char *const bad_ts[] = {
		"2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-10-21T10:30:00", "yesterday", "",
		"2025-10-21 10:30:00Z", "2025-10-21T24:00:00Z",
		"2025-10-21T10:60:00Z", "2025-00-10T10:30:00Z",
		"2025-10-00T10:30:00Z", "2023-02-29T00:00:00Z",
		"2025-04-31T00:00:00Z", "2025-10-21T10:30:00+0530",
		"2025-10-21T10:30:00.Z", "25-10-21T10:30:00Z",
		"2025-10-21", "2025-10-21T10:30Z",
	};

	reject("{\"action\":5}", "invalid_field", "action is a number");
	reject("{\"action\":[\"ping\"]}", "invalid_field", "action is an array");
	reject("{\"action\":{}}", "invalid_field", "action is an object");
	reject("{\"action\":true}", "invalid_field", "action is a boolean");

	send_reject(NULL, "\"recipientId\":5", "invalid_field",
		    "recipientId is a number");
	send_reject(NULL, "\"recipientId\":true", "invalid_field",
		    "recipientId is a boolean");
	send_reject(NULL, "\"recipientId\":[\"bob\"]", "invalid_field",
		    "recipientId is an array");
	send_reject(NULL, "\"recipientId\":{}", "invalid_field",
		    "recipientId is an object");
	send_reject(NULL, "\"recipientId\":\"\"", "invalid_field",
		    "recipientId is empty");
	send_reject(NULL, "\"conversationId\":\"\"", "invalid_field",
		    "conversationId is empty");
	send_reject(NULL, "\"conversationId\":7", "invalid_field",
		    "conversationId is a number");
	send_reject(NULL, "\"content\":\"\"", "invalid_field",
		    "content is empty");
	send_reject(NULL, "\"content\":5", "invalid_field",
		    "content is a number");
	send_reject(NULL, "\"content\":[\"hi\"]", "invalid_field",
		    "content is an array");
	send_reject(NULL, "\"messageId\":\"\"", "invalid_field",
		    "messageId is empty");
	send_reject(NULL, "\"messageId\":123", "invalid_field",
		    "messageId is a number");
	send_reject(NULL, "\"senderId\":\"\"", "invalid_field",
		    "senderId is empty");
	send_reject(NULL, "\"senderId\":1", "invalid_field",
		    "senderId is a number");
	send_reject(NULL, "\"senderName\":1", "invalid_field",
		    "senderName is a number");
	send_reject(NULL, "\"replyToMessageId\":\"\"", "invalid_field",
		    "replyToMessageId is empty");
	send_reject(NULL, "\"replyToMessageId\":false", "invalid_field",
		    "replyToMessageId is a boolean");
	send_reject(NULL, "\"replyToContent\":1", "invalid_field",
		    "replyToContent is a number");
	send_reject(NULL, "\"replyToSenderName\":{}", "invalid_field",
		    "replyToSenderName is an object");
	send_reject(NULL, "\"timestamp\":1729506600", "invalid_field",
		    "timestamp is a number");

	/* Ids: 1..128 bytes of 0x21..0x7E. */
	send_reject(NULL, "\"recipientId\":\"bob smith\"", "invalid_field",
		    "recipientId with a space");
	send_reject(NULL, "\"recipientId\":\" bob\"", "invalid_field",
		    "recipientId with a leading space");
	send_reject(NULL, "\"recipientId\":\"bob\\t\"", "invalid_field",
		    "recipientId with an escaped TAB");
	send_reject(NULL, "\"recipientId\":\"bob\\u007f\"", "invalid_field",
		    "recipientId with DEL");
	send_reject(NULL, "\"recipientId\":\"b\xc3\xb6""b\"", "invalid_field",
		    "recipientId with non-ASCII (raw UTF-8)");
	send_reject(NULL, "\"recipientId\":\"b\\u00f6b\"", "invalid_field",
		    "recipientId with non-ASCII (escaped)");
	send_reject(NULL, "\"messageId\":\"m 1\"", "invalid_field",
		    "messageId with a space");
	send_reject(NULL, "\"conversationId\":\"conv\\n1\"", "invalid_field",
		    "conversationId with a newline");
	send_reject(NULL, "\"senderId\":\"a b\"", "invalid_field",
		    "senderId with a space");
	send_reject(NULL, "\"replyToMessageId\":\"a b\"", "invalid_field",
		    "replyToMessageId with a space");
	memset(id128, 'i', 128);
	id128[128] = '\0';
	memset(id129, 'i', 129);
	id129[129] = '\0';
	snprintf(frame, sizeof(frame), "\"recipientId\":\"%s\"", id128);
	send_accept(NULL, frame, "recipientId of 128 bytes");
	snprintf(frame, sizeof(frame), "\"recipientId\":\"%s\"", id129);
	send_reject(NULL, frame, "invalid_field", "recipientId of 129 bytes");
	snprintf(frame, sizeof(frame), "\"messageId\":\"%s\"", id128);
	send_accept(NULL, frame, "messageId of 128 bytes");
	snprintf(frame, sizeof(frame), "\"messageId\":\"%s\"", id129);
	send_reject(NULL, frame, "invalid_field", "messageId of 129 bytes");

	/* Timestamps must be RFC 3339. */
	for (size_t i = 0; i < ARRAY_LEN(bad_ts); i++) {
		char what[96];
		snprintf(frame, sizeof(frame), "\"timestamp\":\"%s\"", bad_ts[i]);
		snprintf(what, sizeof(what), "timestamp \"%s\"", bad_ts[i]);
		send_reject(NULL, frame, "invalid_field", what);
	}

	/* U+0000 in content is invalid_field, also in other strings. */
	send_reject(NULL, "\"content\":\"\\u0000\"", "invalid_field",
		    "content \"\\u0000\"");
	send_reject(NULL, "\"content\":\"bob\\u0000x\"", "invalid_field",
		    "content with \\u0000 in the middle");
	send_reject(NULL, "\"content\":\"\\\\\\u0000\"", "invalid_field",
		    "content: escaped backslash, then a real \\u0000");
	send_reject(NULL, "\"recipientId\":\"bob\\u0000x\"", "invalid_field",
		    "recipientId with \\u0000 (would be cut to \"bob\")");
	send_reject(NULL, "\"senderName\":\"a\\u0000\"", "invalid_field",
		    "senderName with \\u0000");

	/* Name fields have their own (undocumented) limit. */
	{
		char name[300], f[400];
		memset(name, 'n', 256);
		name[256] = '\0';
		snprintf(f, sizeof(f), "\"senderName\":\"%s\"", name);
		send_accept(NULL, f, "senderName of 256 bytes");
		memset(name, 'n', 257);
		name[257] = '\0';
		snprintf(f, sizeof(f), "\"senderName\":\"%s\"", name);
		send_reject(NULL, f, "invalid_field", "senderName of 257 bytes");
		snprintf(f, sizeof(f), "\"replyToSenderName\":\"%s\"", name);
		send_reject(NULL, f, "invalid_field",
			    "replyToSenderName of 257 bytes");
	}

	/* deleteMessage */
	reject("{\"action\":\"deleteMessage\",\"messageId\":\"\"}",
	       "invalid_field", "deleteMessage with empty messageId");
	reject("{\"action\":\"deleteMessage\",\"messageId\":42}",
	       "invalid_field", "deleteMessage with numeric messageId");
	reject("{\"action\":\"deleteMessage\",\"messageId\":\"a b\"}",
	       "invalid_field", "deleteMessage with a space in messageId");

	/* getMessages */
	reject("{\"action\":\"getMessages\",\"conversationId\":\"\"}",
	       "invalid_field", "getMessages with empty conversationId");
	reject("{\"action\":\"getMessages\",\"conversationId\":1}",
	       "invalid_field", "getMessages with numeric conversationId");
	reject("{\"action\":\"getMessages\",\"conversationId\":\"c\","
	       "\"before\":\"\"}", "invalid_field", "before is empty");
	reject("{\"action\":\"getMessages\",\"conversationId\":\"c\","
	       "\"before\":5}", "invalid_field", "before is a number");
	reject("{\"action\":\"getMessages\",\"conversationId\":\"c\","
	       "\"before\":\"not an id\"}", "invalid_field",
	       "before is neither an id nor a time");
	{
		static const char *const bad_limits[] = {
			"0", "201", "1.5", "\"10\"", "-1", "true", "[]", "{}",
			"200.5", "0.5", "-0.5", "1e-300",
		};
		for (size_t i = 0; i < ARRAY_LEN(bad_limits); i++) {
			char what[64];
			snprintf(frame, sizeof(frame), "{\"action\":"
				 "\"getMessages\",\"conversationId\":\"c\","
				 "\"limit\":%s}", bad_limits[i]);
			snprintf(what, sizeof(what), "limit %s", bad_limits[i]);
			reject(frame, "invalid_field", what);
		}
	}

	/* Limits far outside int: see test_huge_limits. */

	/* typing */
	reject("{\"action\":\"typing\",\"recipientId\":\"bob\",\"isTyping\":"
	       "\"true\"}", "invalid_field", "isTyping is a string");
	reject("{\"action\":\"typing\",\"recipientId\":\"bob\",\"isTyping\":1}",
	       "invalid_field", "isTyping is a number");
	reject("{\"action\":\"typing\",\"recipientId\":\"bob\",\"isTyping\":"
	       "[]}", "invalid_field", "isTyping is an array");
	reject("{\"action\":\"typing\",\"recipientId\":\"\"}", "invalid_field",
	       "typing with empty recipientId");
	reject("{\"action\":\"typing\",\"recipientId\":\"a b\"}",
	       "invalid_field", "typing with a space in recipientId");
	reject("{\"action\":\"typing\",\"recipientId\":\"bob\","
	       "\"conversationId\":\"\"}", "invalid_field",
	       "typing with empty conversationId");
	reject("{\"action\":\"typing\",\"recipientId\":\"bob\","
	       "\"conversationId\":5}", "invalid_field",
	       "typing with numeric conversationId");
}

static void test_unknown_action(void)
{
	reject("{\"action\":\"foo\"}", "unknown_action", "action foo");
	reject("{\"action\":\"sendmessage\"}", "unknown_action",
	       "action names are case-sensitive");
	reject("{\"action\":\"SENDMESSAGE\"}", "unknown_action",
	       "upper-case action");
	reject("{\"action\":\"ping \"}", "unknown_action",
	       "action with a trailing space");
	reject("{\"action\":\"$connect\"}", "unknown_action",
	       "route names are not actions");
	reject("{\"action\":\"ping\\u0001\"}", "unknown_action",
	       "action with a control character after the name");
	{
		struct request req;
		struct proto_error err;
		bool r = parse_len("{\"action\":\"\"}", 13, &LIM, &req, &err);
		ok(!r, "rejected: empty action");
		if (r)
			request_free(&req);
		is_str(r ? NULL : err.code, "invalid_field",
		       "  error code for: empty action");
	}
}

static void test_too_large(void)
{
	size_t max = LIM.max_content_bytes;
	char *frame = malloc(max * 2 + 200);
	struct limits small = LIM;
	struct request req;
	size_t n;

	if (frame == NULL)
		abort();
	/* exactly max_content_bytes ASCII bytes */
	n = (size_t)sprintf(frame, "{\"action\":\"sendMessage\",\"recipientId\":"
			    "\"bob\",\"conversationId\":\"c\",\"content\":\"");
	memset(frame + n, 'a', max);
	strcpy(frame + n + max, "\"}");
	if (accept(frame, &req, "content of exactly max_content_bytes")) {
		is_int(strlen(req.content), max, "  all %zu bytes kept", max);
		request_free(&req);
	}
	memset(frame + n, 'a', max + 1);
	strcpy(frame + n + max + 1, "\"}");
	reject(frame, "too_large", "content of max_content_bytes + 1");

	/* multi-byte: 21845 euro signs (3 bytes each) = 65535 bytes */
	{
		size_t k = n;
		for (size_t i = 0; i < max / 3; i++, k += 3)
			memcpy(frame + k, "\xe2\x82\xac", 3);
		strcpy(frame + k, "a\"}");
		accepted(frame, "21845 euro signs + 1 byte = 65536 bytes");
		strcpy(frame + k, "ab\"}");
		reject(frame, "too_large",
		       "21845 euro signs + 2 bytes = 65537 bytes (21847 "
		       "characters)");
	}
	/* replyToContent has the same limit. */
	n = (size_t)sprintf(frame, "{\"action\":\"sendMessage\",\"recipientId\":"
			    "\"bob\",\"conversationId\":\"c\",\"content\":\"x\","
			    "\"replyToContent\":\"");
	memset(frame + n, 'r', max);
	strcpy(frame + n + max, "\"}");
	accepted(frame, "replyToContent of exactly max_content_bytes");
	memset(frame + n, 'r', max + 1);
	strcpy(frame + n + max + 1, "\"}");
	reject(frame, "too_large", "replyToContent of max_content_bytes + 1");
	free(frame);

	/* The limit counts decoded UTF-8 bytes, not characters or escapes. */
	small.max_content_bytes = 6;
	{
		static const char pre[] = "{\"action\":\"sendMessage\","
			"\"recipientId\":\"bob\",\"conversationId\":\"c\","
			"\"content\":";
		char f[200];
		snprintf(f, sizeof(f), "%s\"\xe2\x82\xac\xe2\x82\xac\"}", pre);
		if (accept_lim(f, &small, &req, "limit 6: two euro signs (6 "
			       "bytes)"))
			request_free(&req);
		snprintf(f, sizeof(f), "%s\"\\u20ac\\u20ac\"}", pre);
		if (accept_lim(f, &small, &req, "limit 6: two escaped euro "
			       "signs (12 bytes of JSON, 6 of content)"))
			request_free(&req);
		snprintf(f, sizeof(f), "%s\"\xe2\x82\xac\xe2\x82\xac""a\"}", pre);
		reject_lim(f, &small, "too_large",
			   "limit 6: two euro signs and a letter (7 bytes)");
		snprintf(f, sizeof(f), "%s\"\\u20ac\\u20aca\"}", pre);
		reject_lim(f, &small, "too_large",
			   "limit 6: escaped, 7 bytes");
		snprintf(f, sizeof(f), "%s\"\\ud83d\\ude00\\ud83d\\ude00\"}",
			 pre);
		reject_lim(f, &small, "too_large",
			   "limit 6: two emoji (2 characters, 8 bytes)");
		snprintf(f, sizeof(f), "%s\"\\\\\\\\\\\\\"}", pre);
		if (accept_lim(f, &small, &req, "limit 6: three escaped "
			       "backslashes are 3 bytes"))
			request_free(&req);
	}
}

static void test_ids_arrays(void)
{
	struct limits l3 = LIM;
	char *frame;
	size_t n;
	struct request req;

	reject("{\"action\":\"ack\",\"messageIds\":[]}", "invalid_field",
	       "ack with an empty array");
	reject("{\"action\":\"markRead\",\"messageIds\":[]}", "invalid_field",
	       "markRead with an empty array");
	reject("{\"action\":\"ack\",\"messageIds\":\"m-1\"}", "invalid_field",
	       "messageIds is a string");
	reject("{\"action\":\"ack\",\"messageIds\":{\"0\":\"m-1\"}}",
	       "invalid_field", "messageIds is an object");
	reject("{\"action\":\"ack\",\"messageIds\":5}", "invalid_field",
	       "messageIds is a number");
	reject("{\"action\":\"ack\",\"messageIds\":[\"m-1\",5]}",
	       "invalid_field", "messageIds with a number item");
	reject("{\"action\":\"ack\",\"messageIds\":[\"m-1\",null]}",
	       "invalid_field", "messageIds with a null item");
	reject("{\"action\":\"ack\",\"messageIds\":[[\"m-1\"]]}",
	       "invalid_field", "messageIds with an array item");
	reject("{\"action\":\"ack\",\"messageIds\":[\"m-1\",\"\"]}",
	       "invalid_field", "messageIds with an empty id");
	reject("{\"action\":\"markRead\",\"messageIds\":[\"a b\",\"m-1\"]}",
	       "invalid_field", "messageIds with a space in an id");
	reject("{\"action\":\"markRead\",\"messageIds\":[\"m-1\",\"\\u00e9\"]}",
	       "invalid_field", "messageIds with a non-ASCII id");
	reject("{\"action\":\"ack\",\"messageIds\":[\"a\\u0000b\"]}",
	       "invalid_field", "messageIds with \\u0000 in an id");

	/* 500 ids are fine with max_ids 500, 501 are not. */
	frame = malloc(501 * 16 + 64);
	if (frame == NULL)
		abort();
	n = (size_t)sprintf(frame, "{\"action\":\"ack\",\"messageIds\":[");
	for (int i = 0; i < 500; i++)
		n += (size_t)sprintf(frame + n, "%s\"id-%d\"", i ? "," : "", i);
	strcpy(frame + n, "]}");
	if (accept(frame, &req, "ack with 500 ids")) {
		is_int(req.nids, 500, "  500 ids");
		is_str(req.ids[0], "id-0", "  first id");
		is_str(req.ids[499], "id-499", "  last id");
		request_free(&req);
	}
	n += (size_t)sprintf(frame + n, ",\"id-500\"");
	strcpy(frame + n, "]}");
	reject(frame, "invalid_field", "ack with 501 ids");
	free(frame);

	l3.max_ids = 3;
	if (accept_lim("{\"action\":\"markRead\",\"messageIds\":[\"a\",\"b\","
		       "\"c\"]}", &l3, &req, "max_ids 3: three ids")) {
		is_int(req.nids, 3, "  three ids");
		request_free(&req);
	}
	reject_lim("{\"action\":\"markRead\",\"messageIds\":[\"a\",\"b\",\"c\","
		   "\"d\"]}", &l3, "invalid_field", "max_ids 3: four ids");
	/* Duplicates in the array are not a syntax error. */
	if (accept("{\"action\":\"ack\",\"messageIds\":[\"a\",\"a\"]}", &req,
		   "the same id twice")) {
		is_int(req.nids, 2, "  both kept for the handler");
		request_free(&req);
	}
}

/* Runs proto_parse in a child process, so that a sanitizer abort (or a
 * crash) becomes one failed test instead of the end of this program.
 * Returns 0: rejected with `code`; 1: parsed or another code; 2: the
 * child crashed or a sanitizer stopped it. */
static int isolated_reject(const char *frame, const char *code)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		struct request req;
		struct proto_error err;
		bool r = parse_len(frame, strlen(frame), &LIM, &req, &err);
		if (r)
			request_free(&req);
		_exit(!r && err.code != NULL && strcmp(err.code, code) == 0 ?
		      0 : 42);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 42)
		return 1;
	return 2;
}

/* getMessages limits far outside int. parse_get converts the double to
 * int before range-checking it ((double)(int)v), which is undefined
 * behaviour for values outside int's range: a plain build happens to
 * reject them, a clang -fsanitize=undefined build (--enable-sanitizers
 * with CC=clang) stops there. When the child is stopped this way the
 * point is reported as TODO (the known bug); a wrong answer is always a
 * plain failure. */
static void test_huge_limits(void)
{
	static const char *const huge[] = {
		"1e300", "-1e300", "4294967297", "2147483648", "-2147483649",
		"1e10",
	};

	for (size_t i = 0; i < ARRAY_LEN(huge); i++) {
		char frame[128];
		int r;
		snprintf(frame, sizeof(frame), "{\"action\":\"getMessages\","
			 "\"conversationId\":\"c\",\"limit\":%s}", huge[i]);
		r = isolated_reject(frame, "invalid_field");
		ok(r == 0, "limit %s is invalid_field, without undefined "
		   "behaviour%s", huge[i], r == 2 ? " (child was stopped)" : "");
	}
}

/* The error event carries the action and messageId the frame named. */
static void test_error_context(void)
{
	struct proto_error err;
	char *frame;

	frame = send_frame("content", NULL);
	reject_len_lim(frame, strlen(frame), &LIM, "missing_field",
		       "context: sendMessage without content", &err);
	is_str(err.action, "sendMessage", "  err.action is sendMessage");
	is_str(err.message_id, "m-1", "  err.message_id is m-1");
	free(frame);

	frame = send_frame(NULL, "\"recipientId\":\"a b\"");
	reject_len_lim(frame, strlen(frame), &LIM, "invalid_field",
		       "context: sendMessage with a bad recipientId", &err);
	is_str(err.action, "sendMessage", "  err.action is sendMessage");
	is_str(err.message_id, "m-1", "  err.message_id is m-1");
	free(frame);

	frame = send_frame(NULL, "\"timestamp\":\"yesterday\"");
	reject_len_lim(frame, strlen(frame), &LIM, "invalid_field",
		       "context: sendMessage with a bad timestamp", &err);
	is_str(err.action, "sendMessage", "  err.action is sendMessage");
	is_str(err.message_id, "m-1", "  err.message_id is m-1");
	free(frame);

	REJECT_CTX("{\"action\":\"deleteMessage\",\"messageId\":\"m-5\","
		       "\"x\":1,\"y\":[}", "invalid_json",
		       "context: invalid JSON", &err);
	is_str(err.action, NULL, "  invalid JSON: no action");

	REJECT_CTX("{\"action\":\"ack\",\"messageIds\":[]}", "invalid_field",
		   "context: ack with no ids", &err);
	is_str(err.action, "ack", "  err.action is ack");
	is_str(err.message_id, "", "  no messageId in the frame: empty");

	REJECT_CTX("{\"action\":\"getMessages\",\"conversationId\":\"c\","
		       "\"limit\":0}", "invalid_field",
		       "context: getMessages limit 0", &err);
	is_str(err.action, "getMessages", "  err.action is getMessages");

	REJECT_CTX("{\"action\":\"typing\",\"recipientId\":\"b\","
		       "\"isTyping\":1}", "invalid_field",
		       "context: typing isTyping 1", &err);
	is_str(err.action, "typing", "  err.action is typing");

	REJECT_CTX("{\"messageId\":\"m-6\"}", "missing_field",
		       "context: no action", &err);
	is_str(err.action, NULL, "  no action: err.action NULL");
	is_str(err.message_id, "m-6", "  no action: err.message_id m-6");

	{
		struct limits small = LIM;
		static const char f[] = "{\"action\":\"sendMessage\","
			"\"messageId\":\"m-7\",\"recipientId\":\"bob\","
			"\"conversationId\":\"c\",\"content\":\"abcdef\"}";
		small.max_content_bytes = 5;
		reject_len_lim(f, sizeof(f) - 1, &small, "too_large",
			       "context: too_large", &err);
		is_str(err.action, "sendMessage", "  err.action sendMessage");
		is_str(err.message_id, "m-7", "  err.message_id m-7");
	}

	REJECT_CTX("{\"action\":\"deleteMessage\",\"messageId\":\"m-8\","
		       "\"unused\":\"\\u0000\"}", "invalid_field",
		       "context: deleteMessage with \\u0000 elsewhere", &err);
	frame = send_frame(NULL, "\"content\":\"a\\u0000b\"");
	reject_len_lim(frame, strlen(frame), &LIM, "invalid_field",
		       "context: sendMessage with \\u0000 in content", &err);
	is_str(err.action, "sendMessage", "  \\u0000: err.action is sendMessage");
	is_str(err.message_id, "m-1", "  \\u0000: err.message_id is m-1");
	free(frame);
}

static void test_valid_rfc3339(void)
{
	static const char *const good[] = {
		"2025-10-21T10:30:00Z", "2024-02-29T00:00:00Z",
		"2000-02-29T00:00:00Z", "1996-02-29T12:00:00Z",
		"2025-10-21T10:30:00+05:30", "2025-10-21T10:30:00-08:00",
		"2025-10-21T10:30:00+00:00", "2025-10-21T10:30:00-00:00",
		"2025-10-21T10:30:00.5Z", "2025-10-21T10:30:00.123456Z",
		"2025-10-21T10:30:00.123456789Z",
		"2025-10-21T10:30:00.123+05:30", "2025-10-21t10:30:00z",
		"2025-12-31T23:59:59Z", "2025-01-31T00:00:00Z",
		"2025-04-30T00:00:00Z", "2016-12-31T23:59:60Z",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"2025-10-21T10:30:00+15:59",
	};
	static const char *const bad[] = {
		"", "Z", "2025", "2025-10-21", "2025-10-21T10:30:00",
		"2025-10-21T10:30Z", "2025-10-21T10:30:00ZZ",
		"2025-10-21T10:30:00 Z", "2025-10-21 10:30:00Z",
		"2025-10-21_10:30:00Z", "2025/10/21T10:30:00Z",
		"2025-1-21T10:30:00Z", "2025-10-1T10:30:00Z",
		"2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-00-01T00:00:00Z", "2025-01-00T00:00:00Z",
		"2025-01-32T00:00:00Z", "2025-04-31T00:00:00Z",
		"2025-06-31T00:00:00Z", "2025-09-31T00:00:00Z",
		"2025-11-31T00:00:00Z", "2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2025-10-21T24:00:00Z", "2025-10-21T10:60:00Z",
		"2025-10-21T10:30:61Z", "0000-01-01T00:00:00Z",
		"2025-10-21T10:30:00.Z", "2025-10-21T10:30:00.1234567890Z",
		"2025-10-21T10:30:00,5Z", "2025-10-21T10:30:00+05",
		"2025-10-21T10:30:00+0530", "2025-10-21T10:30:00+05:3",
		"2025-10-21T10:30:00+05:60", "2025-10-21T10:30:00+24:00",
		"2025-10-21T10:30:00+05:30Z", "2025-10-21T10:30:00.5",
		"yesterday", "+2025-10-21T10:30:00Z", " 2025-10-21T10:30:00Z",
		"2025-10-21T10:30:00Z ", "2025-10-21T1a:30:00Z",
		"2025-10-21T10:30:00.5+", "12025-10-21T10:30:00Z",
	};

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		ok(valid_rfc3339(good[i]), "valid_rfc3339(\"%s\")", good[i]);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ok(!valid_rfc3339(bad[i]), "!valid_rfc3339(\"%s\")", bad[i]);

	/* The stated purpose is that PostgreSQL (timestamptz) never refuses
	 * what this accepts; PostgreSQL refuses UTC offsets of 16 hours or
	 * more ("time zone displacement out of range"). */
	ok(!valid_rfc3339("2025-10-21T10:30:00+16:00"),
	   "!valid_rfc3339(\"2025-10-21T10:30:00+16:00\") (PostgreSQL refuses)");
	ok(!valid_rfc3339("2025-10-21T10:30:00-23:59"),
	   "!valid_rfc3339(\"2025-10-21T10:30:00-23:59\") (PostgreSQL refuses)");
}

static void test_valid_utf8(void)
{
	static const struct { const char *s; size_t len; bool good; } cases[] = {
		{ "", 0, true },
		{ "hello", 5, true },
		{ "a\0b", 3, true },              /* NUL is valid UTF-8 */
		{ "\x7f", 1, true },
		{ "\xc2\x80", 2, true },          /* U+0080 */
		{ "\xdf\xbf", 2, true },          /* U+07FF */
		{ "\xe0\xa0\x80", 3, true },      /* U+0800 */
		{ "\xe2\x82\xac", 3, true },      /* euro */
		{ "\xed\x9f\xbf", 3, true },      /* U+D7FF */
		{ "\xee\x80\x80", 3, true },      /* U+E000 */
		{ "\xef\xbf\xbf", 3, true },      /* U+FFFF */
		{ "\xf0\x90\x80\x80", 4, true },  /* U+10000 */
		{ "\xf0\x9f\x98\x80", 4, true },  /* emoji */
		{ "\xf4\x8f\xbf\xbf", 4, true },  /* U+10FFFF */
		{ "\x80", 1, false },
		{ "\xbf", 1, false },
		{ "\xc0\x80", 2, false },         /* overlong NUL */
		{ "\xc1\xbf", 2, false },         /* overlong */
		{ "\xe0\x9f\xbf", 3, false },     /* overlong U+07FF */
		{ "\xe0\x80\x80", 3, false },
		{ "\xf0\x8f\xbf\xbf", 4, false }, /* overlong U+FFFF */
		{ "\xed\xa0\x80", 3, false },     /* U+D800 */
		{ "\xed\xaf\xbf", 3, false },     /* U+DBFF */
		{ "\xed\xb0\x80", 3, false },     /* U+DC00 */
		{ "\xed\xbf\xbf", 3, false },     /* U+DFFF */
		{ "\xed\xa0\xbd\xed\xb8\x80", 6, false }, /* CESU-8 pair */
		{ "\xf4\x90\x80\x80", 4, false }, /* U+110000 */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xf8\x88\x80\x80\x80", 5, false },
		{ "\xfc\x84\x80\x80\x80\x80", 6, false },
		{ "\xfe", 1, false },
		{ "\xff", 1, false },
		{ "\xc3", 1, false },             /* truncated */
		{ "\xe2\x82", 2, false },
		{ "\xf0\x9f\x98", 3, false },
		{ "\xc3\x28", 2, false },         /* bad continuation */
		{ "\xe2\x28\xa1", 3, false },
		{ "\xe2\x82\x28", 3, false },
		{ "\xf0\x28\x8c\xbc", 4, false },
		{ "a\xc3\xa9\xff", 4, false },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		is_int(valid_utf8(cases[i].s, cases[i].len), cases[i].good,
		       "valid_utf8 case %zu (%zu bytes) is %s", i, cases[i].len,
		       cases[i].good ? "valid" : "invalid");
	/* Only len bytes are looked at. */
	ok(valid_utf8("ab\xff", 2), "valid_utf8 stops at len");
	ok(!valid_utf8("\xe2\x82\xac", 2),
	   "valid_utf8: a sequence cut by len is invalid");
	{
		/* exact-size heap buffer: a truncated sequence at the very
		 * end must not be read past */
		char *s = malloc(2);
		if (s == NULL)
			abort();
		memcpy(s, "a\xf0", 2);
		ok(!valid_utf8(s, 2), "valid_utf8: lead byte at the end");
		free(s);
	}
}

static void test_valid_id(void)
{
	char id[130];

	ok(valid_id("a", 1), "valid_id: one byte");
	ok(valid_id("test-user-1", 11), "valid_id: test-user-1");
	ok(valid_id("!~", 2), "valid_id: 0x21 and 0x7E");
	ok(!valid_id("", 0), "valid_id: empty");
	ok(!valid_id("a b", 3), "valid_id: space");
	ok(!valid_id("a\0b", 3), "valid_id: embedded NUL");
	ok(!valid_id("a\x7f", 2), "valid_id: DEL");
	ok(!valid_id("\xc3\xa9", 2), "valid_id: non-ASCII");
	ok(!valid_id("a\tb", 3), "valid_id: TAB");
	memset(id, 'x', sizeof(id));
	ok(valid_id(id, 128), "valid_id: 128 bytes");
	ok(!valid_id(id, 129), "valid_id: 129 bytes");
	ok(valid_id("ab c", 2), "valid_id: only len bytes are checked");
}

static void test_action_names(void)
{
	is_str(action_name(ACT_SEND), "sendMessage", "action_name send");
	is_str(action_name(ACT_ACK), "ack", "action_name ack");
	is_str(action_name(ACT_MARKREAD), "markRead", "action_name markRead");
	is_str(action_name(ACT_DELETE), "deleteMessage", "action_name delete");
	is_str(action_name(ACT_GET), "getMessages", "action_name get");
	is_str(action_name(ACT_TYPING), "typing", "action_name typing");
	is_str(action_name(ACT_PING), "ping", "action_name ping");
}

/* Without recipientId: a group message or typing in a group, which the
 * parser accepts (only the database knows whether the conversation is a
 * group: handlers.c answers missing_field when it is not). */
static void test_group_addressing(void)
{
	struct request req;
	char *frame = send_frame("recipientId", NULL);

	if (accept(frame, &req, "sendMessage without recipientId")) {
		ok(req.recipient_id == NULL, "no recipientId: NULL");
		is_str(req.conversation_id, "conv-1", "group: conversationId");
		request_free(&req);
	}
	free(frame);
	frame = send_frame(NULL, "\"recipientId\":null");
	if (accept(frame, &req, "sendMessage with recipientId null")) {
		ok(req.recipient_id == NULL, "recipientId null: NULL");
		request_free(&req);
	}
	free(frame);
	frame = send_frame("recipientId", "\"recipientid\":\"bob\"");
	if (accept(frame, &req, "\"recipientid\" is not \"recipientId\"")) {
		ok(req.recipient_id == NULL, "recipientid ignored");
		request_free(&req);
	}
	free(frame);
	if (accept("{\"action\":\"typing\",\"conversationId\":\"g\"}", &req,
		   "typing in a group")) {
		ok(req.recipient_id == NULL, "group typing: no recipient");
		is_str(req.conversation_id, "g", "group typing: conversation");
		request_free(&req);
	}
}

static void test_group_frames(void)
{
	struct request req;
	struct limits three = LIM;
	char frame[4096];
	int n;

	if (accept("{\"action\":\"createGroup\",\"conversationId\":\"g1\","
		   "\"title\":\"Team\",\"members\":[\"bob\",\"carol\"]}", &req,
		   "createGroup")) {
		is_int(req.action, ACT_CREATE_GROUP, "createGroup: action");
		is_str(req.conversation_id, "g1", "createGroup: id");
		is_str(req.title, "Team", "createGroup: title");
		is_int(req.nmembers, 2, "createGroup: two members");
		if (req.nmembers == 2) {
			is_str(req.members[0], "bob", "createGroup: first");
			is_str(req.members[1], "carol", "createGroup: second");
		}
		request_free(&req);
	}
	if (accept("{\"action\":\"createGroup\"}", &req,
		   "createGroup with nothing but the action")) {
		ok(req.conversation_id == NULL && req.title == NULL &&
			   req.nmembers == 0,
		   "createGroup: id, title and members absent");
		request_free(&req);
	}
	accepted("{\"action\":\"createGroup\",\"members\":[],\"title\":null}",
		 "createGroup with no members and title null");
	reject("{\"action\":\"createGroup\",\"members\":[\"bob\",\"bob\"]}",
	       "invalid_field", "createGroup listing a member twice");
	reject("{\"action\":\"createGroup\",\"members\":\"bob\"}",
	       "invalid_field", "members not an array");
	reject("{\"action\":\"createGroup\",\"members\":[\"bob\",5]}",
	       "invalid_field", "a member that is not a string");
	reject("{\"action\":\"createGroup\",\"members\":[\"\"]}",
	       "invalid_field", "an empty member id");
	reject("{\"action\":\"createGroup\",\"title\":7}", "invalid_field",
	       "title a number");
	n = snprintf(frame, sizeof(frame),
		     "{\"action\":\"createGroup\",\"title\":\"");
	for (int i = 0; i < 257; i++)
		frame[n++] = 't';
	snprintf(frame + n, sizeof(frame) - (size_t)n, "\"}");
	reject(frame, "invalid_field", "a title of 257 bytes");
	three.max_members = 3;
	reject_lim("{\"action\":\"createGroup\",\"members\":[\"a\",\"b\",\"c\","
		   "\"d\"]}", &three, "too_large", "four members over a limit "
		   "of three");
	if (accept_lim("{\"action\":\"addMembers\",\"conversationId\":\"g\","
		       "\"members\":[\"a\",\"b\",\"c\"]}", &three, &req,
		       "three members at a limit of three")) {
		is_int(req.action, ACT_ADD_MEMBERS, "addMembers: action");
		is_int(req.nmembers, 3, "addMembers: three");
		request_free(&req);
	}
	reject("{\"action\":\"addMembers\",\"conversationId\":\"g\"}",
	       "missing_field", "addMembers without members");
	reject("{\"action\":\"addMembers\",\"conversationId\":\"g\","
	       "\"members\":[]}", "invalid_field", "addMembers of nobody");
	reject("{\"action\":\"removeMembers\",\"members\":[\"a\"]}",
	       "missing_field", "removeMembers without conversationId");
	if (accept("{\"action\":\"removeMembers\",\"conversationId\":\"g\","
		   "\"members\":[\"a\"]}", &req, "removeMembers")) {
		is_int(req.action, ACT_REMOVE_MEMBERS, "removeMembers: action");
		request_free(&req);
	}
	if (accept("{\"action\":\"leaveGroup\",\"conversationId\":\"g\"}",
		   &req, "leaveGroup")) {
		is_int(req.action, ACT_LEAVE_GROUP, "leaveGroup: action");
		is_str(req.conversation_id, "g", "leaveGroup: id");
		request_free(&req);
	}
	reject("{\"action\":\"leaveGroup\"}", "missing_field",
	       "leaveGroup without conversationId");
	if (accept("{\"action\":\"getReceipts\",\"messageId\":\"m\","
		   "\"after\":\"bob\"}", &req, "getReceipts")) {
		is_int(req.action, ACT_GET_RECEIPTS, "getReceipts: action");
		is_str(req.message_id, "m", "getReceipts: messageId");
		is_str(req.after, "bob", "getReceipts: after");
		request_free(&req);
	}
	reject("{\"action\":\"getReceipts\"}", "missing_field",
	       "getReceipts without messageId");
	reject("{\"action\":\"getReceipts\",\"messageId\":\"m\",\"after\":1}",
	       "invalid_field", "getReceipts with a numeric after");
}

int main(void)
{
	test_wscat_line();
	test_send();
	test_other_actions();
	test_invalid_json();
	test_missing_field();
	test_invalid_field();
	test_unknown_action();
	test_too_large();
	test_ids_arrays();
	test_huge_limits();
	test_error_context();
	test_valid_rfc3339();
	test_valid_utf8();
	test_valid_id();
	test_action_names();
	test_group_addressing();
	test_group_frames();
	return done_testing();
}
