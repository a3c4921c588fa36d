/* jwt.c - see jwt.h.
 *
 * Trust: the token is hostile, every byte of it. It arrives as pointer
 * and length (never read past len), is bounded by JWT_MAX_TOKEN, and
 * each part is decoded by a strict base64url decoder (url alphabet only,
 * no padding, no 4n+1 lengths, zero trailing bits: one encoding per byte
 * string) into a buffer of its own. The header is parsed before the
 * signature is checked, because it names the alg and the kid; the claims
 * are parsed only once the signature is good. Decoded JSON is refused
 * when it holds a NUL byte or a "\u0000" escape (cJSON ends a string
 * there, so "alice\u0000x" would read as "alice"), when it is not an
 * object, or when an object member name repeats at the top level
 * (parsers disagree on which copy wins). The header, parsed before any
 * key is involved, may have at most HEADER_MAX_MEMBERS members.
 *
 * The key files are the operator's configuration, yet they are parsed
 * defensively too, and every key is checked before use: RSA 2048..8192
 * bits with an odd public exponent, EC on P-256 with a public point that
 * OpenSSL's public-key check accepts.
 *
 * All cryptography is OpenSSL libcrypto's (EVP); MACs are compared with
 * CRYPTO_memcmp. Nothing here logs: callers get a jwt_result and, for the
 * key files, a reason in a buffer; neither ever contains token bytes.
 */
#include "common.h"
#include "jwt.h"
#include "buf.h"
#include "protocol.h" /* valid_id */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define KEY_FILE_MAX (1024 * 1024) /* PEM and JWKS files */
#define KID_MAX 256
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define SIG_MAX (RSA_MAX_BITS / 8)
#define HS256_LEN 32
#define ES256_LEN 64                /* JOSE form: r || s, 32 bytes each */
#define HEADER_MAX_MEMBERS 16

/* Each key type serves exactly one alg, so a key records its alg. */
enum jwt_alg { ALG_HS256, ALG_RS256, ALG_ES256 };

struct jwt_key {
	enum jwt_alg alg;
	char *kid;             /* NULL: none */
	unsigned char *secret; /* ALG_HS256 */
	size_t secret_len;
	EVP_PKEY *pkey;        /* ALG_RS256, ALG_ES256 */
};

struct jwt_keys {
	struct jwt_key key[JWT_MAX_KEYS];
	size_t n;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- key set ---- */

struct jwt_keys *jwt_keys_new(void)
{
	return calloc(1, sizeof(struct jwt_keys));
}

static void free_key(struct jwt_key *key)
{
	free(key->kid);
	if (key->secret != NULL)
		OPENSSL_clear_free(key->secret, key->secret_len);
	EVP_PKEY_free(key->pkey);
	memset(key, 0, sizeof(*key));
}

/* Drops the keys from index n on: undoes a failed load. */
static void truncate_keys(struct jwt_keys *k, size_t n)
{
	while (k->n > n)
		free_key(&k->key[--k->n]);
}

void jwt_keys_free(struct jwt_keys *k)
{
	if (k == NULL)
		return;
	truncate_keys(k, 0);
	free(k);
}

size_t jwt_keys_count(const struct jwt_keys *k)
{
	return k != NULL ? k->n : 0;
}

bool jwt_keys_add_secret(struct jwt_keys *k, const unsigned char *key,
			 size_t len)
{
	struct jwt_key *slot;

	if (k == NULL || key == NULL || len == 0 || k->n == JWT_MAX_KEYS)
		return false;
	slot = &k->key[k->n];
	slot->secret = OPENSSL_malloc(len);
	if (slot->secret == NULL)
		return false;
	memcpy(slot->secret, key, len);
	slot->secret_len = len;
	slot->alg = ALG_HS256;
	k->n++;
	return true;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Bytes that `len` characters of unpadded base64 decode to. */
static size_t b64_decoded_len(size_t len)
{
	return len / 4 * 3 + (len % 4 != 0 ? len % 4 - 1 : 0);
}

/* Strict base64 (url: the base64url alphabet, no padding at all;
 * otherwise the standard alphabet, padding optional but exact). The
 * unused bits of the last character must be zero. Fails when the result
 * would not fit in outsize bytes. */
static bool decode_b64(const char *in, size_t len, bool url,
		       unsigned char *out, size_t outsize, size_t *outlen)
{
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;

	if (!url) {
		size_t pad = 0;
		while (pad < 2 && len > 0 && in[len - 1] == '=') {
			len--;
			pad++;
		}
		if (pad > 0 && (len + pad) % 4 != 0)
			return false;
	}
	if (len % 4 == 1 || b64_decoded_len(len) > outsize)
		return false;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i], url);
		if (v < 0)
			return false;
		acc = ((acc << 6) | (unsigned)v) & 0x3fff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return false;
	*outlen = n;
	return true;
}

