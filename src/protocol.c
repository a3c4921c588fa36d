/* protocol.c - see protocol.h.
 *
 * Trust: nothing in a frame is trusted. Before cJSON sees a frame it is
 * scanned once: valid UTF-8, no raw control characters inside strings,
 * no "\u0000" escape (cJSON would silently cut the string there, so
 * "bob\u0000x" would become "bob"), nesting within the limit.
 */
#include "common.h"
#include "protocol.h"

#include <stdarg.h>

static const char *const action_names[] = {
	[ACT_SEND] = "sendMessage", [ACT_ACK] = "ack",
	[ACT_MARKREAD] = "markRead", [ACT_DELETE] = "deleteMessage",
	[ACT_GET] = "getMessages",  [ACT_TYPING] = "typing",
	[ACT_PING] = "ping", [ACT_CREATE_GROUP] = "createGroup",
	[ACT_ADD_MEMBERS] = "addMembers",
	[ACT_REMOVE_MEMBERS] = "removeMembers",
	[ACT_LEAVE_GROUP] = "leaveGroup", [ACT_GET_RECEIPTS] = "getReceipts",
};

const char *action_name(enum action a)
{
	return action_names[a];
}

bool valid_id(const char *s, size_t len)
{
	if (len < 1 || len > ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool valid_utf8(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* RFC 3339 date-time: 2025-10-21T10:30:00Z, with optional fraction and a
 * numeric offset; checked down to the day of the month so that
 * PostgreSQL never refuses what this accepted. */
bool valid_rfc3339(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh, om;
	size_t len = strlen(s), i = 19;

	if (len < 20 || len > 40)
		return false;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60)
		return false;
	if (mo == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return false;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
		return true;
	if ((s[i] == '+' || s[i] == '-') && i + 6 == len &&
	    digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
	    digits(s + i + 4, 2, &om))
		return oh <= 15 && om <= 59; /* PostgreSQL's range */
	return false;
}

static void proto_fail(struct proto_error *err, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void proto_fail(struct proto_error *err, const char *code,
		      const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* One pass over the raw frame; see the file comment. A "\u0000" only
 * sets *nul: the caller reports it once it knows the action. */
static bool prescan(const char *s, size_t len, int max_depth, bool *nul,
		    struct proto_error *err)
{
	bool in_str = false;
	int depth = 0;

	if (!valid_utf8(s, len)) {
		proto_fail(err, "invalid_json", "frame is not valid UTF-8");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (in_str) {
			if (c == '"') {
				in_str = false;
			} else if (c < 0x20) {
				proto_fail(err, "invalid_json", "control "
					  "character inside a JSON string");
				return false;
			} else if (c == '\\' && i + 1 < len) {
				if (s[i + 1] == 'u' && i + 5 < len &&
				    memcmp(s + i + 2, "0000", 4) == 0)
					*nul = true;
				i++; /* skip the escaped character */
			}
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth) {
				proto_fail(err, "invalid_json", "JSON nested "
					  "deeper than %d levels", max_depth);
				return false;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '\0') {
			proto_fail(err, "invalid_json", "NUL byte in frame");
			return false;
		}
	}
	return true;
}

enum field_result { FIELD_OK, FIELD_ABSENT, FIELD_BAD };

/* A string field. Absent and null are the same (FIELD_ABSENT). */
static enum field_result get_string(cJSON *root, const char *name,
				    const char **out)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return FIELD_ABSENT;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return FIELD_BAD;
	*out = v->valuestring;
	return FIELD_OK;
}

/* Fetches an id field; reports missing_field / invalid_field. */
static bool get_id(cJSON *root, const char *name, bool required,
		   const char **out, struct proto_error *err)
{
	switch (get_string(root, name, out)) {
	case FIELD_ABSENT:
		if (!required)
			return true;
		proto_fail(err, "missing_field", "'%s' is required", name);
		return false;
	case FIELD_BAD:
		proto_fail(err, "invalid_field", "'%s' must be a string", name);
		return false;
	case FIELD_OK:
		break;
	}
	if (!valid_id(*out, strlen(*out))) {
		proto_fail(err, "invalid_field", "'%s' must be 1..%d printable "
			  "ASCII characters without spaces", name, ID_MAX);
		return false;
	}
	return true;
}

static bool get_text(cJSON *root, const char *name, bool required,
		     size_t max, const char *too_large_code, const char **out,
		     struct proto_error *err)
{
	switch (get_string(root, name, out)) {
	case FIELD_ABSENT:
		if (!required)
			return true;
		proto_fail(err, "missing_field", "'%s' is required", name);
		return false;
	case FIELD_BAD:
		proto_fail(err, "invalid_field", "'%s' must be a string", name);
		return false;
	case FIELD_OK:
		break;
	}
	if (required && **out == '\0') {
		proto_fail(err, "invalid_field", "'%s' must not be empty", name);
		return false;
	}
	if (strlen(*out) > max) {
		proto_fail(err, too_large_code, "'%s' is larger than %zu bytes",
			  name, max);
		return false;
	}
	return true;
}

static bool parse_send(cJSON *root, const struct limits *lim,
		       struct request *req, struct proto_error *err)
{
	/* recipientId: required unless conversationId is a group's, which
	 * only the database knows (handlers.c). */
	if (!get_id(root, "recipientId", false, &req->recipient_id, err) ||
	    !get_id(root, "conversationId", true, &req->conversation_id, err) ||
	    !get_text(root, "content", true, lim->max_content_bytes,
		      "too_large", &req->content, err) ||
	    !get_id(root, "senderId", false, &req->sender_id, err) ||
	    !get_text(root, "senderName", false, NAME_MAX_BYTES,
		      "invalid_field", &req->sender_name, err) ||
	    !get_id(root, "replyToMessageId", false, &req->reply_to_message_id,
		    err) ||
	    !get_text(root, "replyToContent", false, lim->max_content_bytes,
		      "too_large", &req->reply_to_content, err) ||
	    !get_text(root, "replyToSenderName", false, NAME_MAX_BYTES,
		      "invalid_field", &req->reply_to_sender_name, err))
		return false;
	switch (get_string(root, "timestamp", &req->timestamp)) {
	case FIELD_ABSENT:
		break;
	case FIELD_BAD:
		proto_fail(err, "invalid_field", "'timestamp' must be a string");
		return false;
	case FIELD_OK:
		if (!valid_rfc3339(req->timestamp)) {
			proto_fail(err, "invalid_field", "'timestamp' must be "
				  "RFC 3339, e.g. 2025-10-21T10:30:00Z");
			return false;
		}
	}
	return true;
}

static bool parse_ids(cJSON *root, const struct limits *lim,
		      struct request *req, struct proto_error *err)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "messageIds");
	cJSON *it;
	int n, i = 0;

	if (arr == NULL || cJSON_IsNull(arr)) {
		proto_fail(err, "missing_field", "'messageIds' is required");
		return false;
	}
	if (!cJSON_IsArray(arr)) {
		proto_fail(err, "invalid_field", "'messageIds' must be an array");
		return false;
	}
	n = cJSON_GetArraySize(arr);
	if (n < 1 || n > lim->max_ids) {
		proto_fail(err, "invalid_field", "'messageIds' must hold 1..%d "
			  "ids", lim->max_ids);
		return false;
	}
	req->ids = calloc((size_t)n, sizeof(*req->ids));
	if (req->ids == NULL) {
		proto_fail(err, "internal", "out of memory");
		return false;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) ||
		    !valid_id(it->valuestring, strlen(it->valuestring))) {
			proto_fail(err, "invalid_field", "'messageIds' item %d "
				  "is not a valid id", i);
			return false;
		}
		req->ids[i++] = it->valuestring;
	}
	req->nids = n;
	return true;
}

