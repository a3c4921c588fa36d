/* jwt.h - verification of compact JWS tokens (JWTs): client tokens in
 * auth mode "jwt", and the Grip-Sig header that Pushpin signs.
 *
 * Algorithms: HS256 (shared secrets), RS256 (RSA public keys of 2048 to
 * 8192 bits) and ES256 (EC P-256 public keys), nothing else; "none" and
 * every other "alg" are refused. The alg picks the key type: HS256 is
 * only ever checked against secrets, RS256 only against RSA keys, ES256
 * only against EC keys, so a public key can never be used as an HMAC
 * secret (algorithm confusion).
 *
 * Key selection: a token whose header has a "kid" is tried against the
 * keys of its type that carry the same kid (JWKS) and those that carry
 * none (secrets, PEM); a key with another kid is never tried. A token
 * without a kid is tried against every key of its type. A JWKS key with
 * an "alg" member is only used for that alg.
 *
 * The key set is built once at start-up and is read-only afterwards;
 * jwt_verify() never changes it.
 *
 * Include "common.h" first (MUST_CHECK, ID_MAX).
 */
#ifndef PARLEY_JWT_H
#define PARLEY_JWT_H

#define JWT_MAX_TOKEN 8192 /* longer tokens are JWT_MALFORMED */
#define JWT_MAX_KEYS 64    /* a key set holds at most this many keys */

struct jwt_keys;

/* NULL when out of memory. */
struct jwt_keys *jwt_keys_new(void);
/* Takes NULL. Secrets are wiped before their memory is freed. */
void jwt_keys_free(struct jwt_keys *k);
size_t jwt_keys_count(const struct jwt_keys *k);

/* An HS256 secret of len >= 1 bytes (copied). False when len is 0, the
 * set is full or memory runs out. */
bool jwt_keys_add_secret(struct jwt_keys *k, const unsigned char *key,
			 size_t len) MUST_CHECK;

/* Pushpin's sig_key form: "base64:<standard base64>" is decoded, any
 * other text is used as the key bytes as written. False when the text
 * is empty or the base64 is invalid. */
bool jwt_keys_add_sig_key(struct jwt_keys *k, const char *text) MUST_CHECK;

/* Key files of at most 1 MiB; both may be called more than once.
 *
 * PEM: one or more "-----BEGIN PUBLIC KEY-----" blocks (RSA or EC P-256);
 * blocks of other kinds (private keys, certificates) are skipped; PEM
 * keys have no kid.
 * JWKS: {"keys":[...]} with RSA ("n", "e") and EC P-256 ("crv", "x",
 * "y") keys, unpadded base64url as RFC 7518 says; "kid", "use" and "alg"
 * must be strings when present. Keys with a "use" other than "sig", with
 * another "kty" or "crv", or with an "alg" other than RS256 (RSA) or
 * ES256 (EC) are skipped.
 *
 * Both fail (false, and a reason in err, which may be NULL) when the file
 * cannot be read, a key in it is malformed or too weak, or it yields no
 * usable key; a failed load adds nothing to the set. */
bool jwt_keys_load_pem(struct jwt_keys *k, const char *path, char *err,
		       size_t errlen) MUST_CHECK;
bool jwt_keys_load_jwks(struct jwt_keys *k, const char *path, char *err,
			size_t errlen) MUST_CHECK;

/* What the claims must satisfy, besides the signature. */
struct jwt_expect {
	const char *iss;  /* NULL: not checked; else "iss" must equal it */
	const char *aud;  /* NULL: not checked; else "aud" must equal it, or
			   * be an array that contains it */
	long skew;        /* seconds of clock skew allowed for exp and nbf */
	long long now;    /* Unix time; <= 0: time(NULL) */
	bool require_exp; /* a token without "exp" is refused */
	bool require_sub; /* "sub" must be 1..128 bytes of 0x21..0x7E and is
			   * copied to the caller's buffer */
};

enum jwt_result {
	JWT_OK,
	JWT_MALFORMED,       /* not a compact JWS of JSON objects; "crit";
			      * exp/nbf not numbers; exp missing but
			      * required */
	JWT_UNSUPPORTED_ALG, /* alg not HS256, RS256 or ES256 ("none"...) */
	JWT_NO_KEY,          /* no key of the alg's type (and kid) */
	JWT_BAD_SIGNATURE,
	JWT_EXPIRED,         /* now >= exp + skew */
	JWT_NOT_YET_VALID,   /* now < nbf - skew */
	JWT_BAD_ISSUER,
	JWT_BAD_AUDIENCE,
	JWT_BAD_SUBJECT,
};

/* Verifies token[0..len) (hostile; need not be NUL-terminated): the
 * header, the signature with the keys of `k`, then the claims against
 * `e`. The claims are only parsed once the signature is good.
 *
 * `sub` (may be NULL when !e->require_sub) is set to "" first, whenever
 * subsize > 0, and gets the subject on JWT_OK when e->require_sub;
 * subsize should be ID_MAX + 1 (129): a subject longer than subsize - 1
 * bytes is JWT_BAD_SUBJECT. When !e->require_sub the "sub" claim is
 * ignored. */
enum jwt_result jwt_verify(const struct jwt_keys *k, const char *token,
			   size_t len, const struct jwt_expect *e, char *sub,
			   size_t subsize) MUST_CHECK;

/* A short English reason for logs and 401 bodies; never contains any part
 * of the token. */
const char *jwt_result_text(enum jwt_result r);

#endif