bool jwt_keys_add_sig_key(struct jwt_keys *k, const char *text)
{
	const char *b;
	size_t blen, size, n;
	unsigned char *key;
	bool ok;

	if (text == NULL)
		return false;
	if (strncmp(text, "base64:", 7) != 0)
		return jwt_keys_add_secret(k, (const unsigned char *)text,
					   strlen(text));
	b = text + 7;
	blen = strlen(b);
	size = b64_decoded_len(blen) + 1;
	key = OPENSSL_malloc(size);
	if (key == NULL)
		return false;
	ok = decode_b64(b, blen, false, key, size, &n) && n > 0 &&
	     jwt_keys_add_secret(k, key, n);
	OPENSSL_clear_free(key, size);
	return ok;
}

/* ---- JSON ---- */

/* See the file comment: no NUL byte, no "\u0000". */
static bool json_safe(const unsigned char *s, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			return false;
		if (!in_str) {
			in_str = s[i] == '"';
		} else if (s[i] == '"') {
			in_str = false;
		} else if (s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'u' && len - i > 5 &&
			    memcmp(s + i + 2, "0000", 4) == 0)
				return false;
			i++;
		}
	}
	return true;
}

static bool unique_members(const cJSON *obj)
{
	for (const cJSON *a = obj->child; a != NULL; a = a->next)
		for (const cJSON *b = a->next; b != NULL; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return false;
	return true;
}

static int count_members(const cJSON *obj)
{
	int n = 0;

	for (const cJSON *a = obj->child; a != NULL; a = a->next)
		n++;
	return n;
}

/* One base64url part of the token as a JSON object; NULL if malformed. */
static cJSON *parse_part(const char *part, size_t len, int max_members)
{
	size_t size = b64_decoded_len(len) + 1, n;
	unsigned char *buf = malloc(size);
	cJSON *root = NULL;

	if (buf == NULL)
		return NULL;
	if (!decode_b64(part, len, true, buf, size - 1, &n) || n == 0 ||
	    !json_safe(buf, n))
		goto out;
	buf[n] = '\0';
	root = cJSON_ParseWithOpts((const char *)buf, NULL, true);
	if (root == NULL)
		goto out;
	if (!cJSON_IsObject(root) ||
	    (max_members > 0 && count_members(root) > max_members) ||
	    !unique_members(root)) {
		cJSON_Delete(root);
		root = NULL;
	}
out:
	free(buf);
	return root;
}

static const char *member_string(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- signatures ---- */

static bool verify_hs256(const struct jwt_key *key, const unsigned char *data,
			 size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	bool ok;

	if (siglen != HS256_LEN)
		return false;
	ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->secret,
		       key->secret_len, data, len, mac, sizeof(mac),
		       &maclen) != NULL &&
	     maclen == HS256_LEN && CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	ERR_clear_error();
	return ok;
}

/* RS256 (PKCS #1 v1.5) or ES256 (sig in DER) with SHA-256. */
static bool verify_pkey(const struct jwt_key *key, const unsigned char *data,
			size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool ok;

	ok = ctx != NULL &&
	     EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL,
				     key->pkey, NULL) == 1 &&
	     (key->alg != ALG_RS256 ||
	      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
	     EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* JOSE's r || s (RFC 7518 3.4) as the DER ECDSA-Sig-Value OpenSSL
 * verifies; OPENSSL_free() the result. */
static unsigned char *es256_to_der(const unsigned char *sig, int *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, ES256_LEN / 2, NULL);
	BIGNUM *s = BN_bin2bn(sig + ES256_LEN / 2, ES256_LEN / 2, NULL);
	unsigned char *der = NULL;

	if (es == NULL || r == NULL || s == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return NULL;
	}
	/* es owns r and s now */
	*derlen = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (*derlen <= 0) {
		OPENSSL_free(der);
		return NULL;
	}
	return der;
}

/* A token with kid `kid` (or NULL) may be tried against `key`. */
static bool key_applies(const struct jwt_key *key, enum jwt_alg alg,
			const char *kid)
{
	if (key->alg != alg)
		return false;
	if (kid == NULL || key->kid == NULL)
		return true;
	return strcmp(kid, key->kid) == 0;
}

/* Reads alg and kid; kid points into `header`. */
static enum jwt_result read_header(const cJSON *header, enum jwt_alg *alg,
				   const char **kid)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(header, "alg");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(header, "kid");

	if (!cJSON_IsString(a))
		return JWT_MALFORMED;
	if (strcmp(a->valuestring, "HS256") == 0)
		*alg = ALG_HS256;
	else if (strcmp(a->valuestring, "RS256") == 0)
		*alg = ALG_RS256;
	else if (strcmp(a->valuestring, "ES256") == 0)
		*alg = ALG_ES256;
	else
		return JWT_UNSUPPORTED_ALG;
	/* RFC 7515 4.1.11: extensions we do not understand must fail. */
	if (cJSON_GetObjectItemCaseSensitive(header, "crit") != NULL)
		return JWT_MALFORMED;
	*kid = NULL;
	if (k != NULL) {
		if (!cJSON_IsString(k))
			return JWT_MALFORMED;
		*kid = k->valuestring;
	}
	return JWT_OK;
}

