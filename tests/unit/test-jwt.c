/* test-jwt.c - JWT verification (jwt.h). Keys are generated at run time
 * (RSA 2048, EC P-256), written as PEM and JWKS files into a temporary
 * directory, and every token is signed here with OpenSSL's EVP API; two
 * published HS256 vectors (jwt.io, RFC 7515 A.1) check both sides against
 * the outside world. Each token is handed to jwt_verify() in a buffer of
 * exactly its length, without a NUL, so that valgrind or ASan catch any
 * read past the end. */
#include "common.h"
#include "jwt.h"
#include "tap.h"

#include <stdarg.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define NOW 1700000000LL

static const char secret[] = "0123456789abcdef0123456789abcdef";

static EVP_PKEY *rsa1, *rsa2, *ec1, *ec2;
static char tmpdir[64];
static char tmpfiles[32][128];
static int ntmpfiles;

/* Everything the tests allocate for tokens and strings; freed at the end
 * so that valgrind reports only the library's leaks. */
static void *garbage[4096];
static int ngarbage;

static void *keep(void *p)
{
	if (p == NULL || ngarbage == (int)ARRAY_LEN(garbage))
		abort();
	garbage[ngarbage++] = p;
	return p;
}

static void free_garbage(void)
{
	while (ngarbage > 0)
		free(garbage[--ngarbage]);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		abort();
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return keep(s);
}

static char *b64url(const void *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = keep(malloc(len / 3 * 4 + 5));
	size_t n = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		out[n++] = abc[p[i] >> 2];
		out[n++] = abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[n++] = abc[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[n++] = abc[p[i + 2] & 63];
	}
	if (len - i == 1) {
		out[n++] = abc[p[i] >> 2];
		out[n++] = abc[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		out[n++] = abc[p[i] >> 2];
		out[n++] = abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[n++] = abc[(p[i + 1] & 15) << 2];
	}
	out[n] = '\0';
	return out;
}

static char *b64url_str(const char *s)
{
	return b64url(s, strlen(s));
}

/* Standard base64 with padding (Pushpin's "base64:" keys). */
static char *b64std(const void *data, size_t len)
{
	char *out = keep(malloc(len / 3 * 4 + 5));

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* ---- signing ---- */

enum sig_kind { SIG_HMAC, SIG_PKEY, SIG_PKEY_DER, SIG_EMPTY };

struct signer {
	enum sig_kind kind;
	const void *secret;
	size_t secret_len;
	EVP_PKEY *pkey;
};

static struct signer hmac_signer(const void *key, size_t len)
{
	return (struct signer){ .kind = SIG_HMAC, .secret = key,
				.secret_len = len };
}

static struct signer pkey_signer(EVP_PKEY *pkey)
{
	return (struct signer){ .kind = SIG_PKEY, .pkey = pkey };
}

/* The base64url signature of `input`, JOSE style (ES256: r || s). */
static char *sign(const char *input, const struct signer *s)
{
	unsigned char sig[1024], *der = NULL;
	size_t siglen = sizeof(sig), derlen = 0;
	EVP_MD_CTX *ctx;

	if (s->kind == SIG_EMPTY)
		return keep(calloc(1, 1));
	if (s->kind == SIG_HMAC) {
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, s->secret,
			      s->secret_len, (const unsigned char *)input,
			      strlen(input), sig, sizeof(sig), &siglen) == NULL)
			abort();
		return b64url(sig, siglen);
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, s->pkey,
				  NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &derlen, (const unsigned char *)input,
			   strlen(input)) != 1 ||
	    (der = malloc(derlen)) == NULL ||
	    EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)input,
			   strlen(input)) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	if (EVP_PKEY_is_a(s->pkey, "EC") && s->kind == SIG_PKEY) {
		const unsigned char *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
		const BIGNUM *r, *ss;

		if (es == NULL)
			abort();
		ECDSA_SIG_get0(es, &r, &ss);
		if (BN_bn2binpad(r, sig, 32) != 32 ||
		    BN_bn2binpad(ss, sig + 32, 32) != 32)
			abort();
		ECDSA_SIG_free(es);
		siglen = 64;
	} else {
		memcpy(sig, der, derlen);
		siglen = derlen;
	}
	free(der);
	return b64url(sig, siglen);
}

/* h64.p64.signature, the signature over exactly "h64.p64". */
static char *tok_raw(const char *h64, const char *p64, const struct signer *s)
{
	char *input = fmt("%s.%s", h64, p64);

	return fmt("%s.%s", input, sign(input, s));
}

static char *tok(const char *header, const char *claims,
		 const struct signer *s)
{
	return tok_raw(b64url_str(header), b64url_str(claims), s);
}

/* ---- verifying ---- */

static const char *const result_names[] = {
	[JWT_OK] = "JWT_OK", [JWT_MALFORMED] = "JWT_MALFORMED",
	[JWT_UNSUPPORTED_ALG] = "JWT_UNSUPPORTED_ALG",
	[JWT_NO_KEY] = "JWT_NO_KEY", [JWT_BAD_SIGNATURE] = "JWT_BAD_SIGNATURE",
	[JWT_EXPIRED] = "JWT_EXPIRED",
	[JWT_NOT_YET_VALID] = "JWT_NOT_YET_VALID",
	[JWT_BAD_ISSUER] = "JWT_BAD_ISSUER",
	[JWT_BAD_AUDIENCE] = "JWT_BAD_AUDIENCE",
	[JWT_BAD_SUBJECT] = "JWT_BAD_SUBJECT",
};

static const char *result_name(enum jwt_result r)
{
	return (size_t)r < ARRAY_LEN(result_names) ? result_names[r] : "?";
}

/* The client-mode expectations most tests use. */
static struct jwt_expect client(void)
{
	return (struct jwt_expect){ .skew = 60, .now = NOW,
				    .require_exp = true, .require_sub = true };
}

static char last_sub[ID_MAX + 1];

/* jwt_verify() on a copy of exactly len bytes (no NUL after it). */
static enum jwt_result verify_len(const struct jwt_keys *k, const char *token,
				  size_t len, const struct jwt_expect *e)
{
	char *copy = malloc(len > 0 ? len : 1);
	enum jwt_result r;

	if (copy == NULL)
		abort();
	memcpy(copy, token, len);
	memset(last_sub, 'X', sizeof(last_sub));
	r = jwt_verify(k, copy, len, e, last_sub, sizeof(last_sub));
	free(copy);
	return r;
}

static bool verify_is(const struct jwt_keys *k, const char *token,
		      const struct jwt_expect *e, enum jwt_result exp,
		      const char *what)
{
	enum jwt_result r = verify_len(k, token, strlen(token), e);

	if (!is_int(r, exp, "%s: %s", what, result_name(exp))) {
		diag("got %s", result_name(r));
		return false;
	}
	if (exp != JWT_OK && last_sub[0] != '\0') {
		ok(false, "%s: no subject on failure", what);
		return false;
	}
	return true;
}

