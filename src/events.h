/* events.h - the server-to-client events of the README's "Events: server to
 * client".
 *
 * Each builder returns one event as compact JSON (malloc'd; release it
 * with event_free(); NULL when out of memory). Pure code: no database,
 * no network; the rows come from store.h's structs.
 */
#ifndef PARLEY_EVENTS_H
#define PARLEY_EVENTS_H

#include "groupstore.h"
#include "store.h"

/* The largest event, as one WebSocket message to a client. Pushpin 1.36
 * with client_buffer_size=65536 silently drops an outgoing message over
 * 81,920 bytes (measured: no close, nothing logged), so every event stays
 * under this: a send whose message event could be larger is too_large,
 * and a history page is cut to fit. */
#define EVENT_MAX 80000

void event_free(char *json);

/* {"type":"message","data":{the original receive format}} */
char *event_message(const struct message *m);
/* The ack of a sendMessage. */
char *event_send_ack(const char *message_id, const char *status,
		     bool duplicate, const char *timestamp);
/* The ack of an ack or markRead: applied ids and skipped ones. */
char *event_receipts_ack(const char *action, const struct receipt_list *l);
char *event_delete_ack(const char *message_id);
/* A message's status changed (receipt or deletion); user_id (NULL: none)
 * names the group member whose receipt it is. */
char *event_status(const char *message_id, const char *conversation_id,
		   const char *status, bool is_deleted, const char *at,
		   const char *user_id);
/* The ack of createGroup, addMembers, removeMembers, leaveGroup. */
char *event_group_ack(const char *action, const char *conversation_id);
/* A membership change: the group as it is now, the change, who made it
 * and whom it concerns. */
char *event_group(const struct group_view *g, const char *change,
		  const char *by, const char *const *users, int nusers);
/* getReceipts' answer: as many of r's receipts as fit in `budget` bytes;
 * hasMore when some did not (or r->more). */
char *event_receipts(const char *message_id, const struct receipts_of *r,
		     size_t budget);
/* action and message_id may be NULL. */
char *event_error(const char *code, const char *message, const char *action,
		  const char *message_id);
char *event_typing(const char *sender_id, const char *conversation_id,
		   bool is_typing);
char *event_pong(void);
/* A history page of at most `budget` bytes: as many of l's messages as
 * fit, in order; *more becomes true when some did not. */
char *event_history(const char *conversation_id, const struct message_list *l,
		    size_t budget, bool *more);

/* Bytes a string takes inside a JSON string as events print it. */
size_t json_escaped_len(const char *s);

#endif