/* The signature part against every applicable key. */
static enum jwt_result check_signature(const struct jwt_keys *k,
				       enum jwt_alg alg, const char *kid,
				       const char *input, size_t inlen,
				       const char *s64, size_t s64len)
{
	const unsigned char *data = (const unsigned char *)input;
	unsigned char sig[SIG_MAX];
	unsigned char *der = NULL;
	const unsigned char *vsig = sig;
	size_t siglen, vlen;
	bool tried = false, good = false;
	int derlen = 0;

	if (s64len == 0 || !decode_b64(s64, s64len, true, sig, sizeof(sig),
				       &siglen))
		return JWT_MALFORMED;
	vlen = siglen;
	if ((alg == ALG_HS256 && siglen != HS256_LEN) ||
	    (alg == ALG_ES256 && siglen != ES256_LEN))
		return JWT_BAD_SIGNATURE;
	if (alg == ALG_ES256) {
		der = es256_to_der(sig, &derlen);
		if (der == NULL)
			return JWT_BAD_SIGNATURE;
		vsig = der;
		vlen = (size_t)derlen;
	}
	for (size_t i = 0; i < k->n && !good; i++) {
		const struct jwt_key *key = &k->key[i];
		if (!key_applies(key, alg, kid))
			continue;
		tried = true;
		if (alg == ALG_HS256)
			good = verify_hs256(key, data, inlen, vsig, vlen);
		else if (alg == ALG_ES256 ||
			 vlen == (size_t)EVP_PKEY_get_size(key->pkey))
			good = verify_pkey(key, data, inlen, vsig, vlen);
	}
	OPENSSL_free(der);
	if (!tried)
		return JWT_NO_KEY;
	return good ? JWT_OK : JWT_BAD_SIGNATURE;
}

/* ---- claims ---- */

/* A NumericDate claim: absent (false, *present = false), a finite
 * number, or malformed (false). */
static bool get_date(const cJSON *claims, const char *name, bool *present,
		     double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);

	*present = v != NULL;
	if (v == NULL)
		return true;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

static bool audience_matches(const cJSON *claims, const char *want)
{
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
	const cJSON *v;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	if (!cJSON_IsArray(aud))
		return false;
	cJSON_ArrayForEach(v, aud)
		if (cJSON_IsString(v) && strcmp(v->valuestring, want) == 0)
			return true;
	return false;
}