/* ---- key files ---- */

static const char *tmp_path(const char *name)
{
	char *p;

	if (ntmpfiles == (int)ARRAY_LEN(tmpfiles))
		abort();
	p = tmpfiles[ntmpfiles++];
	snprintf(p, sizeof(tmpfiles[0]), "%s/%s", tmpdir, name);
	return p;
}

static const char *write_file(const char *name, const char *text)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	return path;
}

static const char *write_pem(const char *name, EVP_PKEY *a, EVP_PKEY *b)
{
	const char *path = tmp_path(name);
	BIO *bio = BIO_new_file(path, "w");

	if (bio == NULL || BIO_puts(bio, "a comment line\n") <= 0 ||
	    PEM_write_bio_PUBKEY(bio, a) != 1 ||
	    (b != NULL && PEM_write_bio_PUBKEY(bio, b) != 1))
		abort();
	BIO_free(bio);
	return path;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = keep(calloc(1, 65536));

	if (f == NULL)
		abort();
	if (fread(s, 1, 65535, f) == 0)
		abort();
	fclose(f);
	return s;
}

static char *bn_b64url(EVP_PKEY *pkey, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char bin[1024];
	int n;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		abort();
	n = pad > 0 ? BN_bn2binpad(bn, bin, pad) : BN_bn2bin(bn, bin);
	BN_free(bn);
	if (n <= 0)
		abort();
	return b64url(bin, (size_t)n);
}