static bool parse_get(cJSON *root, struct request *req,
		      struct proto_error *err)
{
	cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "limit");

	if (!get_id(root, "conversationId", true, &req->conversation_id, err))
		return false;
	switch (get_string(root, "before", &req->before)) {
	case FIELD_ABSENT:
		break;
	case FIELD_BAD:
		proto_fail(err, "invalid_field", "'before' must be a string");
		return false;
	case FIELD_OK:
		if (!valid_id(req->before, strlen(req->before)) &&
		    !valid_rfc3339(req->before)) {
			proto_fail(err, "invalid_field", "'before' must be a "
				  "messageId or an RFC 3339 time");
			return false;
		}
	}
	req->limit = HISTORY_LIMIT_DEFAULT;
	if (lim != NULL && !cJSON_IsNull(lim)) {
		double v = cJSON_IsNumber(lim) ? lim->valuedouble : 0;
		/* Range first: casting an out-of-range double is undefined. */
		if (!cJSON_IsNumber(lim) || !(v >= 1 && v <= HISTORY_LIMIT_MAX) ||
		    v != (double)(int)v) {
			proto_fail(err, "invalid_field", "'limit' must be a "
				  "whole number from 1 to %d",
				  HISTORY_LIMIT_MAX);
			return false;
		}
		req->limit = (int)v;
	}
	return true;
}

