/* test-apikeys.c - the HTTP API's key file (apikeys.h): parsing,
 * matching, the bearer header, and re-reading the file when it
 * changes. */
#include "common.h"
#include "apikeys.h"
#include "tap.h"

#include <unistd.h>

#define KEY_A "0123456789abcdef0123456789abcdef"
#define KEY_B "fedcba9876543210fedcba9876543210"

static bool match(const struct apikeys *k, const char *s)
{
	return apikeys_match(k, s, strlen(s));
}

static void test_parse(void)
{
	const char *text = "# comment\n\n  " KEY_A "  \r\n"
			   "\t# another " KEY_B "\nshort\n" KEY_B;
	int skipped = -1;
	struct apikeys *k = apikeys_parse(text, strlen(text), &skipped);

	ok(k != NULL, "parsed");
	is_int(apikeys_count(k), 2, "two keys: comments and blanks ignored");
	is_int(skipped, 1, "a line shorter than %d characters skipped",
	       APIKEY_MIN_LEN);
	ok(match(k, KEY_A), "a key with spaces and CRLF around it matches");
	ok(match(k, KEY_B), "the last line without a newline matches");
	ok(!match(k, "short"), "a skipped short line never matches");
	ok(!match(k, "# comment"), "a comment is no key");
	ok(!match(k, KEY_A "0"), "a longer key does not match");
	ok(!match(k, "0123456789abcdef0123456789abcde"),
	   "a prefix does not match");
	ok(!match(k, "0123456789ABCDEF0123456789ABCDEF"),
	   "keys are case-sensitive");
	ok(!match(k, ""), "the empty key does not match");
	ok(!apikeys_match(k, KEY_A "\0x", sizeof(KEY_A) + 1),
	   "a key with a NUL and more after it does not match");
	ok(!apikeys_match(NULL, KEY_A, strlen(KEY_A)), "no keys: never");
	apikeys_free(k);
	apikeys_free(NULL);

	k = apikeys_parse("", 0, NULL);
	is_int(apikeys_count(k), 0, "an empty file has no keys");
	ok(!match(k, KEY_A), "and matches nothing");
	apikeys_free(k);
}

static void test_bearer(void)
{
	size_t n = 0;
	const char *p = apikeys_bearer("Bearer " KEY_A, &n);

	ok(p != NULL && n == strlen(KEY_A) && memcmp(p, KEY_A, n) == 0,
	   "Bearer KEY gives the key");
	p = apikeys_bearer("bearer   " KEY_A, &n);
	ok(p != NULL && n == strlen(KEY_A), "scheme case-insensitive, "
	   "several spaces");
	ok(apikeys_bearer("Basic " KEY_A, &n) == NULL, "another scheme: none");
	ok(apikeys_bearer("Bearer ", &n) == NULL, "no token: none");
	ok(apikeys_bearer("Bearer a b", &n) == NULL, "two words: none");
	ok(apikeys_bearer(KEY_A, &n) == NULL, "no scheme: none");
	ok(apikeys_bearer(NULL, &n) == NULL, "no header: none");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_file(void)
{
	char path[] = "/tmp/parley-test-apikeys.XXXXXX";
	struct apikeys_file f;
	int fd = mkstemp(path);

	if (fd < 0) {
		skip(6, "mkstemp failed");
		return;
	}
	close(fd);
	write_file(path, KEY_A "\n");
	apikeys_file_init(&f, path);
	ok(match(apikeys_file_get(&f), KEY_A), "the file's key matches");
	ok(!match(apikeys_file_get(&f), KEY_B), "another does not");
	write_file(path, KEY_A "\n" KEY_B "\n");
	sleep(1); /* checked at most once a second */
	ok(match(apikeys_file_get(&f), KEY_B), "a key appended is picked up");
	unlink(path);
	sleep(1);
	ok(match(apikeys_file_get(&f), KEY_A),
	   "a file that went away keeps the keys it had");
	apikeys_file_free(&f);

	apikeys_file_init(&f, "");
	ok(apikeys_file_get(&f) == NULL, "no path: no keys (the API is off)");
	apikeys_file_free(&f);
	apikeys_file_init(&f, "/nonexistent/parley-keys");
	ok(!match(apikeys_file_get(&f), KEY_A), "a missing file: no keys");
	apikeys_file_free(&f);
}

int main(void)
{
	test_parse();
	test_bearer();
	test_file();
	return done_testing();
}