static enum jwt_result check_claims(const cJSON *claims,
				    const struct jwt_expect *e, char *sub,
				    size_t subsize)
{
	long long now = e->now > 0 ? e->now : (long long)time(NULL);
	double skew = e->skew > 0 ? (double)e->skew : 0.0;
	double exp = 0, nbf = 0;
	bool has_exp, has_nbf;

	if (!get_date(claims, "exp", &has_exp, &exp) ||
	    !get_date(claims, "nbf", &has_nbf, &nbf))
		return JWT_MALFORMED;
	if (!has_exp && e->require_exp)
		return JWT_MALFORMED;
	if (has_exp && (double)now >= exp + skew)
		return JWT_EXPIRED;
	if (has_nbf && (double)now < nbf - skew)
		return JWT_NOT_YET_VALID;
	if (e->iss != NULL) {
		const char *iss = member_string(claims, "iss");
		if (iss == NULL || strcmp(iss, e->iss) != 0)
			return JWT_BAD_ISSUER;
	}
	if (e->aud != NULL && !audience_matches(claims, e->aud))
		return JWT_BAD_AUDIENCE;
	if (e->require_sub) {
		const char *s = member_string(claims, "sub");
		size_t len = s != NULL ? strlen(s) : 0;
		if (s == NULL || !valid_id(s, len) || sub == NULL ||
		    len >= subsize)
			return JWT_BAD_SUBJECT;
		memcpy(sub, s, len + 1);
	}
	return JWT_OK;
}

enum jwt_result jwt_verify(const struct jwt_keys *k, const char *token,
			   size_t len, const struct jwt_expect *e, char *sub,
			   size_t subsize)
{
	const char *dot1, *dot2, *end;
	cJSON *header = NULL, *claims = NULL;
	const char *kid;
	enum jwt_alg alg;
	enum jwt_result r;

	if (sub != NULL && subsize > 0)
		sub[0] = '\0';
	if (k == NULL || e == NULL || token == NULL || len == 0 ||
	    len > JWT_MAX_TOKEN)
		return JWT_MALFORMED;
	end = token + len;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return JWT_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return JWT_MALFORMED;
	if (dot1 == token || dot2 == dot1 + 1)
		return JWT_MALFORMED;

	header = parse_part(token, (size_t)(dot1 - token), HEADER_MAX_MEMBERS);
	if (header == NULL)
		return JWT_MALFORMED;
	r = read_header(header, &alg, &kid);
	if (r == JWT_OK)
		r = check_signature(k, alg, kid, token, (size_t)(dot2 - token),
				    dot2 + 1, (size_t)(end - dot2 - 1));
	cJSON_Delete(header);
	if (r != JWT_OK)
		return r;

	claims = parse_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), 0);
	if (claims == NULL)
		return JWT_MALFORMED;
	r = check_claims(claims, e, sub, subsize);
	cJSON_Delete(claims);
	return r;
}

const char *jwt_result_text(enum jwt_result r)
{
	switch (r) {
	case JWT_OK:
		return "valid token";
	case JWT_MALFORMED:
		return "malformed token";
	case JWT_UNSUPPORTED_ALG:
		return "unsupported signature algorithm";
	case JWT_NO_KEY:
		return "no key for this token";
	case JWT_BAD_SIGNATURE:
		return "invalid signature";
	case JWT_EXPIRED:
		return "token expired";
	case JWT_NOT_YET_VALID:
		return "token not yet valid";
	case JWT_BAD_ISSUER:
		return "wrong issuer";
	case JWT_BAD_AUDIENCE:
		return "wrong audience";
	case JWT_BAD_SUBJECT:
		return "missing or invalid subject";
	}
	return "unknown error";
}

/* ---- key files ---- */

/* The whole file, NUL-terminated; free() it. */
static bool read_file(const char *path, char **out, size_t *outlen, char *err,
		      size_t errlen)
{
	struct buf b;

	if (!buf_read_file(&b, path, KEY_FILE_MAX, err, errlen))
		return false;
	*out = b.data;
	*outlen = b.len;
	return true;
}

static bool is_p256(const char *group)
{
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* Which alg `pkey` serves, if it is strong enough and well-formed. */
static bool check_pkey(EVP_PKEY *pkey, enum jwt_alg *alg, char *why,
		       size_t whylen)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		BIGNUM *e = NULL;
		int bits = EVP_PKEY_get_bits(pkey);
		bool odd;

		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
			set_err(why, whylen, "RSA key of %d bits (%d..%d "
				"allowed)", bits, RSA_MIN_BITS, RSA_MAX_BITS);
			return false;
		}
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
			e = NULL;
		odd = e != NULL && BN_is_odd(e) && !BN_is_one(e);
		BN_free(e);
		if (!odd) {
			set_err(why, whylen, "invalid RSA public exponent");
			return false;
		}
		*alg = ALG_RS256;
		return true;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[80];
		size_t glen = 0;
		EVP_PKEY_CTX *ctx;
		bool valid;

		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group),
					    &glen) != 1 || !is_p256(group)) {
			set_err(why, whylen, "EC key not on curve P-256");
			return false;
		}
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		valid = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
		EVP_PKEY_CTX_free(ctx);
		if (!valid) {
			set_err(why, whylen, "invalid EC public key");
			return false;
		}
		*alg = ALG_ES256;
		return true;
	}
	set_err(why, whylen, "neither an RSA nor an EC key");
	return false;
}