/* One JWK of the public key; `extra` is inserted as more members. */
static char *jwk(EVP_PKEY *pkey, const char *kid, const char *extra)
{
	const char *kidm = kid != NULL ? fmt("\"kid\":\"%s\",", kid) : "";

	if (EVP_PKEY_is_a(pkey, "RSA"))
		return fmt("{%s%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}",
			   kidm, extra,
			   bn_b64url(pkey, OSSL_PKEY_PARAM_RSA_N, 0),
			   bn_b64url(pkey, OSSL_PKEY_PARAM_RSA_E, 0));
	return fmt("{%s%s\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
		   "\"y\":\"%s\"}", kidm, extra,
		   bn_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32),
		   bn_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

static struct jwt_keys *keys_new(void)
{
	struct jwt_keys *k = jwt_keys_new();

	if (k == NULL)
		abort();
	return k;
}

static struct jwt_keys *keys_pem(const char *path)
{
	struct jwt_keys *k = keys_new();
	char err[256] = "";

	if (!ok(jwt_keys_load_pem(k, path, err, sizeof(err)),
		"load PEM %s", path))
		diag("%s", err);
	return k;
}

static struct jwt_keys *keys_jwks(const char *path)
{
	struct jwt_keys *k = keys_new();
	char err[256] = "";

	if (!ok(jwt_keys_load_jwks(k, path, err, sizeof(err)),
		"load JWKS %s", path))
		diag("%s", err);
	return k;
}

static struct jwt_keys *keys_secret(const void *key, size_t len)
{
	struct jwt_keys *k = keys_new();

	if (!jwt_keys_add_secret(k, key, len))
		abort();
	return k;
}

/* ---- the tests ---- */

static const char *claims_ok(void)
{
	return fmt("{\"sub\":\"alice\",\"exp\":%lld}", NOW + 600);
}

static void test_vectors(void)
{
	/* jwt.io's example token and secret. */
	static const char jwtio[] =
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
		"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0Ijox"
		"NTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
	/* RFC 7515 appendix A.1 (the header and claims contain CR LF). */
	static const char rfc[] =
		"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
		"eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
		"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	static const char rfc_k[] =
		"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0"
		"iPS4hcgUuTwjAzZr1Z9CAow";
	struct signer s = hmac_signer("your-256-bit-secret", 19);
	struct jwt_keys *k = keys_secret("your-256-bit-secret", 19);
	struct jwt_expect e = client();
	unsigned char key[96]; /* EVP_DecodeBlock writes 66 */
	size_t n;
	char *k64;

	e.require_exp = false;
	is_str(tok("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		   "{\"sub\":\"1234567890\",\"name\":\"John Doe\","
		   "\"iat\":1516239022}", &s), jwtio,
	       "jwt.io vector: the test's own signer agrees");
	verify_is(k, jwtio, &e, JWT_OK, "jwt.io vector");
	is_str(last_sub, "1234567890", "jwt.io vector: sub");
	jwt_keys_free(k);

	/* The RFC key is a base64url JWK "k"; decode it with EVP (it
	 * takes standard base64 only). */
	k64 = fmt("%s==", rfc_k);
	for (char *p = k64; *p != '\0'; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	n = (size_t)EVP_DecodeBlock(key, (const unsigned char *)k64,
				    (int)strlen(k64)) - 2;
	is_int(n, 64, "RFC 7515 A.1 key is 64 bytes");
	k = keys_secret(key, n);
	e = (struct jwt_expect){ .iss = "joe", .now = 1300819000,
				 .require_exp = true };
	verify_is(k, rfc, &e, JWT_OK, "RFC 7515 A.1 vector");
	is_str(last_sub, "", "RFC 7515 A.1: no sub required, none copied");
	e.now = 1300819380;
	verify_is(k, rfc, &e, JWT_EXPIRED, "RFC 7515 A.1 at its exp");
	e.now = 1300819000;
	e.iss = "jo";
	verify_is(k, rfc, &e, JWT_BAD_ISSUER, "RFC 7515 A.1, iss \"jo\"");
	jwt_keys_free(k);
}

static void test_valid(const char *pem, const char *jwks)
{
	struct signer hs = hmac_signer(secret, strlen(secret));
	struct signer rs = pkey_signer(rsa1), es = pkey_signer(ec1);
	struct jwt_keys *ks = keys_secret(secret, strlen(secret));
	struct jwt_keys *kp = keys_pem(pem), *kj = keys_jwks(jwks);
	struct jwt_expect e = client();

	is_int(jwt_keys_count(kp), 2, "PEM file: 2 keys");
	is_int(jwt_keys_count(kj), 4, "JWKS: 4 usable keys, 4 skipped");

	verify_is(ks, tok("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims_ok(),
			  &hs), &e, JWT_OK, "HS256");
	is_str(last_sub, "alice", "HS256: sub");
	verify_is(kp, tok("{\"alg\":\"RS256\"}", claims_ok(), &rs), &e,
		  JWT_OK, "RS256, PEM");
	is_str(last_sub, "alice", "RS256: sub");
	verify_is(kp, tok("{\"alg\":\"ES256\"}", claims_ok(), &es), &e,
		  JWT_OK, "ES256, PEM");
	is_str(last_sub, "alice", "ES256: sub");
	verify_is(kj, tok("{\"alg\":\"RS256\",\"kid\":\"r1\"}", claims_ok(),
			  &rs), &e, JWT_OK, "RS256, JWKS, kid");
	verify_is(kj, tok("{\"alg\":\"ES256\",\"kid\":\"e1\"}", claims_ok(),
			  &es), &e, JWT_OK, "ES256, JWKS, kid");
	verify_is(kj, tok("{\"alg\":\"RS256\"}", claims_ok(), &rs), &e,
		  JWT_OK, "RS256, JWKS, no kid: every RSA key tried");
	verify_is(kj, tok("{\"alg\":\"ES256\"}", claims_ok(),
			  &(struct signer){ .kind = SIG_PKEY, .pkey = ec2 }),
		  &e, JWT_OK, "ES256, JWKS, no kid, second EC key");
	/* Many signatures of one key: ES256 r and s with leading zeros
	 * appear about once in 128 and must still verify. */
	{
		int good = 0;
		for (int i = 0; i < 64; i++) {
			char *c = fmt("{\"sub\":\"u%d\",\"exp\":%lld}", i,
				      NOW + 600);
			char *t = tok("{\"alg\":\"ES256\"}", c, &es);
			good += verify_len(kp, t, strlen(t), &e) == JWT_OK;
		}
		is_int(good, 64, "64 ES256 tokens all verify");
	}
	jwt_keys_free(ks);
	jwt_keys_free(kp);
	jwt_keys_free(kj);
}

/* Flips one character of part `part` (0..2) at offset `at`. */
static char *tamper(const char *token, int part, size_t at)
{
	char *t = fmt("%s", token), *p = t;

	for (int i = 0; i < part; i++)
		p = strchr(p, '.') + 1;
	p[at] = p[at] == 'A' ? 'B' : 'A';
	return t;
}

static void test_signatures(const char *pem, const char *jwks)
{
	struct signer hs = hmac_signer(secret, strlen(secret));
	struct signer hs2 = hmac_signer("another secret", 14);
	struct signer rs = pkey_signer(rsa1), rs2 = pkey_signer(rsa2);
	struct signer es = pkey_signer(ec1), es2 = pkey_signer(ec2);
	struct signer esder = { .kind = SIG_PKEY_DER, .pkey = ec1 };
	struct jwt_keys *ks = keys_secret(secret, strlen(secret));
	struct jwt_keys *kp = keys_pem(pem);
	struct jwt_expect e = client();
	const char *hh = "{\"alg\":\"HS256\"}", *hr = "{\"alg\":\"RS256\"}";
	const char *he = "{\"alg\":\"ES256\"}";
	const char *other = fmt("{\"sub\":\"mallory\",\"exp\":%lld}",
				NOW + 600);
	const struct { const char *name, *header; struct signer *s;
		       struct jwt_keys *k; } algs[] = {
		{ "HS256", hh, &hs, ks }, { "RS256", hr, &rs, kp },
		{ "ES256", he, &es, kp },
	};

	verify_is(ks, tok(hh, claims_ok(), &hs2), &e, JWT_BAD_SIGNATURE,
		  "HS256, wrong secret");
	verify_is(kp, tok(hr, claims_ok(), &rs2), &e, JWT_BAD_SIGNATURE,
		  "RS256, wrong key");
	verify_is(kp, tok(he, claims_ok(), &es2), &e, JWT_BAD_SIGNATURE,
		  "ES256, wrong key");
	verify_is(kp, tok(he, claims_ok(), &esder), &e, JWT_BAD_SIGNATURE,
		  "ES256 with a DER signature instead of r || s");

	for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
		const char *t = tok(algs[i].header, claims_ok(), algs[i].s);
		const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
		const char *forged = fmt("%.*s.%s%s", (int)(d1 - t), t,
					 b64url_str(other), d2);
		const char *n = algs[i].name;

		verify_is(algs[i].k, t, &e, JWT_OK, fmt("%s untouched", n));
		verify_is(algs[i].k, forged, &e, JWT_BAD_SIGNATURE,
			  fmt("%s, payload replaced", n));
		verify_is(algs[i].k, tamper(t, 1, 3), &e, JWT_BAD_SIGNATURE,
			  fmt("%s, payload byte changed", n));
		verify_is(algs[i].k, tamper(t, 0, 3), &e, JWT_MALFORMED,
			  fmt("%s, header byte changed (not JSON)", n));
		verify_is(algs[i].k, tamper(t, 2, 0), &e, JWT_BAD_SIGNATURE,
			  fmt("%s, signature byte changed", n));
		verify_is(algs[i].k, fmt("%.*s", (int)(d2 - t + 1) +
					 (int)(strlen(d2 + 1) / 4 * 4 - 4), t),
			  &e, JWT_BAD_SIGNATURE,
			  fmt("%s, signature cut to whole quads, minus 3 bytes",
			      n));
		ok(verify_len(algs[i].k, t, strlen(t) - 1, &e) != JWT_OK,
		   "%s, last character cut", n);
		verify_is(algs[i].k, fmt("%.*s", (int)(d2 - t + 1), t), &e,
			  JWT_MALFORMED, fmt("%s, signature removed", n));
		verify_is(algs[i].k, fmt("%.*s", (int)(d2 - t), t), &e,
			  JWT_MALFORMED, fmt("%s, \"h.p\"", n));
		verify_is(algs[i].k, fmt("%s.", t), &e, JWT_MALFORMED,
			  fmt("%s, trailing dot", n));
		verify_is(algs[i].k, fmt("%s.%s", t, d2 + 1), &e,
			  JWT_MALFORMED, fmt("%s, four parts", n));
		verify_is(algs[i].k, fmt(".%s", t), &e, JWT_MALFORMED,
			  fmt("%s, leading dot", n));
		verify_is(algs[i].k, fmt("%s=", t), &e, JWT_MALFORMED,
			  fmt("%s, '=' after the signature", n));
		verify_is(algs[i].k, fmt("%s ", t), &e, JWT_MALFORMED,
			  fmt("%s, trailing space", n));
		verify_is(algs[i].k, fmt("%.*s\n%s", (int)(d2 - t + 1), t,
					 d2 + 1), &e, JWT_MALFORMED,
			  fmt("%s, newline in the signature", n));
		for (size_t cut = 0; cut < strlen(t); cut += 7)
			if (verify_len(algs[i].k, t, cut, &e) == JWT_OK)
				ok(false, "%s cut to %zu bytes accepted", n,
				   cut);
	}

	/* An RSA key's own signature does not pass for an EC key, and
	 * the reverse: the alg in the header picks the key type. */
	verify_is(kp, tok(he, claims_ok(), &rs), &e, JWT_BAD_SIGNATURE,
		  "ES256 header, RSA signature");
	verify_is(kp, tok(hr, claims_ok(), &es), &e, JWT_BAD_SIGNATURE,
		  "RS256 header, ES256 signature");
	verify_is(ks, tok(hr, claims_ok(), &rs), &e, JWT_NO_KEY,
		  "RS256 with only secrets: no key");
	verify_is(ks, tok(he, claims_ok(), &es), &e, JWT_NO_KEY,
		  "ES256 with only secrets: no key");
	jwt_keys_free(ks);
	jwt_keys_free(kp);
}

static void test_structure(void)
{
	struct signer hs = hmac_signer(secret, strlen(secret));
	struct jwt_keys *k = keys_secret(secret, strlen(secret));
	struct jwt_expect e = client();
	const char *good = tok("{\"alg\":\"HS256\"}", claims_ok(), &hs);
	const char *h64 = b64url_str("{\"alg\":\"HS256\"}");
	const char *p64 = b64url_str(claims_ok());
	static const char *const bad[] = {
		"", ".", "..", "...", "a", "a.b", "a..c", ".b.c", "a.b.",
		"a.b.c.d", "eyJ9.e30.AAAA",
	};
	char *big;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		verify_is(k, bad[i], &e, JWT_MALFORMED, fmt("\"%s\"", bad[i]));
	verify_is(k, good, &e, JWT_OK, "HS256 reference token");

	/* Padding and the alphabet: each token is correctly signed over
	 * exactly what it carries, so only the decoder can refuse it. */
	verify_is(k, tok_raw(fmt("%s=", h64), p64, &hs), &e, JWT_MALFORMED,
		  "header with one '=' added");
	verify_is(k, tok_raw(h64, fmt("%s==", p64), &hs), &e,
		  JWT_MALFORMED, "claims with '==' added");
	{
		/* {"alg":"HS256","kid":"~~~"}: "~~~" is "fn5+" in base64 */
		const char *h = "{\"alg\":\"HS256\",\"kid\":\"~~~\"}";
		char *std = fmt("%s", b64url_str(h));
		int changed = 0;

		for (char *p = std; *p != '\0'; p++) {
			if (*p == '-' || *p == '_') {
				*p = *p == '-' ? '+' : '/';
				changed++;
			}
		}
		ok(changed > 0, "the header's base64 has '-' or '_'");
		verify_is(k, tok(h, claims_ok(), &hs), &e, JWT_OK,
			  "header with '-'/'_' in base64url: accepted");
		verify_is(k, tok_raw(std, p64, &hs), &e, JWT_MALFORMED,
			  "the same header in standard base64 ('+' '/')");
	}
	{
		/* Unused low bits of the last character set: a second
		 * spelling of the same bytes. */
		const char *h = "{\"alg\":\"HS256\",\"x\":12}";
		char *h2 = fmt("%s", b64url_str(h));
		size_t len = strlen(h2);

		is_int(len % 4, 2, "non-canonical test header: 4n+2 chars");
		h2[len - 1] = (char)(h2[len - 1] + 1);
		verify_is(k, tok(h, claims_ok(), &hs), &e, JWT_OK,
			  "canonical header accepted");
		verify_is(k, tok_raw(h2, p64, &hs), &e, JWT_MALFORMED,
			  "non-zero trailing bits refused");
		verify_is(k, tok_raw(fmt("%sA", h64), p64, &hs), &e,
			  JWT_MALFORMED, "header of 4n+1 characters");
		verify_is(k, tok_raw(fmt("%.*s*%s", 4, h64, h64 + 5), p64,
				     &hs), &e, JWT_MALFORMED,
			  "'*' in the header");
	}

	/* Size limit: a good token just under it passes, just over fails. */
	{
		size_t base = strlen(tok("{\"alg\":\"HS256\"}",
					 fmt("{\"sub\":\"alice\",\"exp\":%lld,"
					     "\"pad\":\"\"}", NOW + 600), &hs));
		size_t room = (JWT_MAX_TOKEN - base) / 4 * 3;
		char *pad = keep(malloc(room + 4));
		const char *t;

		memset(pad, 'p', room + 3);
		pad[room] = '\0';
		t = tok("{\"alg\":\"HS256\"}", fmt("{\"sub\":\"alice\","
			"\"exp\":%lld,\"pad\":\"%s\"}", NOW + 600, pad), &hs);
		ok(strlen(t) <= JWT_MAX_TOKEN, "padded token is %zu bytes",
		   strlen(t));
		verify_is(k, t, &e, JWT_OK, "token close to the limit");
		pad[room] = 'p';
		pad[room + 3] = '\0';
		t = tok("{\"alg\":\"HS256\"}", fmt("{\"sub\":\"alice\","
			"\"exp\":%lld,\"pad\":\"%s\"}", NOW + 600, pad), &hs);
		ok(strlen(t) > JWT_MAX_TOKEN, "longer token is %zu bytes",
		   strlen(t));
		verify_is(k, t, &e, JWT_MALFORMED, "token over the limit");
		big = keep(malloc(1 << 20));
		memset(big, 'A', 1 << 20);
		big[100] = '.';
		big[200] = '.';
		is_int(verify_len(k, big, 1 << 20, &e), JWT_MALFORMED,
		       "1 MiB token: JWT_MALFORMED");
	}

	/* JSON: not objects, trailing data, NUL, duplicates, crit. */
	verify_is(k, tok("[\"HS256\"]", claims_ok(), &hs), &e, JWT_MALFORMED,
		  "header is an array");
	verify_is(k, tok("\"HS256\"", claims_ok(), &hs), &e, JWT_MALFORMED,
		  "header is a string");
	verify_is(k, tok("{\"alg\":\"HS256\"} x", claims_ok(), &hs), &e,
		  JWT_MALFORMED, "header with trailing data");
	verify_is(k, tok("{\"alg\":\"HS256\"", claims_ok(), &hs), &e,
		  JWT_MALFORMED, "header not closed");
	verify_is(k, tok("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims_ok(),
			 &hs), &e, JWT_MALFORMED, "header with alg twice");
	verify_is(k, tok("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
			 claims_ok(), &hs), &e, JWT_MALFORMED,
		  "header with crit");
	verify_is(k, tok("{\"alg\":\"HS256\",\"x\":\"a\\u0000b\"}",
			 claims_ok(), &hs), &e, JWT_MALFORMED,
		  "header with \\u0000");
	verify_is(k, tok("{\"alg\":\"HS256\",\"x\":\"a\\\\u0000b\"}",
			 claims_ok(), &hs), &e, JWT_OK,
		  "header with an escaped backslash before u0000");
	verify_is(k, tok_raw(b64url("{\"alg\":\"HS256\"}\0", 16), p64, &hs),
		  &e, JWT_MALFORMED, "header with a NUL byte");
	verify_is(k, tok("{\"alg\":\"HS256\"}", "[1]", &hs), &e,
		  JWT_MALFORMED, "claims are an array");
	verify_is(k, tok("{\"alg\":\"HS256\"}", "not json", &hs), &e,
		  JWT_MALFORMED, "claims not JSON");
	verify_is(k, tok("{\"alg\":\"HS256\"}",
			 fmt("{\"sub\":\"alice\",\"sub\":\"bob\",\"exp\":%lld}",
			     NOW + 600), &hs), &e, JWT_MALFORMED,
		  "claims with sub twice");
	jwt_keys_free(k);
}

static void test_algs(const char *pem, const char *jwks)
{
	struct signer hs = hmac_signer(secret, strlen(secret));
	struct signer none = { .kind = SIG_EMPTY };
	struct jwt_keys *ks = keys_secret(secret, strlen(secret));
	struct jwt_keys *kp = keys_pem(pem), *kj = keys_jwks(jwks);
	struct jwt_keys *mixed = keys_pem(pem);
	struct jwt_expect e = client();
	static const char *const algs[] = {
		"none", "None", "NONE", "nOnE", "HS384", "HS512", "RS384",
		"RS512", "PS256", "ES384", "ES256K", "EdDSA", "hs256", "HS256 ",
		"",
	};
	const char *pemtext = slurp(pem);
	struct signer confused = hmac_signer(pemtext, strlen(pemtext));
	const char *hh = "{\"alg\":\"HS256\"}";

	for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
		const char *h = fmt("{\"alg\":\"%s\"}", algs[i]);
		verify_is(ks, tok(h, claims_ok(), &none), &e,
			  JWT_UNSUPPORTED_ALG, fmt("alg \"%s\", no signature",
						   algs[i]));
		verify_is(ks, tok(h, claims_ok(), &hs), &e,
			  JWT_UNSUPPORTED_ALG, fmt("alg \"%s\", HMAC signature",
						   algs[i]));
	}
	verify_is(ks, tok("{\"typ\":\"JWT\"}", claims_ok(), &hs), &e,
		  JWT_MALFORMED, "no alg");
	verify_is(ks, tok("{\"alg\":null}", claims_ok(), &hs), &e,
		  JWT_MALFORMED, "alg null");
	verify_is(ks, tok("{\"alg\":[\"HS256\"]}", claims_ok(), &hs), &e,
		  JWT_MALFORMED, "alg is an array");
	verify_is(ks, tok(hh, claims_ok(), &none), &e, JWT_MALFORMED,
		  "HS256 without a signature");

	/* The classic confusion: HS256 signed with the server's RSA public
	 * key (its PEM text) as the HMAC secret. */
	verify_is(kp, tok(hh, claims_ok(), &confused), &e, JWT_NO_KEY,
		  "HS256 keyed with the PEM text, PEM keys: no key");
	verify_is(kj, tok(hh, claims_ok(), &confused), &e, JWT_NO_KEY,
		  "HS256 keyed with the PEM text, JWKS keys: no key");
	if (!jwt_keys_add_secret(mixed, (const unsigned char *)secret,
				 strlen(secret)))
		abort();
	verify_is(mixed, tok(hh, claims_ok(), &confused), &e,
		  JWT_BAD_SIGNATURE, "the same with a secret in the set too");
	verify_is(mixed, tok(hh, claims_ok(), &hs), &e, JWT_OK,
		  "mixed set: the real secret works");
	{
		unsigned char der[4096], *p = der;
		int n = i2d_PUBKEY(rsa1, &p);
		struct signer d = hmac_signer(der, (size_t)n);
		verify_is(kp, tok(hh, claims_ok(), &d), &e, JWT_NO_KEY,
			  "HS256 keyed with the DER public key: no key");
	}
	jwt_keys_free(ks);
	jwt_keys_free(kp);
	jwt_keys_free(kj);
	jwt_keys_free(mixed);
}

static void test_claims(void)
{
	struct signer hs = hmac_signer(secret, strlen(secret));
	struct jwt_keys *k = keys_secret(secret, strlen(secret));
	struct jwt_expect e = client();
	const char *h = "{\"alg\":\"HS256\"}";
	char sub128[ID_MAX + 2];

#define CLAIMS(...) tok(h, fmt(__VA_ARGS__), &hs)
	/* exp and nbf, with 60 s of skew */
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW - 61), &e,
		  JWT_EXPIRED, "expired 61 s ago (skew 60)");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW - 60), &e,
		  JWT_EXPIRED, "expired 60 s ago (skew 60)");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW - 59), &e,
		  JWT_OK, "expired 59 s ago: within skew");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld.5}", NOW), &e, JWT_OK,
		  "fractional exp");
	e.skew = 0;
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW), &e,
		  JWT_EXPIRED, "exp == now, no skew");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW + 1), &e,
		  JWT_OK, "exp == now + 1, no skew");
	e.skew = -100;
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW + 1), &e,
		  JWT_OK, "negative skew counts as 0");
	e = client();
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
			    NOW + 600, NOW + 61), &e, JWT_NOT_YET_VALID,
		  "nbf 61 s ahead");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
			    NOW + 600, NOW + 60), &e, JWT_OK,
		  "nbf 60 s ahead: within skew");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
			    NOW + 600, NOW - 1000), &e, JWT_OK, "nbf past");
	verify_is(k, CLAIMS("{\"sub\":\"a\"}"), &e, JWT_MALFORMED,
		  "no exp, exp required");
	e.require_exp = false;
	verify_is(k, CLAIMS("{\"sub\":\"a\"}"), &e, JWT_OK,
		  "no exp, exp not required");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW - 1000), &e,
		  JWT_EXPIRED, "exp not required but present: checked");
	e = client();
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":\"%lld\"}", NOW + 600),
		  &e, JWT_MALFORMED, "exp as a string");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":null}"), &e,
		  JWT_MALFORMED, "exp null");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":true}"), &e,
		  JWT_MALFORMED, "exp true");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":1e999}"), &e,
		  JWT_MALFORMED, "exp 1e999 (infinite)");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":[%lld]}", NOW + 600), &e,
		  JWT_MALFORMED, "exp in an array");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"nbf\":\"0\"}",
			    NOW + 600), &e, JWT_MALFORMED, "nbf as a string");
	e.now = 0; /* time(NULL) */
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW), &e,
		  JWT_EXPIRED, "now 0 means the real clock (2023 exp expired)");
	e = client();

	/* iss */
	e.iss = "https://issuer.example/";
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"iss\":"
			    "\"https://issuer.example/\"}", NOW + 600), &e,
		  JWT_OK, "iss matches");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"iss\":"
			    "\"https://issuer.example\"}", NOW + 600), &e,
		  JWT_BAD_ISSUER, "iss without the slash");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"iss\":"
			    "\"https://issuer.example/x\"}", NOW + 600), &e,
		  JWT_BAD_ISSUER, "iss longer");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW + 600), &e,
		  JWT_BAD_ISSUER, "iss missing");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"iss\":"
			    "[\"https://issuer.example/\"]}", NOW + 600), &e,
		  JWT_BAD_ISSUER, "iss in an array");
	e = client();
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"iss\":\"x\"}",
			    NOW + 600), &e, JWT_OK, "iss not checked");

	/* aud */
	e.aud = "parley";
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"aud\":\"parley\"}",
			    NOW + 600), &e, JWT_OK, "aud string matches");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"aud\":[\"x\",1,"
			    "\"parley\"]}", NOW + 600), &e, JWT_OK,
		  "aud array contains it");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"aud\":\"parley2\"}",
			    NOW + 600), &e, JWT_BAD_AUDIENCE,
		  "aud string differs");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"aud\":[\"x\","
			    "\"Parley\"]}", NOW + 600), &e, JWT_BAD_AUDIENCE,
		  "aud array without it");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"aud\":[]}",
			    NOW + 600), &e, JWT_BAD_AUDIENCE, "aud empty array");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld,\"aud\":"
			    "[[\"parley\"]]}", NOW + 600), &e, JWT_BAD_AUDIENCE,
		  "aud nested array");
	verify_is(k, CLAIMS("{\"sub\":\"a\",\"exp\":%lld}", NOW + 600), &e,
		  JWT_BAD_AUDIENCE, "aud missing");
	e = client();

	/* sub */
	verify_is(k, CLAIMS("{\"exp\":%lld}", NOW + 600), &e,
		  JWT_BAD_SUBJECT, "sub missing");
	verify_is(k, CLAIMS("{\"sub\":\"\",\"exp\":%lld}", NOW + 600), &e,
		  JWT_BAD_SUBJECT, "sub empty");
	verify_is(k, CLAIMS("{\"sub\":\"al ice\",\"exp\":%lld}", NOW + 600),
		  &e, JWT_BAD_SUBJECT, "sub with a space");
	verify_is(k, CLAIMS("{\"sub\":\"al\\tice\",\"exp\":%lld}", NOW + 600),
		  &e, JWT_BAD_SUBJECT, "sub with a tab");
	verify_is(k, CLAIMS("{\"sub\":\"\\u00e9\",\"exp\":%lld}", NOW + 600),
		  &e, JWT_BAD_SUBJECT, "sub not ASCII");
	verify_is(k, CLAIMS("{\"sub\":42,\"exp\":%lld}", NOW + 600), &e,
		  JWT_BAD_SUBJECT, "sub a number");
	verify_is(k, CLAIMS("{\"sub\":\"admin\\u0000x\",\"exp\":%lld}",
			    NOW + 600), &e, JWT_MALFORMED,
		  "sub \"admin\\u0000x\" (would read as \"admin\")");
	memset(sub128, 'z', sizeof(sub128));
	sub128[ID_MAX] = '\0';
	verify_is(k, CLAIMS("{\"sub\":\"%s\",\"exp\":%lld}", sub128,
			    NOW + 600), &e, JWT_OK, "sub of 128 bytes");
	is_str(last_sub, sub128, "sub of 128 bytes copied whole");
	sub128[ID_MAX] = 'z';
	sub128[ID_MAX + 1] = '\0';
	verify_is(k, CLAIMS("{\"sub\":\"%s\",\"exp\":%lld}", sub128,
			    NOW + 600), &e, JWT_BAD_SUBJECT, "sub of 129 bytes");
	verify_is(k, CLAIMS("{\"sub\":\"!~\\\"\\\\\",\"exp\":%lld}", NOW + 600),
		  &e, JWT_OK, "sub with punctuation and escapes");
	is_str(last_sub, "!~\"\\", "  copied unescaped");
	{
		char small[4];
		const char *t = CLAIMS("{\"sub\":\"alice\",\"exp\":%lld}",
				       NOW + 600);
		is_int(jwt_verify(k, t, strlen(t), &e, small, sizeof(small)),
		       JWT_BAD_SUBJECT, "sub larger than the caller's buffer");
		is_str(small, "", "  buffer left empty");
		is_int(jwt_verify(k, t, strlen(t), &e, NULL, 0),
		       JWT_BAD_SUBJECT, "sub required, no buffer");
		e.require_sub = false;
		is_int(jwt_verify(k, t, strlen(t), &e, NULL, 0), JWT_OK,
		       "sub not required, no buffer");
	}
	e.require_sub = false;
	verify_is(k, CLAIMS("{\"exp\":%lld}", NOW + 600), &e, JWT_OK,
		  "sub not required and missing");
	verify_is(k, CLAIMS("{\"sub\":\"a b\",\"exp\":%lld}", NOW + 600), &e,
		  JWT_OK, "sub not required: ignored");
	is_str(last_sub, "", "  and not copied");
