/* protocol.h - the client-to-server frames of the README's "Frames: client to
 * server".
 *
 * proto_parse() turns one WebSocket text frame (hostile input) into a
 * validated request, or into the error event the client gets: the code
 * of "Events: server to client", a human message, and the action and messageId when the
 * frame named them. Pure code: no database, no network.
 */
#ifndef PARLEY_PROTOCOL_H
#define PARLEY_PROTOCOL_H

#include <cjson/cJSON.h>

enum action { ACT_SEND, ACT_ACK, ACT_MARKREAD, ACT_DELETE, ACT_GET,
	      ACT_TYPING, ACT_PING, ACT_CREATE_GROUP, ACT_ADD_MEMBERS,
	      ACT_REMOVE_MEMBERS, ACT_LEAVE_GROUP, ACT_GET_RECEIPTS };

struct limits {
	size_t max_content_bytes; /* content and replyToContent */
	int max_ids;              /* ids in one ack / markRead */
	int max_depth;            /* JSON nesting */
	int max_members;          /* members of a group, its creator included */
};

#define NAME_MAX_BYTES 256 /* senderName, replyToSenderName */
#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX 200

struct request {
	enum action action;
	cJSON *root; /* owns every string below */
	/* sendMessage */
	const char *message_id; /* also deleteMessage; NULL: absent */
	const char *conversation_id; /* also getMessages, typing */
	const char *sender_name;
	/* NULL: absent, allowed by the parser for a group's conversation
	 * (handlers.c tells missing_field from a group once it knows) */
	const char *recipient_id;    /* also typing */
	const char *content;
	const char *timestamp;
	const char *reply_to_message_id;
	const char *reply_to_content;
	const char *reply_to_sender_name;
	const char *sender_id;
	/* ack, markRead */
	const char **ids;
	int nids;
	/* getMessages */
	const char *before;
	int limit;
	/* typing */
	bool is_typing;
	/* createGroup (conversation_id may be NULL there), addMembers,
	 * removeMembers, leaveGroup: conversation_id */
	const char *title;    /* NULL: absent */
	const char **members; /* distinct ids; createGroup: may be none */
	int nmembers;
	/* getReceipts: message_id, and the page's start (NULL: first) */
	const char *after;
};

struct proto_error {
	const char *code;   /* invalid_json, missing_field, ... */
	char message[192];
	const char *action; /* NULL when unknown */
	char message_id[ID_MAX + 1];
};

bool proto_parse(const char *frame, size_t len, const struct limits *lim,
		 struct request *req, struct proto_error *err) MUST_CHECK;
void request_free(struct request *req);

const char *action_name(enum action a);

/* Checks shared with the other parts (query strings, tests). */
bool valid_id(const char *s, size_t len);
bool valid_rfc3339(const char *s);
bool valid_utf8(const char *s, size_t len);

#endif
