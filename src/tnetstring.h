/* tnetstring.h - the little of tnetstrings that Pushpin's command
 * socket (ZRPC) needs: building a request, reading a list of strings
 * back. Pure code. Format: LENGTH ':' DATA TYPE, with TYPE one of
 * ',' (bytes) '#' (integer) '!' (boolean) '~' (null) ']' (list) '}' (dict).
 */
#ifndef PARLEY_TNETSTRING_H
#define PARLEY_TNETSTRING_H

#include "buf.h"

/* Appends a bytes item. */
bool tns_bytes(struct buf *b, const char *s, size_t len);
/* Wraps out->data[start..] (already appended items) as a list or dict. */
bool tns_close(struct buf *b, size_t start, char type);

struct tns_item {
	char type;        /* ',' '#' '!' '~' ']' '}' */
	const char *data; /* points into the parsed text */
	size_t len;
};

/* Reads one item at the start of s[0..len); *used is its whole size.
 * false when malformed. */
bool tns_parse(const char *s, size_t len, struct tns_item *it, size_t *used);
/* Finds key in a dict item; false when absent or malformed. */
bool tns_dict_get(const struct tns_item *dict, const char *key,
		  struct tns_item *out);

#endif
