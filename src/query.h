/* query.h - form-decoding of the WebSocket URL's query string.
 *
 * The query string comes from the client through Pushpin unchanged: it is
 * hostile input. Percent escapes are decoded, '+' is a space, and a
 * malformed escape anywhere makes the whole string invalid.
 */
#ifndef PARLEY_QUERY_H
#define PARLEY_QUERY_H

enum query_result { QUERY_FOUND, QUERY_ABSENT, QUERY_MALFORMED,
		    QUERY_DUPLICATE };

/* Looks up `key`; on QUERY_FOUND stores the decoded value (NUL-terminated,
 * possibly with embedded NULs, length in *outlen) in out, which holds
 * outsize bytes; a longer value is truncated and *outlen says the real
 * length. The whole string is checked for malformed escapes. */
enum query_result query_get(const char *qs, const char *key, char *out,
			    size_t outsize, size_t *outlen);

/* Decodes src[0..len) into dst (at least len+1 bytes); false on a
 * malformed escape. */
bool form_decode(const char *src, size_t len, char *dst, size_t *dstlen);

/* True when s has a '%' not followed by two hex digits. Pushpin and
 * lighttpd both re-encode a malformed escape ("%zz" arrives as "%25zz"),
 * so after decoding this is the only trace of one; ids therefore may not
 * contain such a '%' (README, "Connecting"). */
bool stray_percent(const char *s, size_t len);

#endif
