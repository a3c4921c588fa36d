/* query.h - form-decoding of the WebSocket URL's query string.
 *
 * The query string comes from the client through Pushpin unchanged: it is
 * hostile input. Percent escapes are decoded and '+' is a space; a '%'
 * not followed by two hex digits stands for itself (README,
 * "Connecting": every printable byte, '%' included, may be in an id, and
 * Pushpin and lighttpd both rewrite a malformed "%zz" into "%25zz"
 * before we see it, so refusing one could only refuse valid ids). A
 * parameter never changes how another one reads.
 */
#ifndef PARLEY_QUERY_H
#define PARLEY_QUERY_H

enum query_result { QUERY_FOUND, QUERY_ABSENT, QUERY_NO_MEMORY,
		    QUERY_DUPLICATE };

/* Looks up `key`; on QUERY_FOUND stores the decoded value (NUL-terminated,
 * possibly with embedded NULs, length in *outlen) in out, which holds
 * outsize bytes; a longer value is truncated and *outlen says the real
 * length. */
enum query_result query_get(const char *qs, const char *key, char *out,
			    size_t outsize, size_t *outlen);

/* Decodes src[0..len) into dst (at least len+1 bytes). */
void form_decode(const char *src, size_t len, char *dst, size_t *dstlen);

#endif