/* Takes pkey (freed on failure). */
static bool add_pkey(struct jwt_keys *k, EVP_PKEY *pkey, const char *kid,
		     char *why, size_t whylen)
{
	struct jwt_key *slot;
	enum jwt_alg alg;

	if (!check_pkey(pkey, &alg, why, whylen))
		goto fail;
	if (k->n == JWT_MAX_KEYS) {
		set_err(why, whylen, "more than %d keys", JWT_MAX_KEYS);
		goto fail;
	}
	slot = &k->key[k->n];
	if (kid != NULL && (slot->kid = strdup(kid)) == NULL) {
		set_err(why, whylen, "out of memory");
		goto fail;
	}
	slot->alg = alg;
	slot->pkey = pkey;
	k->n++;
	return true;
fail:
	EVP_PKEY_free(pkey);
	return false;
}

/* The DER of one "PUBLIC KEY" block (SubjectPublicKeyInfo), whole. */
static EVP_PKEY *pkey_from_der(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, len);

	if (pkey != NULL && p != der + len) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

/* The PEM blocks are walked one by one with PEM_read_bio(), which tells
 * the end of the file (PEM_R_NO_START_LINE) apart from a damaged block;
 * blocks other than "PUBLIC KEY" are skipped, and a block with headers
 * (encryption) is refused. */
bool jwt_keys_load_pem(struct jwt_keys *k, const char *path, char *err,
		       size_t errlen)
{
	size_t n0, len, count = 0;
	char *data = NULL;
	char why[128];
	BIO *bio = NULL;
	bool ok = false;

	if (k == NULL)
		return false;
	n0 = k->n;
	if (!read_file(path, &data, &len, err, errlen))
		return false;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	ERR_clear_error();
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long derlen = 0;
		EVP_PKEY *pkey = NULL;
		unsigned long e;
		bool is_key, plain;

		if (PEM_read_bio(bio, &name, &header, &der, &derlen) != 1) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break; /* no more blocks */
			set_err(err, errlen, "%s: damaged PEM block after "
				"%zu keys", path, count);
			goto out;
		}
		is_key = strcmp(name, PEM_STRING_PUBLIC) == 0;
		plain = header[0] == '\0';
		if (is_key && plain)
			pkey = pkey_from_der(der, derlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (!is_key)
			continue;
		count++;
		if (pkey == NULL) {
			set_err(err, errlen, "%s: PUBLIC KEY block %zu: %s",
				path, count, plain ? "not a valid public key" :
				"has headers (encrypted?)");
			goto out;
		}
		if (!add_pkey(k, pkey, NULL, why, sizeof(why))) {
			set_err(err, errlen, "%s: PUBLIC KEY block %zu: %s",
				path, count, why);
			goto out;
		}
	}
	if (count == 0) {
		set_err(err, errlen, "%s: no \"PUBLIC KEY\" PEM block", path);
		goto out;
	}
	ok = true;
out:
	if (!ok)
		truncate_keys(k, n0);
	BIO_free(bio);
	free(data);
	ERR_clear_error();
	return ok;
}

/* A base64url member of a JWK into a buffer of exactly `size` bytes, or
 * (exact == false) at most `size` bytes. */
