/* query.c - see query.h. */
#include "common.h"
#include "query.h"

void form_decode(const char *src, size_t len, char *dst, size_t *dstlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		int hi = i + 2 < len ? hex_value(src[i + 1]) : -1;
		int lo = i + 2 < len ? hex_value(src[i + 2]) : -1;
		if (c == '+') {
			dst[o++] = ' ';
		} else if (c == '%' && hi >= 0 && lo >= 0) {
			dst[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			dst[o++] = c; /* a '%' without two hex digits too */
		}
	}
	dst[o] = '\0';
	*dstlen = o;
}

enum query_result query_get(const char *qs, const char *key, char *out,
			    size_t outsize, size_t *outlen)
{
	enum query_result res = QUERY_ABSENT;
	const char *p = qs ? qs : "";
	size_t keylen = strlen(key);

	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *kend = eq ? eq : end;
		size_t klen = (size_t)(kend - p);
		size_t vlen = eq ? (size_t)(end - eq - 1) : 0;
		char *kbuf = malloc(klen + 1), *vbuf = malloc(vlen + 1);
		size_t kdl, vdl = 0;

		if (kbuf == NULL || vbuf == NULL) {
			free(kbuf);
			free(vbuf);
			return QUERY_NO_MEMORY;
		}
		form_decode(p, klen, kbuf, &kdl);
		vbuf[0] = '\0';
		if (eq != NULL)
			form_decode(eq + 1, vlen, vbuf, &vdl);
		if (kdl == keylen && memcmp(kbuf, key, keylen) == 0) {
			if (res == QUERY_FOUND)
				res = QUERY_DUPLICATE;
			else if (res == QUERY_ABSENT) {
				if (outsize > 0) {
					size_t n = vdl < outsize - 1 ? vdl
								     : outsize - 1;
					memcpy(out, vbuf, n);
					out[n] = '\0';
				}
				*outlen = vdl;
				res = QUERY_FOUND;
			}
		}
		free(kbuf);
		free(vbuf);
		p = amp ? amp + 1 : end;
	}
	return res;
}
