/* apikeys.c - see apikeys.h. */
#include "common.h"
#include "apikeys.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define HASH_LEN 32
/* The largest key file read, and the most keys in it: enough for every
 * backend of a deployment, and a bound on the work of one compare. */
#define FILE_MAX (256 * 1024)
#define KEYS_MAX 1000

struct apikeys {
	int n;
	unsigned char (*hash)[HASH_LEN];
};

static bool sha256(const void *data, size_t len, unsigned char out[HASH_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 &&
	       n == HASH_LEN;
}

struct apikeys *apikeys_parse(const char *text, size_t len, int *skipped)
{
	struct apikeys *k = calloc(1, sizeof(*k));
	const char *p = text, *end = text + len;

	if (skipped != NULL)
		*skipped = 0;
	if (k == NULL)
		return NULL;
	k->hash = calloc(KEYS_MAX, HASH_LEN);
	if (k->hash == NULL) {
		free(k);
		return NULL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *a = p, *b = nl ? nl : end;
		p = nl ? nl + 1 : end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b || *a == '#')
			continue;
		if (b - a < APIKEY_MIN_LEN || k->n == KEYS_MAX) {
			if (skipped != NULL)
				(*skipped)++;
			continue;
		}
		if (!sha256(a, (size_t)(b - a), k->hash[k->n])) {
			apikeys_free(k);
			return NULL;
		}
		k->n++;
	}
	return k;
}

struct apikeys *apikeys_load(const char *path, int *skipped, char *err,
			     size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	struct apikeys *k;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(text, 1, FILE_MAX + 1, f);
	if (ferror(f) || n > FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f)
			 ? "read error" : "larger than 256 KiB");
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	k = apikeys_parse(text, n, skipped);
	explicit_bzero(text, n);
	free(text);
	if (k == NULL)
		snprintf(err, errlen, "out of memory");
	return k;
}

void apikeys_free(struct apikeys *k)
{
	if (k == NULL)
		return;
	free(k->hash);
	free(k);
}

int apikeys_count(const struct apikeys *k)
{
	return k ? k->n : 0;
}

bool apikeys_match(const struct apikeys *k, const char *presented,
		   size_t len)
{
	unsigned char h[HASH_LEN];
	int found = 0;

	if (k == NULL || presented == NULL || !sha256(presented, len, h))
		return false;
	for (int i = 0; i < k->n; i++)
		found |= CRYPTO_memcmp(h, k->hash[i], HASH_LEN) == 0;
	return found != 0;
}

const char *apikeys_bearer(const char *header, size_t *len)
{
	const char *p;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	p = header + 7;
	while (*p == ' ')
		p++;
	*len = strcspn(p, " \t\r\n");
	if (*len == 0 || p[*len] != '\0')
		return NULL;
	return p;
}

void apikeys_file_init(struct apikeys_file *f, const char *path)
{
	*f = (struct apikeys_file){ .mtime_ns = -1 };
	snprintf(f->path, sizeof(f->path), "%s", path ? path : "");
	apikeys_file_get(f);
}

static long long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

const struct apikeys *apikeys_file_get(struct apikeys_file *f)
{
	struct stat st;
	char err[600];
	struct apikeys *k;
	long long t = now_s(), mtime;
	int skipped;

	if (f->path[0] == '\0')
		return NULL;
	if (f->checked && t == f->checked_s)
		return f->keys;
	f->checked = true;
	f->checked_s = t;
	if (stat(f->path, &st) != 0) {
		if (!f->warned)
			log_warn("api_keys_file %s: %s (the HTTP API refuses "
				 "every key until it can be read)", f->path,
				 strerror(errno));
		f->warned = true;
		return f->keys;
	}
	mtime = (long long)st.st_mtim.tv_sec * 1000000000LL +
		st.st_mtim.tv_nsec;
	if (mtime == f->mtime_ns && st.st_size == f->size &&
	    (long long)st.st_ino == f->ino)
		return f->keys;
	k = apikeys_load(f->path, &skipped, err, sizeof(err));
	if (k == NULL) {
		if (!f->warned)
			log_warn("api_keys_file: %s (keeping the keys it had)",
				 err);
		f->warned = true;
		return f->keys;
	}
	if (skipped > 0)
		log_warn("api_keys_file %s: %d line(s) skipped: a key has at "
			 "least %d characters (at most 1000 keys)", f->path,
			 skipped, APIKEY_MIN_LEN);
	log_info("api_keys_file %s: %d key(s)", f->path, k->n);
	apikeys_free(f->keys);
	f->keys = k;
	f->mtime_ns = mtime;
	f->size = (long long)st.st_size;
	f->ino = (long long)st.st_ino;
	f->warned = false;
	return f->keys;
}

void apikeys_file_free(struct apikeys_file *f)
{
	apikeys_free(f->keys);
	f->keys = NULL;
}
