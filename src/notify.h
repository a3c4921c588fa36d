/* notify.h - publishes as PostgreSQL NOTIFY, for bridges that hold no
 * Pushpin (parley-websocketd; README, "websocketd").
 *
 * publish_spec's entry `postgres:` makes the publisher (publish.c) send
 * every publish also as pg_notify on the workers' own database
 * connection, after the COMMIT of what it announces (a publish is never
 * made inside an open transaction). A parley-websocketd process LISTENs
 * for the channels its connection subscribes to.
 *
 * NOTIFY channel: a Parley channel ("u:USER", "c:CONN") is any printable
 * ASCII up to 130 bytes, a NOTIFY channel an identifier of at most 63:
 * the NOTIFY channel is "parley_" and 32 hex digits, the first 16 bytes
 * of the channel's SHA-256. The payload names the channel again, and a
 * receiver checks it (two channels may share a hash: one would then
 * see the other's notifications and drop them).
 *
 * Payload, text, one header line and a body:
 *
 *   P1 KIND CHANNEL SKIP NONCE PART/PARTS\n BODY
 *
 *   KIND   m: BODY is (a piece of) a text message for the client;
 *          c: close the connection, BODY the close code ("0": none)
 *   SKIP   "-", or "=" and the connection id the publish skips
 *   NONCE  16 hex digits, one publish's (its parts share it)
 *   PART/PARTS  1-based; PARTS at most NOTIFY_PARTS_MAX
 *
 * A NOTIFY payload must be shorter than 8000 bytes and a message event
 * may be far larger (64 KiB of content, JSON-escaped, and a group
 * event's member list): a publish is cut into parts of at most
 * NOTIFY_CHUNK bytes of body (at UTF-8 character boundaries: a payload
 * is text in the database's encoding), sent by one statement, so
 * they are committed, and delivered, together and in order. A receiver
 * joins them (struct notify_join) and acts on the whole only.
 *
 * Pure code.
 */
#ifndef PARLEY_NOTIFY_H
#define PARLEY_NOTIFY_H

#include "common.h"

/* The connection ids parley-websocketd makes ("wsd-" + 32 hex digits):
 * Pushpin never holds them, so parley-expire --reconcile and
 * parley-admin do not ask it about them. */
#define WSD_CONN_PREFIX "wsd-"
bool conn_is_websocketd(const char *conn_id);

#define NOTIFY_NAME_MAX 40   /* "parley_" + 32 hex + NUL */
#define NOTIFY_CHUNK 7000    /* body bytes of one part, at most */
#define NOTIFY_PARTS_MAX 256 /* 1.75 MB: any event the handlers make */

/* The NOTIFY channel of a Parley channel (NOTIFY_NAME_MAX bytes). */
void notify_name(char out[NOTIFY_NAME_MAX], const char *channel);

enum notify_kind { NOTIFY_MESSAGE = 'm', NOTIFY_CLOSE = 'c' };

/* The payloads of one publish: n malloc'd strings in part[]. */
struct notify_parts {
	char **part;
	int n;
};

/* Cuts a publish into payloads. body: the message (KIND m) or the close
 * code in decimal (c); skip_conn may be NULL; nonce: 16 hex digits.
 * False when the body needs more than NOTIFY_PARTS_MAX parts, the
 * channel or skip is not printable ASCII without spaces, or out of
 * memory (out is then empty). */
bool notify_encode(enum notify_kind kind, const char *channel,
		   const char *skip_conn, const char *nonce, const char *body,
		   size_t len, struct notify_parts *out) MUST_CHECK;
void notify_parts_free(struct notify_parts *p);

/* One payload's header; the pointers point into the payload (sized
 * copies in the fields). */
struct notify_header {
	enum notify_kind kind;
	char channel[ID_MAX + 8];
	char skip[ID_MAX + 1]; /* "" when none */
	char nonce[17];
	int part, parts;
	const char *body;
	size_t len;
};

/* Parses a payload; false when it is not one. */
bool notify_decode(const char *payload, size_t len,
		   struct notify_header *h) MUST_CHECK;

/* Joining the parts of publishes, a few at once (a publish's parts
 * arrive together and in order; one out of order drops its publish). */
#define NOTIFY_JOIN_SLOTS 4
struct notify_join {
	struct {
		char nonce[17];
		int next;   /* the part expected next; 0: slot free */
		int parts;
		unsigned long age; /* for reuse: the oldest goes */
		char *data;
		size_t len;
	} slot[NOTIFY_JOIN_SLOTS];
	unsigned long clock;
};

void notify_join_init(struct notify_join *j);
void notify_join_free(struct notify_join *j);
/* Adds a decoded part. Returns 1 with the whole body in *body (malloc'd,
 * NUL-terminated; *len bytes) when h was its publish's last part, 0 when
 * more are to come, -1 when it was dropped (out of order, out of
 * memory). A single-part publish returns 1 at once. */
int notify_join_add(struct notify_join *j, const struct notify_header *h,
		    char **body, size_t *len) MUST_CHECK;

#endif