#undef CLAIMS
	jwt_keys_free(k);
}

static void test_kid(const char *jwks)
{
	struct signer rs1 = pkey_signer(rsa1), rs2 = pkey_signer(rsa2);
	struct signer es1 = pkey_signer(ec1), es2 = pkey_signer(ec2);
	struct signer hs = hmac_signer(secret, strlen(secret));
	struct jwt_keys *k = keys_jwks(jwks);
	struct jwt_expect e = client();

	verify_is(k, tok("{\"alg\":\"RS256\",\"kid\":\"r2\"}", claims_ok(),
			 &rs2), &e, JWT_OK, "kid r2, signed by r2");
	verify_is(k, tok("{\"alg\":\"RS256\",\"kid\":\"r1\"}", claims_ok(),
			 &rs2), &e, JWT_BAD_SIGNATURE,
		  "kid r1, signed by r2: only r1 tried");
	verify_is(k, tok("{\"alg\":\"RS256\"}", claims_ok(), &rs2), &e,
		  JWT_OK, "no kid, signed by r2");
	verify_is(k, tok("{\"alg\":\"RS256\",\"kid\":\"nope\"}", claims_ok(),
			 &rs1), &e, JWT_NO_KEY, "unknown kid");
	verify_is(k, tok("{\"alg\":\"RS256\",\"kid\":\"e1\"}", claims_ok(),
			 &rs1), &e, JWT_NO_KEY, "RS256 with an EC key's kid");
	verify_is(k, tok("{\"alg\":\"ES256\",\"kid\":\"e2\"}", claims_ok(),
			 &es2), &e, JWT_OK, "kid e2, signed by e2");
	verify_is(k, tok("{\"alg\":\"ES256\",\"kid\":\"e2\"}", claims_ok(),
			 &es1), &e, JWT_BAD_SIGNATURE, "kid e2, signed by e1");
	verify_is(k, tok("{\"alg\":\"RS256\",\"kid\":\"skip-enc\"}",
			 claims_ok(), &rs1), &e, JWT_NO_KEY,
		  "kid of a skipped \"use\":\"enc\" key");
	verify_is(k, tok("{\"alg\":\"RS256\",\"kid\":7}", claims_ok(), &rs1),
		  &e, JWT_MALFORMED, "kid a number");
	verify_is(k, tok("{\"alg\":\"HS256\"}", claims_ok(), &hs), &e,
		  JWT_NO_KEY, "HS256 against a JWKS: the oct key was skipped");
	if (!jwt_keys_add_secret(k, (const unsigned char *)secret,
				 strlen(secret)))
		abort();
	verify_is(k, tok("{\"alg\":\"HS256\",\"kid\":\"any\"}", claims_ok(),
			 &hs), &e, JWT_OK, "a key without kid serves any kid");
	jwt_keys_free(k);
}