static bool get_b64_member(const cJSON *jwk, const char *name,
			   unsigned char *buf, size_t size, bool exact,
			   size_t *len)
{
	const char *s = member_string(jwk, name);

	return s != NULL && decode_b64(s, strlen(s), true, buf, size, len) &&
	       *len > 0 && (!exact || *len == size);
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_from_jwk(const cJSON *jwk, char *why, size_t whylen)
{
	unsigned char nbuf[SIG_MAX + 1], ebuf[16];
	size_t nlen, elen;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (!get_b64_member(jwk, "n", nbuf, sizeof(nbuf), false, &nlen) ||
	    !get_b64_member(jwk, "e", ebuf, sizeof(ebuf), false, &elen)) {
		set_err(why, whylen, "\"n\" or \"e\" missing or not base64url");
		return NULL;
	}
	n = BN_bin2bn(nbuf, (int)nlen, NULL);
	e = BN_bin2bn(ebuf, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (n != NULL && e != NULL && bld != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1)
		pkey = pkey_from_params("RSA", bld);
	if (pkey == NULL)
		set_err(why, whylen, "OpenSSL refused the RSA key");
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static EVP_PKEY *ec_from_jwk(const cJSON *jwk, char *why, size_t whylen)
{
	unsigned char point[1 + 2 * 32]; /* uncompressed: 04 || x || y */
	size_t len;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	point[0] = 0x04;
	if (!get_b64_member(jwk, "x", point + 1, 32, true, &len) ||
	    !get_b64_member(jwk, "y", point + 33, 32, true, &len)) {
		set_err(why, whylen, "\"x\" or \"y\" missing or not 32 bytes "
			"of base64url");
		return NULL;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    "prime256v1", 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
					     point, sizeof(point)) == 1)
		pkey = pkey_from_params("EC", bld);
	if (pkey == NULL)
		set_err(why, whylen, "OpenSSL refused the EC key (point not "
			"on the curve?)");
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* One member of "keys": 1 added, 0 skipped (not for us), -1 error. */
static int add_jwk(struct jwt_keys *k, const cJSON *jwk, char *why,
		   size_t whylen)
{
	const char *kty = member_string(jwk, "kty");
	const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
	EVP_PKEY *pkey;

	if (!cJSON_IsObject(jwk) || kty == NULL) {
		set_err(why, whylen, "not an object with a \"kty\" string");
		return -1;
	}
	if ((use != NULL && !cJSON_IsString(use)) ||
	    (alg != NULL && !cJSON_IsString(alg)) ||
	    (kid != NULL && !cJSON_IsString(kid))) {
		set_err(why, whylen, "\"use\", \"alg\" and \"kid\" must be "
			"strings");
		return -1;
	}
	if (kid != NULL && strlen(kid->valuestring) > KID_MAX) {
		set_err(why, whylen, "\"kid\" longer than %d bytes", KID_MAX);
		return -1;
	}
	if (use != NULL && strcmp(use->valuestring, "sig") != 0)
		return 0;
	if (strcmp(kty, "RSA") == 0) {
		if (alg != NULL && strcmp(alg->valuestring, "RS256") != 0)
			return 0;
		pkey = rsa_from_jwk(jwk, why, whylen);
	} else if (strcmp(kty, "EC") == 0) {
		const char *crv = member_string(jwk, "crv");
		if (crv == NULL || strcmp(crv, "P-256") != 0 ||
		    (alg != NULL && strcmp(alg->valuestring, "ES256") != 0))
			return 0;
		pkey = ec_from_jwk(jwk, why, whylen);
	} else {
		return 0;
	}
	if (pkey == NULL)
		return -1;
	return add_pkey(k, pkey, kid != NULL ? kid->valuestring : NULL, why,
			whylen) ? 1 : -1;
}

bool jwt_keys_load_jwks(struct jwt_keys *k, const char *path, char *err,
			size_t errlen)
{
	size_t n0, len, added = 0, index = 0;
	char *data = NULL;
	char why[128];
	cJSON *root = NULL;
	const cJSON *keys, *jwk;
	bool ok = false;

	if (k == NULL)
		return false;
	n0 = k->n;
	if (!read_file(path, &data, &len, err, errlen))
		return false;
	if (memchr(data, '\0', len) != NULL ||
	    (root = cJSON_ParseWithOpts(data, NULL, true)) == NULL) {
		set_err(err, errlen, "%s: not valid JSON", path);
		goto out;
	}
	keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(keys)) {
		set_err(err, errlen, "%s: no \"keys\" array", path);
		goto out;
	}
	cJSON_ArrayForEach(jwk, keys) {
		int r = add_jwk(k, jwk, why, sizeof(why));
		if (r < 0) {
			set_err(err, errlen, "%s: key %zu: %s", path, index,
				why);
			goto out;
		}
		added += (size_t)r;
		index++;
	}
	if (added == 0) {
		set_err(err, errlen, "%s: no RS256 or ES256 signing key",
			path);
		goto out;
	}
	ok = true;
out:
	if (!ok)
		truncate_keys(k, n0);
	cJSON_Delete(root);
	free(data);
	ERR_clear_error();
	return ok;
}
