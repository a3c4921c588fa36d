/* apikeys.h - the keys of the HTTP send API (PROTOCOL.md section 7;
 * README, "HTTP send API"): the file named by api_keys_file, one key a
 * line, blank lines and '#' comments ignored, surrounding whitespace
 * trimmed (`parley-admin create-api-key` appends one).
 *
 * Trust: the file is configuration, the operator's. A presented key is
 * an attacker's: it is hashed (SHA-256) and compared with every key's
 * hash in constant time, all of them every time, so neither the time
 * nor the answer tells how much of a key matched, which key or how many
 * there are. Keys are kept only as hashes; nothing here logs a key.
 */
#ifndef PARLEY_APIKEYS_H
#define PARLEY_APIKEYS_H

#include "common.h"

/* A key shorter than this is skipped at load, with a warning: the API
 * is for machines, which can keep a long random key. */
#define APIKEY_MIN_LEN 16

struct apikeys;

/* Reads the file: NULL with a reason in err when it cannot be read.
 * *skipped (may be NULL) counts the lines too short to be keys. */
struct apikeys *apikeys_load(const char *path, int *skipped, char *err,
			     size_t errlen) MUST_CHECK;
/* The same from text (the file's contents), for the tests. */
struct apikeys *apikeys_parse(const char *text, size_t len, int *skipped)
    MUST_CHECK;
void apikeys_free(struct apikeys *k);
int apikeys_count(const struct apikeys *k);

/* Whether presented (len bytes, any bytes) is one of the keys. NULL k:
 * never. */
bool apikeys_match(const struct apikeys *k, const char *presented,
		   size_t len);

/* The bearer token of an Authorization header value ("Bearer KEY",
 * scheme case-insensitive, one or more spaces): points into header,
 * length in *len; NULL when the header is not of that form. */
const char *apikeys_bearer(const char *header, size_t *len);

/* A key file that is re-read when it changes (mtime, size or inode),
 * checked at most once a second. path "" : the API is off. */
struct apikeys_file {
	char path[512];
	struct apikeys *keys;  /* the last good load, or NULL */
	long long mtime_ns, size, ino;
	bool checked;          /* stat()ed at least once */
	long long checked_s;   /* when it was last stat()ed */
	bool warned;           /* the current failure was logged */
};
void apikeys_file_init(struct apikeys_file *f, const char *path);
/* Re-reads the file if it changed; a file that cannot be read keeps the
 * keys it had (logged once). Returns the keys (NULL: none). */
const struct apikeys *apikeys_file_get(struct apikeys_file *f);
void apikeys_file_free(struct apikeys_file *f);

#endif
