/* fuzz-protocol.c - libFuzzer target for the client frames of protocol.h
 * (every WebSocket text frame is the client's).
 *
 * The input is one frame, parsed by proto_parse from an exact-size heap
 * copy without a terminating NUL, with the limits of the default settings
 * (settings_defaults, as parley-ws uses them). An accepted request must
 * keep the promises of protocol.h (ids valid, texts within their limits,
 * valid UTF-8); a refused one must have an error code and message and no
 * request left to free. The frame buffer is poisoned and freed before the
 * request is checked: the request owns its strings. */
#include "common.h"
#include "protocol.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define die(what) (fprintf(stderr, "fuzz-protocol: %s\n", what), abort())

static struct limits lim;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct settings cfg;

	settings_defaults(&cfg);
	lim.max_content_bytes = (size_t)cfg.max_content_bytes;
	lim.max_ids = (int)cfg.max_ids_per_frame;
	lim.max_depth = (int)cfg.max_json_depth;
	lim.max_members = (int)cfg.max_group_members;
	return 0;
}

static void check_id(const char *s, bool required)
{
	if (s == NULL ? required : !valid_id(s, strlen(s)))
		die("an accepted id is missing or invalid");
}

static void check_text(const char *s, size_t max, bool required)
{
	if (s == NULL) {
		if (required)
			die("a required text is missing");
		return;
	}
	if (strlen(s) > max || !valid_utf8(s, strlen(s)))
		die("an accepted text is too long or not UTF-8");
	if (required && *s == '\0')
		die("a required text is empty");
}

static void check_request(const struct request *req)
{
	switch (req->action) {
	case ACT_SEND:
		/* NULL: to a group, which only the database can tell. */
		check_id(req->recipient_id, false);
		check_id(req->conversation_id, true);
		check_id(req->message_id, false);
		check_id(req->sender_id, false);
		check_id(req->reply_to_message_id, false);
		check_text(req->content, lim.max_content_bytes, true);
		check_text(req->reply_to_content, lim.max_content_bytes, false);
		check_text(req->sender_name, NAME_MAX_BYTES, false);
		check_text(req->reply_to_sender_name, NAME_MAX_BYTES, false);
		if (req->timestamp != NULL && !valid_rfc3339(req->timestamp))
			die("an accepted timestamp is not RFC 3339");
		break;
	case ACT_ACK:
	case ACT_MARKREAD:
		if (req->nids < 1 || req->nids > lim.max_ids || req->ids == NULL)
			die("accepted id list of a bad size");
		for (int i = 0; i < req->nids; i++)
			check_id(req->ids[i], true);
		break;
	case ACT_DELETE:
		check_id(req->message_id, true);
		break;
	case ACT_GET:
		check_id(req->conversation_id, true);
		if (req->limit < 1 || req->limit > HISTORY_LIMIT_MAX)
			die("accepted limit out of range");
		if (req->before != NULL &&
		    !valid_id(req->before, strlen(req->before)) &&
		    !valid_rfc3339(req->before))
			die("accepted 'before' is neither an id nor a time");
		break;
	case ACT_TYPING:
		check_id(req->recipient_id, false);
		check_id(req->conversation_id, req->recipient_id == NULL);
		break;
	case ACT_CREATE_GROUP:
	case ACT_ADD_MEMBERS:
	case ACT_REMOVE_MEMBERS:
		check_id(req->conversation_id, req->action != ACT_CREATE_GROUP);
		check_text(req->title, NAME_MAX_BYTES, false);
		if (req->nmembers < (req->action == ACT_CREATE_GROUP ? 0 : 1) ||
		    req->nmembers > lim.max_members ||
		    (req->nmembers > 0 && req->members == NULL))
			die("accepted members list of a bad size");
		for (int i = 0; i < req->nmembers; i++) {
			check_id(req->members[i], true);
			for (int k = 0; k < i; k++)
				if (strcmp(req->members[k], req->members[i]) == 0)
					die("an accepted members list repeats an id");
		}
		break;
	case ACT_LEAVE_GROUP:
		check_id(req->conversation_id, true);
		break;
	case ACT_GET_RECEIPTS:
		check_id(req->message_id, true);
		check_id(req->after, false);
		break;
	case ACT_PING:
		break;
	default:
		die("accepted action out of range");
	}
	if (action_name(req->action) == NULL)
		die("action without a name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *frame = malloc(size > 0 ? size : 1);
	struct request req;
	struct proto_error err;
	bool ok;

	if (frame == NULL)
		return 0;
	if (size > 0)
		memcpy(frame, data, size);
	ok = proto_parse(frame, size, &lim, &req, &err);
	memset(frame, 'Z', size);
	free(frame);
	if (ok) {
		check_request(&req);
	} else {
		if (err.code == NULL || *err.code == '\0' ||
		    memchr(err.message, '\0', sizeof(err.message)) == NULL ||
		    err.message[0] == '\0')
			die("refused without an error code and message");
		if (memchr(err.message_id, '\0', sizeof(err.message_id)) == NULL)
			die("error messageId not NUL-terminated");
		if (req.root != NULL || req.ids != NULL)
			die("a refused request still owns memory");
	}
	request_free(&req);
	request_free(&req); /* takes a freed request again */
	return 0;
}