static bool parse_typing(cJSON *root, struct request *req,
			 struct proto_error *err)
{
	cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "isTyping");

	/* Without recipientId: to a group, named by conversationId. */
	if (!get_id(root, "recipientId", false, &req->recipient_id, err) ||
	    !get_id(root, "conversationId", false, &req->conversation_id, err))
		return false;
	if (req->recipient_id == NULL && req->conversation_id == NULL) {
		proto_fail(err, "missing_field", "'recipientId' is required");
		return false;
	}
	req->is_typing = true;
	if (t != NULL && !cJSON_IsNull(t)) {
		if (!cJSON_IsBool(t)) {
			proto_fail(err, "invalid_field", "'isTyping' must be "
				  "true or false");
			return false;
		}
		req->is_typing = cJSON_IsTrue(t);
	}
	return true;
}

/* members: an array of distinct ids, min..lim->max_members of them (more
 * is too_large); absent or null is FIELD_ABSENT for the caller. */
static enum field_result parse_members(cJSON *root, const struct limits *lim,
				       int min, struct request *req,
				       struct proto_error *err)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "members");
	cJSON *it;
	int n, i = 0;

	if (arr == NULL || cJSON_IsNull(arr))
		return FIELD_ABSENT;
	if (!cJSON_IsArray(arr)) {
		proto_fail(err, "invalid_field", "'members' must be an array");
		return FIELD_BAD;
	}
	n = cJSON_GetArraySize(arr);
	if (n > lim->max_members) {
		proto_fail(err, "too_large", "'members' holds more than %d ids "
			  "(the most a group may have)", lim->max_members);
		return FIELD_BAD;
	}
	if (n < min) {
		proto_fail(err, "invalid_field", "'members' must hold at least "
			  "%d id", min);
		return FIELD_BAD;
	}
	req->members = n > 0 ? calloc((size_t)n, sizeof(*req->members)) : NULL;
	if (n > 0 && req->members == NULL) {
		proto_fail(err, "internal", "out of memory");
		return FIELD_BAD;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) ||
		    !valid_id(it->valuestring, strlen(it->valuestring))) {
			proto_fail(err, "invalid_field", "'members' item %d is "
				  "not a valid id", i);
			return FIELD_BAD;
		}
		/* At most max_members ids: the quadratic check is cheap. */
		for (int k = 0; k < i; k++) {
			if (strcmp(req->members[k], it->valuestring) == 0) {
				proto_fail(err, "invalid_field", "'members' "
					  "lists item %d twice", k);
				return FIELD_BAD;
			}
		}
		req->members[i++] = it->valuestring;
	}
	req->nmembers = n;
	return FIELD_OK;
}

