/* fuzz-jwt.c - libFuzzer target for JWT verification and key loading
 * (jwt.h): client tokens and Grip-Sig headers are hostile; key files are
 * the operator's, parsed defensively all the same.
 *
 * An input is, by its first bytes:
 *   '{'           a JWKS file (written to a temporary file and loaded with
 *                 jwt_keys_load_jwks); the tokens of the seed corpus are
 *                 then verified against the keys it gave;
 *   "-----BEGIN"  a PEM file, the same with jwt_keys_load_pem;
 *   "base64:"     a Grip-Sig key (jwt_keys_add_sig_key);
 *   anything else a token (from an exact-size heap copy), verified with
 *                 jwt_verify against an HS256-only key set and against a
 *                 mixed set (the secret, and the RSA 2048 / EC P-256 keys
 *                 of tests/fuzz/keys/ as PEM and, with kids, as JWKS),
 *                 with the claims checked as auth.c checks client tokens
 *                 and with no claim required.
 * Keys are loaded once, at start-up. The clock is fixed (NOW), so that
 * the seed tokens stay valid; make-corpus signs them. */
#include "common.h"
#include "jwt.h"
#include "protocol.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifndef FUZZ_DIR
#error "build with -DFUZZ_DIR='\"/path/to/tests/fuzz\"' (scripts/fuzz does)"
#endif

#define die(...) (fprintf(stderr, "fuzz-jwt: " __VA_ARGS__), \
		  fputc('\n', stderr), abort())

/* Shared with make-corpus. */
#define SECRET "fuzz-secret-0123456789abcdef"
#define NOW 1800000000LL

static struct jwt_keys *hs_keys, *all_keys;
static char tmp_path[] = "/tmp/parley-fuzz-jwt-XXXXXX";
static int tmp_fd = -1;

/* Two seed tokens signed by the keys in tests/fuzz/keys/ (make-corpus):
 * verified against whatever key set a JWKS or PEM input gave. */
static char *seed_tokens[2];

static const struct jwt_expect client = {
	.iss = "parley-fuzz", .aud = "parley", .skew = 30, .now = NOW,
	.require_exp = true, .require_sub = true,
};
static const struct jwt_expect lax = { .skew = 30, .now = NOW };

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = calloc(1, 16384);
	size_t n;

	if (f == NULL || s == NULL)
		die("cannot read %s", path);
	n = fread(s, 1, 16383, f);
	fclose(f);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void cleanup(void)
{
	if (tmp_fd >= 0)
		unlink(tmp_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256] = "";

	hs_keys = jwt_keys_new();
	all_keys = jwt_keys_new();
	if (hs_keys == NULL || all_keys == NULL ||
	    !jwt_keys_add_sig_key(hs_keys, SECRET) ||
	    !jwt_keys_add_sig_key(all_keys, SECRET))
		die("cannot make the HS256 key sets");
	if (!jwt_keys_load_pem(all_keys, FUZZ_DIR "/keys/public.pem", err,
			       sizeof(err)) ||
	    !jwt_keys_load_jwks(all_keys, FUZZ_DIR "/keys/jwks.json", err,
				sizeof(err)))
		die("cannot load the key files: %s", err);
	if (jwt_keys_count(all_keys) != 5)
		die("expected 5 keys, got %zu", jwt_keys_count(all_keys));
	seed_tokens[0] = slurp(FUZZ_DIR "/corpus/jwt/rs256-kid");
	seed_tokens[1] = slurp(FUZZ_DIR "/corpus/jwt/es256");
	tmp_fd = mkstemp(tmp_path);
	if (tmp_fd < 0)
		die("mkstemp failed");
	atexit(cleanup);
	return 0;
}

/* jwt_verify with a subject buffer of exactly ID_MAX + 1 bytes. */
static enum jwt_result verify(const struct jwt_keys *k, const char *tok,
			      size_t len, const struct jwt_expect *e)
{
	char *sub = malloc(ID_MAX + 1);
	enum jwt_result r;

	if (sub == NULL)
		abort();
	memset(sub, 'X', ID_MAX + 1);
	r = jwt_verify(k, tok, len, e, sub, ID_MAX + 1);
	if (sub[0] != '\0' && !(r == JWT_OK && e->require_sub))
		die("subject set although not verified");
	if (r == JWT_OK && e->require_sub &&
	    (memchr(sub, '\0', ID_MAX + 1) == NULL ||
	     !valid_id(sub, strlen(sub))))
		die("verified subject is not a valid id");
	if (jwt_result_text(r) == NULL)
		die("result %d has no text", (int)r);
	free(sub);
	return r;
}

static void verify_token(const uint8_t *data, size_t size)
{
	char *tok = malloc(size > 0 ? size : 1);
	enum jwt_result a, b, c;

	if (tok == NULL)
		return;
	if (size > 0)
		memcpy(tok, data, size);
	a = verify(hs_keys, tok, size, &client);
	b = verify(all_keys, tok, size, &client);
	c = verify(all_keys, tok, size, &lax);
	/* The mixed set holds the HS256 set's only key. */
	if (a == JWT_OK && b != JWT_OK)
		die("HS256 token good for one set only");
	if (b == JWT_OK && c != JWT_OK)
		die("a token good with claims checked fails without");
	(void)jwt_verify(all_keys, tok, size, &lax, NULL, 0);
	free(tok);
}

/* The input as a key file; then the seed tokens against its keys. */
static void load_file(const uint8_t *data, size_t size, bool pem)
{
	struct jwt_keys *k = jwt_keys_new();
	char err[128];
	bool ok;

	if (k == NULL || ftruncate(tmp_fd, 0) != 0 ||
	    pwrite(tmp_fd, data, size, 0) != (ssize_t)size) {
		jwt_keys_free(k);
		return;
	}
	ok = pem ? jwt_keys_load_pem(k, tmp_path, err, sizeof(err))
		 : jwt_keys_load_jwks(k, tmp_path, err, sizeof(err));
	if (!ok && jwt_keys_count(k) != 0)
		die("a failed load left keys in the set");
	if (ok && (jwt_keys_count(k) == 0 || jwt_keys_count(k) > JWT_MAX_KEYS))
		die("a successful load gave %zu keys", jwt_keys_count(k));
	for (size_t i = 0; ok && i < ARRAY_LEN(seed_tokens); i++)
		(void)verify(k, seed_tokens[i], strlen(seed_tokens[i]), &lax);
	jwt_keys_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == '{') {
		load_file(data, size, false);
	} else if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		load_file(data, size, true);
	} else if (size >= 7 && memcmp(data, "base64:", 7) == 0) {
		struct jwt_keys *k = jwt_keys_new();
		char *text = malloc(size + 1);
		if (k != NULL && text != NULL) {
			memcpy(text, data, size);
			text[size] = '\0';
			if (jwt_keys_add_sig_key(k, text) !=
			    (jwt_keys_count(k) == 1))
				die("add_sig_key result and count disagree");
		}
		free(text);
		jwt_keys_free(k);
	} else {
		verify_token(data, size);
	}
	return 0;
}