static void test_grip_sig(void)
{
	unsigned char raw[32] = { 0 };
	struct signer s = hmac_signer(raw, sizeof(raw));
	struct signer plain = hmac_signer("changeme", 8);
	struct jwt_keys *k = keys_new(), *kp = keys_new();
	struct jwt_expect e = { .iss = "pushpin", .now = NOW,
				.require_exp = true };
	const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	const char *claims = fmt("{\"exp\":%lld,\"iss\":\"pushpin\"}",
				 NOW + 3600);
	const char *b64;

	/* Bytes with every base64 character class, '+' and '/' included. */
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 0xf8);
	b64 = b64std(raw, sizeof(raw));
	ok(strchr(b64, '=') != NULL && strpbrk(b64, "+/") != NULL,
	   "sig_key base64 has padding and '+' or '/': %s", b64);
	ok(jwt_keys_add_sig_key(k, fmt("base64:%s", b64)),
	   "sig_key \"base64:...\" accepted");
	ok(jwt_keys_add_sig_key(kp, "changeme"), "sig_key \"changeme\"");
	verify_is(k, tok(h, claims, &s), &e, JWT_OK, "Grip-Sig");
	verify_is(kp, tok(h, claims, &plain), &e, JWT_OK,
		  "Grip-Sig, plain sig_key");
	verify_is(k, tok(h, claims, &plain), &e, JWT_BAD_SIGNATURE,
		  "Grip-Sig signed with another key");
	verify_is(kp, tok(h, claims, &(struct signer){
			 .kind = SIG_HMAC, .secret = "base64:changeme",
			 .secret_len = 15 }), &e, JWT_BAD_SIGNATURE,
		  "Grip-Sig keyed with the literal \"base64:\" text");
	verify_is(k, tok(h, fmt("{\"exp\":%lld,\"iss\":\"pushpin\"}",
				NOW - 1), &s), &e, JWT_EXPIRED,
		  "Grip-Sig expired");
	verify_is(k, tok(h, fmt("{\"exp\":%lld,\"iss\":\"Pushpin\"}",
				NOW + 10), &s), &e, JWT_BAD_ISSUER,
		  "Grip-Sig, iss \"Pushpin\"");
	verify_is(k, tok(h, fmt("{\"exp\":%lld}", NOW + 10), &s), &e,
		  JWT_BAD_ISSUER, "Grip-Sig without iss");
	verify_is(k, tok(h, "{\"iss\":\"pushpin\"}", &s), &e, JWT_MALFORMED,
		  "Grip-Sig without exp");
	verify_is(k, tok("{\"alg\":\"none\"}", claims,
			 &(struct signer){ .kind = SIG_EMPTY }), &e,
		  JWT_UNSUPPORTED_ALG, "Grip-Sig with alg none");

	ok(jwt_keys_add_sig_key(k, fmt("base64:%.*s", (int)strlen(b64) - 1,
				       b64)), "sig_key with one '=' less "
	   "(padding optional) accepted");
	ok(!jwt_keys_add_sig_key(k, "base64:"), "sig_key \"base64:\" refused");
	ok(!jwt_keys_add_sig_key(k, "base64:a"), "sig_key \"base64:a\" "
	   "refused");
	ok(!jwt_keys_add_sig_key(k, "base64:ab=c"), "sig_key with '=' inside "
	   "refused");
	ok(!jwt_keys_add_sig_key(k, "base64:ab-_"), "sig_key in base64url "
	   "refused");
	ok(!jwt_keys_add_sig_key(k, "base64:YQ==="), "sig_key with '===' "
	   "refused");
	ok(!jwt_keys_add_sig_key(k, "base64:YR=="), "sig_key with non-zero "
	   "trailing bits refused");
	ok(jwt_keys_add_sig_key(k, "base64:YQ=="), "sig_key \"base64:YQ==\" "
	   "accepted");
	ok(!jwt_keys_add_sig_key(k, ""), "empty sig_key refused");
	ok(!jwt_keys_add_sig_key(k, NULL), "NULL sig_key refused");
	ok(!jwt_keys_add_secret(k, (const unsigned char *)"x", 0),
	   "secret of 0 bytes refused");
	is_int(jwt_keys_count(k), 3, "3 secrets in the set");
	jwt_keys_free(k);
	jwt_keys_free(kp);
}

