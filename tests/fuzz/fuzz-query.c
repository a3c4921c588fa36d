/* fuzz-query.c - libFuzzer target for the query-string decoding of
 * query.h (the WebSocket URL's query string is the client's).
 *
 * The input, cut at its first NUL, is the query string: query_get looks
 * up a few keys with output buffers of several exact sizes (a write past
 * one is an ASan report), and every size must give the same answer. The
 * whole input also goes through form_decode, which never writes more than
 * it read and never fails (a stray '%' stands for itself). */
#include "common.h"
#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define die(what) (fprintf(stderr, "fuzz-query: %s\n", what), abort())

static const char *const keys[] = { "userId", "token", "", "a", "user Id" };
static const size_t sizes[] = { 0, 1, 8, ID_MAX + 1 };

static void lookup(const char *qs, size_t qslen, const char *key)
{
	enum query_result first = QUERY_ABSENT;
	size_t first_len = 0;

	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		size_t outsize = sizes[i], outlen = (size_t)-1;
		char *out = malloc(outsize > 0 ? outsize : 1);
		enum query_result r;

		if (out == NULL)
			return;
		r = query_get(qs, key, out, outsize, &outlen);
		if (r == QUERY_FOUND) {
			size_t n = outlen < outsize ? outlen : outsize - 1;
			if (outlen > qslen)
				die("value longer than the query string");
			if (outsize > 0 && out[n] != '\0')
				die("value not NUL-terminated");
		}
		if (i == 0) {
			first = r;
			first_len = outlen;
		} else if (r != first ||
			   (r == QUERY_FOUND && outlen != first_len)) {
			die("the answer depends on the output size");
		}
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *qs = malloc(size + 1), *src = malloc(size > 0 ? size : 1);
	char *dst = malloc(size + 1);
	size_t dlen = (size_t)-1;

	if (qs == NULL || src == NULL || dst == NULL)
		goto out;
	if (size > 0)
		memcpy(qs, data, size);
	qs[size] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		lookup(qs, strlen(qs), keys[i]);

	/* form_decode writes at most len + 1 bytes: dst is exactly that. */
	if (size > 0)
		memcpy(src, data, size);
	form_decode(src, size, dst, &dlen);
	if (dlen > size || dst[dlen] != '\0')
		die("form_decode result too long or not NUL-terminated");
out:
	free(qs);
	free(src);
	free(dst);
	return 0;
}