static bool parse_group(cJSON *root, const struct limits *lim,
			struct request *req, struct proto_error *err)
{
	switch (req->action) {
	case ACT_CREATE_GROUP:
		return get_id(root, "conversationId", false,
			      &req->conversation_id, err) &&
		       get_text(root, "title", false, NAME_MAX_BYTES,
				"invalid_field", &req->title, err) &&
		       parse_members(root, lim, 0, req, err) != FIELD_BAD;
	case ACT_ADD_MEMBERS:
	case ACT_REMOVE_MEMBERS:
		if (!get_id(root, "conversationId", true, &req->conversation_id,
			    err))
			return false;
		switch (parse_members(root, lim, 1, req, err)) {
		case FIELD_ABSENT:
			proto_fail(err, "missing_field", "'members' is required");
			return false;
		case FIELD_BAD:
			return false;
		case FIELD_OK:
			return true;
		}
		return false;
	case ACT_LEAVE_GROUP:
		return get_id(root, "conversationId", true,
			      &req->conversation_id, err);
	case ACT_GET_RECEIPTS:
		return get_id(root, "messageId", true, &req->message_id, err) &&
		       get_id(root, "after", false, &req->after, err);
	case ACT_SEND:
	case ACT_ACK:
	case ACT_MARKREAD:
	case ACT_DELETE:
	case ACT_GET:
	case ACT_TYPING:
	case ACT_PING:
		break;
	}
	return false;
}

bool proto_parse(const char *frame, size_t len, const struct limits *lim,
		 struct request *req, struct proto_error *err)
{
	const char *name = NULL, *mid = NULL, *end = NULL;
	bool ok = false, nul = false;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (!prescan(frame, len, lim->max_depth, &nul, err))
		return false;
	req->root = cJSON_ParseWithLengthOpts(frame, len, &end, false);
	if (req->root == NULL) {
		proto_fail(err, "invalid_json", "frame is not valid JSON");
		return false;
	}
	while (end < frame + len && (*end == ' ' || *end == '\t' ||
				     *end == '\n' || *end == '\r'))
		end++;
	if (end != frame + len) {
		proto_fail(err, "invalid_json", "text after the JSON object");
		goto out;
	}
	if (!cJSON_IsObject(req->root)) {
		proto_fail(err, "invalid_json", "frame must be a JSON object");
		goto out;
	}
	if (get_string(req->root, "messageId", &mid) == FIELD_OK &&
	    strlen(mid) <= ID_MAX)
		snprintf(err->message_id, sizeof(err->message_id), "%s", mid);
	switch (get_string(req->root, "action", &name)) {
	case FIELD_ABSENT:
		proto_fail(err, "missing_field", "'action' is required");
		goto out;
	case FIELD_BAD:
		proto_fail(err, "invalid_field", "'action' must be a string");
		goto out;
	case FIELD_OK:
		break;
	}
	if (*name == '\0') {
		proto_fail(err, "invalid_field", "'action' must not be empty");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_LEN(action_names); i++) {
		if (strcmp(name, action_names[i]) == 0) {
			req->action = (enum action)i;
			err->action = action_names[i];
			break;
		}
	}
	if (err->action == NULL) {
		proto_fail(err, "unknown_action", "unknown action");
		goto out;
	}
	if (nul) {
		proto_fail(err, "invalid_field", "strings must not contain U+0000");
		goto out;
	}
	switch (req->action) {
	case ACT_SEND:
		ok = get_id(req->root, "messageId", false, &req->message_id,
			    err) && parse_send(req->root, lim, req, err);
		break;
	case ACT_ACK:
	case ACT_MARKREAD:
		ok = parse_ids(req->root, lim, req, err);
		break;
	case ACT_DELETE:
		ok = get_id(req->root, "messageId", true, &req->message_id,
			    err);
		break;
	case ACT_GET:
		ok = parse_get(req->root, req, err);
		break;
	case ACT_TYPING:
		ok = parse_typing(req->root, req, err);
		break;
	case ACT_PING:
		ok = true;
		break;
	case ACT_CREATE_GROUP:
	case ACT_ADD_MEMBERS:
	case ACT_REMOVE_MEMBERS:
	case ACT_LEAVE_GROUP:
	case ACT_GET_RECEIPTS:
		ok = parse_group(req->root, lim, req, err);
		break;
	}
out:
	if (!ok)
		request_free(req);
	return ok;
}

void request_free(struct request *req)
{
	if (req == NULL)
		return;
	cJSON_Delete(req->root);
	free(req->ids);
	free(req->members);
	req->root = NULL;
	req->ids = NULL;
	req->members = NULL;
}