static void load_fails(bool jwks, const char *path, const char *what)
{
	struct jwt_keys *k = keys_new();
	char err[256] = "";
	bool loaded;

	if (!jwt_keys_add_secret(k, (const unsigned char *)"s", 1))
		abort();
	loaded = jwks ? jwt_keys_load_jwks(k, path, err, sizeof(err))
		      : jwt_keys_load_pem(k, path, err, sizeof(err));
	ok(!loaded, "%s refused", what);
	ok(err[0] != '\0', "  with a reason: %s", err);
	is_int(jwt_keys_count(k), 1, "  and nothing added");
	jwt_keys_free(k);
}

static void test_key_files(EVP_PKEY *weak)
{
	const char *rsa = jwk(rsa1, "r1", "");
	char *bad_point = fmt("%s", jwk(ec1, "e1", ""));
	char *y = strstr(bad_point, "\"y\":\"") + 5;
	struct jwt_keys *k;

	/* Point not on the curve: change one character of y. */
	*y = *y == 'A' ? 'B' : 'A';
	load_fails(true, write_file("badpoint.json", fmt("{\"keys\":[%s,%s]}",
							 rsa, bad_point)),
		   "JWKS with an EC point not on the curve");
	load_fails(true, write_file("weak.json", fmt("{\"keys\":[%s]}",
						     jwk(weak, "w", ""))),
		   "JWKS with an RSA 1024 key");
	load_fails(false, write_pem("weak.pem", rsa1, weak),
		   "PEM with an RSA 1024 key after a good one");
	load_fails(true, write_file("oct.json", "{\"keys\":[{\"kty\":\"oct\","
				    "\"k\":\"c2VjcmV0\"}]}"),
		   "JWKS with only an oct key");
	load_fails(true, write_file("empty.json", "{\"keys\":[]}"),
		   "JWKS with no keys");
	load_fails(true, write_file("nokeys.json", "{\"key\":[]}"),
		   "JWKS without \"keys\"");
	load_fails(true, write_file("notjson.json", "{\"keys\":["), "not JSON");
	load_fails(true, write_file("short.json", "{\"keys\":[{\"kty\":\"EC\","
				    "\"crv\":\"P-256\",\"x\":\"AAAA\","
				    "\"y\":\"AAAA\"}]}"),
		   "JWKS EC key with short x and y");
	load_fails(true, write_file("padded.json", fmt("{\"keys\":[{\"kty\":"
				    "\"RSA\",\"n\":\"%s=\",\"e\":\"AQAB\"}]}",
				    bn_b64url(rsa1, OSSL_PKEY_PARAM_RSA_N, 0))),
		   "JWKS with padded base64url");
	load_fails(true, write_file("even.json", fmt("{\"keys\":[{\"kty\":"
				    "\"RSA\",\"n\":\"%s\",\"e\":\"AQAA\"}]}",
				    bn_b64url(rsa1, OSSL_PKEY_PARAM_RSA_N, 0))),
		   "JWKS RSA key with an even exponent");
	load_fails(true, write_file("kidnum.json", fmt("{\"keys\":[%s]}",
						       jwk(rsa1, NULL,
							   "\"kid\":1,"))),
		   "JWKS with a numeric kid");
	load_fails(true, tmp_path("missing.json"), "missing JWKS file");
	load_fails(false, tmp_path("missing.pem"), "missing PEM file");
	load_fails(false, write_file("nopem.pem", "no blocks here\n"),
		   "PEM file without blocks");
	load_fails(false, write_file("garbage.pem", "-----BEGIN PUBLIC KEY-----"
				     "\nAAAA\n-----END PUBLIC KEY-----\n"),
		   "PEM block of garbage");

	{
		/* A PUBLIC KEY block with RFC 1421 headers (encryption). */
		char *t = fmt("%s", slurp(write_pem("hdr.pem", ec1, NULL)));
		char *body = strstr(t, "-----BEGIN PUBLIC KEY-----\n") + 27;

		load_fails(false, write_file("hdr.pem", fmt("%.*sProc-Type: "
			   "4,ENCRYPTED\nDEK-Info: AES-128-CBC,"
			   "00000000000000000000000000000000\n\n%s",
			   (int)(body - t), t, body)),
			   "PEM block with encryption headers");
	}
	{
		/* Private keys (and other blocks) next to the public key. */
		const char *path = tmp_path("priv.pem");
		BIO *bio = BIO_new_file(path, "w");

		if (bio == NULL ||
		    PEM_write_bio_PrivateKey(bio, ec2, NULL, NULL, 0, NULL,
					     NULL) != 1 ||
		    PEM_write_bio_PUBKEY(bio, ec1) != 1)
			abort();
		BIO_free(bio);
		k = keys_pem(path);
		is_int(jwt_keys_count(k), 1, "  the PRIVATE KEY block skipped");
		verify_is(k, tok("{\"alg\":\"ES256\"}", claims_ok(),
				 &(struct signer){ .kind = SIG_PKEY,
						   .pkey = ec2 }),
			  &(struct jwt_expect){ .now = NOW,
						.require_exp = true },
			  JWT_BAD_SIGNATURE, "  and its key not used");
		jwt_keys_free(k);
	}

	k = keys_new();
	ok(jwt_keys_load_pem(k, write_pem("ec.pem", ec2, NULL), NULL, 0) &&
	   jwt_keys_load_jwks(k, write_file("one.json",
					    fmt("{\"keys\":[%s]}", rsa)),
			      NULL, 0),
	   "PEM then JWKS into one set (NULL err buffer)");
	is_int(jwt_keys_count(k), 2, "  2 keys");
	jwt_keys_free(k);
	jwt_keys_free(NULL);
	is_int(jwt_keys_count(NULL), 0, "jwt_keys_count(NULL) is 0");
}

