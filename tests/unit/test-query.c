/* test-query.c - form-decoding of the WebSocket URL's query string
 * (query.h; README, "Connecting"). */
#include "common.h"
#include "query.h"
#include "tap.h"

static const char *result_name(enum query_result r)
{
	switch (r) {
	case QUERY_FOUND: return "QUERY_FOUND";
	case QUERY_ABSENT: return "QUERY_ABSENT";
	case QUERY_NO_MEMORY: return "QUERY_NO_MEMORY";
	case QUERY_DUPLICATE: return "QUERY_DUPLICATE";
	}
	return "?";
}

static void is_result(enum query_result got, enum query_result exp,
		      const char *qs, const char *key)
{
	if (!is_int(got, exp, "query_get(\"%s\", \"%s\") is %s", qs ? qs : "NULL",
		    key, result_name(exp)))
		diag("got %s", result_name(got));
}

/* Expects QUERY_FOUND with exactly the bytes exp[0..explen). */
static void found(const char *qs, const char *key, const char *exp,
		  size_t explen)
{
	char out[256];
	size_t outlen = 9999;

	memset(out, 'X', sizeof(out));
	is_result(query_get(qs, key, out, sizeof(out), &outlen), QUERY_FOUND,
		  qs, key);
	is_mem(out, outlen, exp, explen, "  value of %s in \"%s\"", key, qs);
	is_int(out[explen], '\0', "  value of %s in \"%s\" is NUL-terminated",
	       key, qs);
}

#define FOUND(qs, key, lit) found((qs), (key), (lit), sizeof(lit) - 1)

static void result(const char *qs, const char *key, enum query_result exp)
{
	char out[256];
	size_t outlen = 0;

	is_result(query_get(qs, key, out, sizeof(out), &outlen), exp, qs, key);
}

static void test_found(void)
{
	FOUND("userId=abc", "userId", "abc");
	FOUND("a=1&userId=abc&b=2", "userId", "abc");
	FOUND("a=1&userId=abc", "userId", "abc");
	FOUND("userId=abc&a=1", "a", "1");
	FOUND("userId=", "userId", "");
	FOUND("userId=&x=1", "userId", "");
	FOUND("userId=a+b", "userId", "a b");
	FOUND("userId=a%20b", "userId", "a b");
	FOUND("userId=a%2Bb", "userId", "a+b");
	FOUND("userId=a%2bb", "userId", "a+b");
	FOUND("userId=%41%42%43", "userId", "ABC");
	FOUND("userId=a%00b", "userId", "a\0b");
	FOUND("userId=%00", "userId", "\0");
	FOUND("userId=a%3Db%26c", "userId", "a=b&c");
	FOUND("userId=a=b", "userId", "a=b");
	FOUND("userId=%E2%82%AC", "userId", "\xe2\x82\xac");
	FOUND("userId=test-user-1", "userId", "test-user-1");
	/* Keys are decoded too. */
	FOUND("user%49d=k", "userId", "k");
	FOUND("my+key=v", "my key", "v");
	/* A key that is a prefix or an extension of another. */
	FOUND("userIdx=1&userId=2", "userId", "2");
	FOUND("userId=2&userIdx=1", "userId", "2");
	FOUND("xuserId=1&userId=2", "userId", "2");
	FOUND("user=1&userId=2", "userId", "2");
	FOUND("userId=2&user=1", "user", "1");
	/* Empty segments are skipped. */
	FOUND("&&userId=abc&&", "userId", "abc");
	/* A key without '=' has an empty value. */
	FOUND("userId", "userId", "");
	FOUND("a=1&userId&b=2", "userId", "");
	/* Case matters. */
	result("userid=abc", "userId", QUERY_ABSENT);
}

static void test_absent(void)
{
	result("", "userId", QUERY_ABSENT);
	result(NULL, "userId", QUERY_ABSENT);
	result("a=1&b=2", "userId", QUERY_ABSENT);
	result("userIdx=1", "userId", QUERY_ABSENT);
	result("xuserId=1", "userId", QUERY_ABSENT);
	result("user=1", "userId", QUERY_ABSENT);
	result("a=userId", "userId", QUERY_ABSENT);
	result("&", "userId", QUERY_ABSENT);
	result("=", "userId", QUERY_ABSENT);
}