static void test_texts(void)
{
	bool all = true;

	for (int r = JWT_OK; r <= JWT_BAD_SUBJECT; r++) {
		const char *t = jwt_result_text((enum jwt_result)r);
		all = all && t != NULL && t[0] != '\0' &&
		      strcmp(t, "unknown error") != 0;
	}
	ok(all, "every result has a text");
	is_str(jwt_result_text(JWT_EXPIRED), "token expired",
	       "JWT_EXPIRED text");
}

static EVP_PKEY *keygen_rsa(size_t bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

	if (k == NULL)
		abort();
	return k;
}

static EVP_PKEY *keygen_ec(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		abort();
	return k;
}

int main(void)
{
	EVP_PKEY *weak;
	const char *pem, *jwks;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/parley-test-jwt-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rsa1 = keygen_rsa(2048);
	rsa2 = keygen_rsa(2048);
	weak = keygen_rsa(1024);
	ec1 = keygen_ec();
	ec2 = keygen_ec();

	pem = write_pem("keys.pem", rsa1, ec1);
	jwks = write_file("keys.json", fmt(
		"{\"keys\":[%s,%s,%s,%s,%s,%s,%s,%s]}",
		jwk(rsa1, "r1", "\"use\":\"sig\",\"alg\":\"RS256\","),
		jwk(rsa2, "r2", ""),
		jwk(rsa1, "skip-enc", "\"use\":\"enc\","),
		jwk(rsa2, "skip-rs512", "\"alg\":\"RS512\","),
		"{\"kty\":\"oct\",\"kid\":\"skip-oct\",\"k\":\"c2VjcmV0\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"skip-384\","
		"\"x\":\"AA\",\"y\":\"AA\"}",
		jwk(ec1, "e1", "\"alg\":\"ES256\","),
		jwk(ec2, "e2", "")));

	test_vectors();
	test_valid(pem, jwks);
	test_signatures(pem, jwks);
	test_structure();
	test_algs(pem, jwks);
	test_claims();
	test_kid(jwks);
	test_grip_sig();
	test_key_files(weak);
	test_texts();

	for (int i = 0; i < ntmpfiles; i++)
		unlink(tmpfiles[i]);
	rmdir(tmpdir);
	EVP_PKEY_free(rsa1);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(weak);
	EVP_PKEY_free(ec1);
	EVP_PKEY_free(ec2);
	free_garbage();
	return done_testing();
}