static void test_malformed(void)
{
	/* A '%' without two hex digits stands for itself (query.h). */
	FOUND("userId=%", "userId", "%");
	FOUND("userId=%4", "userId", "%4");
	FOUND("userId=%zz", "userId", "%zz");
	FOUND("userId=%4z", "userId", "%4z");
	FOUND("userId=%z4", "userId", "%z4");
	FOUND("userId=ab%", "userId", "ab%");
	FOUND("userId=ab%4", "userId", "ab%4");
	FOUND("userId=%%41", "userId", "%A");
	FOUND("userId=%-1", "userId", "%-1");
	FOUND("userId=% 41", "userId", "% 41");
	FOUND("userId=%4&x=1", "userId", "%4");
	FOUND("userId=%&x=1", "userId", "%");
	FOUND("userId=%25zz", "userId", "%zz");
	/* A malformed parameter elsewhere changes nothing. */
	FOUND("x=%zz&userId=abc", "userId", "abc");
	FOUND("userId=abc&x=%zz", "userId", "abc");
	FOUND("userId=abc&x=%4", "userId", "abc");
	FOUND("userId=abc&x=%", "userId", "abc");
	FOUND("userId=abc&%zz=1", "userId", "abc");
	FOUND("userId=abc&%", "userId", "abc");
	result("%=abc", "userId", QUERY_ABSENT);
	result("a=%zz", "userId", QUERY_ABSENT);
	/* Well-formed escapes at the very end are decoded. */
	FOUND("userId=ab%41", "userId", "abA");
	FOUND("x=%41&userId=b", "userId", "b");
	/* Every printable byte, as a client would encode it. */
	FOUND("userId=s%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D"
	      "%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~", "userId",
	      "s!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
}

static void test_duplicate(void)
{
	result("userId=a&userId=b", "userId", QUERY_DUPLICATE);
	result("userId=a&userId=a", "userId", QUERY_DUPLICATE);
	result("userId=a&x=1&userId=", "userId", QUERY_DUPLICATE);
	result("userId=a&userId", "userId", QUERY_DUPLICATE);
	result("userId=a&user%49d=b", "userId", QUERY_DUPLICATE);
	result("userId=a&userId=b&userId=c", "userId", QUERY_DUPLICATE);
	/* Malformed wins over duplicate: the string is invalid as a whole. */
	result("userId=a&userId=b&x=%", "userId", QUERY_DUPLICATE);
	/* Other keys may repeat. */
	FOUND("x=1&x=2&userId=a", "userId", "a");
}

static void test_truncation(void)
{
	char out[8];
	size_t outlen = 0;
	char guard[16];

	memset(out, 'X', sizeof(out));
	is_result(query_get("userId=0123456789abcdef", "userId", out,
			    sizeof(out), &outlen), QUERY_FOUND,
		  "userId=0123456789abcdef", "userId");
	is_int(outlen, 16, "truncated value: outlen is the real length");
	is_str(out, "0123456", "truncated value: first outsize-1 bytes, NUL-"
			       "terminated");

	memset(out, 'X', sizeof(out));
	is_result(query_get("userId=0123456", "userId", out, sizeof(out),
			    &outlen), QUERY_FOUND, "userId=0123456", "userId");
	is_int(outlen, 7, "value of exactly outsize-1 bytes: outlen");
	is_str(out, "0123456", "value of exactly outsize-1 bytes: whole");

	memset(out, 'X', sizeof(out));
	is_result(query_get("userId=01234567", "userId", out, sizeof(out),
			    &outlen), QUERY_FOUND, "userId=01234567", "userId");
	is_int(outlen, 8, "value of exactly outsize bytes: outlen");
	is_str(out, "0123456", "value of exactly outsize bytes: truncated");

	/* Truncation counts decoded bytes, not encoded ones. */
	memset(out, 'X', sizeof(out));
	is_result(query_get("userId=%41%42%43%44%45%46%47%48", "userId", out,
			    sizeof(out), &outlen), QUERY_FOUND,
		  "userId=%41%42...%48", "userId");
	is_int(outlen, 8, "escaped value: outlen counts decoded bytes");
	is_str(out, "ABCDEFG", "escaped value: truncated after decoding");

	/* outsize 1: only the terminator fits. */
	memset(out, 'X', sizeof(out));
	is_result(query_get("userId=abc", "userId", out, 1, &outlen),
		  QUERY_FOUND, "userId=abc", "userId");
	is_int(outlen, 3, "outsize 1: outlen is the real length");
	is_int(out[0], '\0', "outsize 1: empty string");
	is_int(out[1], 'X', "outsize 1: nothing written past out[0]");

	/* outsize 0: nothing may be written. */
	memset(guard, 'X', sizeof(guard));
	outlen = 0;
	is_result(query_get("userId=abc", "userId", guard, 0, &outlen),
		  QUERY_FOUND, "userId=abc", "userId");
	is_int(outlen, 3, "outsize 0: outlen is the real length");
	is_int(guard[0], 'X', "outsize 0: out[0] untouched");
	is_int(guard[8], 'X', "outsize 0: guard bytes further away intact");
}

static void test_form_decode(void)
{
	char dst[64];
	size_t n = 99;

	form_decode("a+b%41", 6, dst, &n);
	is_mem(dst, n, "a bA", 4, "form_decode a+b%%41 gives \"a bA\"");
	is_int(dst[n], '\0', "form_decode NUL-terminates");
	form_decode("", 0, dst, &n);
	is_int(n, 0, "form_decode empty: length 0");
	is_int(dst[0], '\0', "form_decode empty: NUL-terminated");
	form_decode("%41%4", 3, dst, &n);
	is_mem(dst, n, "A", 1, "form_decode reads only len bytes (%%41 of "
	       "%%41%%4)");
	form_decode("%41%4", 5, dst, &n);
	is_mem(dst, n, "A%4", 3, "form_decode %%41%%4: the stray '%%' stays");
	form_decode("%4A", 2, dst, &n);
	is_mem(dst, n, "%4", 2, "form_decode: an escape cut by len stays "
	       "literal (%%4 of %%4A)");
	form_decode("%", 1, dst, &n);
	is_mem(dst, n, "%", 1, "form_decode %%: itself");
	form_decode("%g0", 3, dst, &n);
	is_mem(dst, n, "%g0", 3, "form_decode %%g0: itself");
	form_decode("%fF%Ff", 6, dst, &n);
	is_mem(dst, n, "\xff\xff", 2, "form_decode mixed-case hex value");
	form_decode("%00%00", 6, dst, &n);
	is_mem(dst, n, "\0\0", 2, "form_decode %%00%%00 keeps both NULs");
	form_decode("%2541", 5, dst, &n);
	is_mem(dst, n, "%41", 3, "form_decode %%2541 is \"%%41\", decoded once");
}

int main(void)
{
	test_found();
	test_absent();
	test_malformed();
	test_duplicate();
	test_truncation();
	test_form_decode();
	return done_testing();
}
