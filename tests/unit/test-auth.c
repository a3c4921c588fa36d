/* test-auth.c - the handshake and Grip-Sig decisions of src/auth.c:
 * auth mode none (userId) and jwt (token in the query or a Bearer
 * header), and Pushpin's Grip-Sig. Tokens are signed here with HMAC. */
#include "common.h"
#include "auth.h"
#include "tap.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>

static void b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	int o = 0;

	for (int i = 0; i < n; i++) {
		if (out[i] == '=')
			break;
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[o] = '\0';
}

/* An HS256 token over the given claims JSON. */
static char *sign(const char *secret, const char *claims)
{
	static char tok[2048];
	char h[256], p[1024], sig[128];
	unsigned char mac[32];
	unsigned int maclen = 0;
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	b64url((const unsigned char *)header, strlen(header), h);
	b64url((const unsigned char *)claims, strlen(claims), p);
	snprintf(tok, sizeof(tok), "%s.%s", h, p);
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	     (const unsigned char *)tok, strlen(tok), mac, &maclen);
	b64url(mac, maclen, sig);
	strcat(tok, ".");
	strcat(tok, sig);
	return tok;
}

static struct auth *make(const char *mode, const char *secret,
			 const char *grip, char *err)
{
	struct settings cfg;
	settings_defaults(&cfg);
	snprintf(cfg.auth_mode, sizeof(cfg.auth_mode), "%s", mode);
	snprintf(cfg.jwt_secret, sizeof(cfg.jwt_secret), "%s", secret);
	snprintf(cfg.grip_sig_key, sizeof(cfg.grip_sig_key), "%s", grip);
	snprintf(cfg.jwt_issuer, sizeof(cfg.jwt_issuer), "https://idp.test");
	return auth_new(&cfg, err, 256);
}

static void test_config(void)
{
	char err[256] = "";
	struct auth *a = make("jwt", "", "", err);

	ok(a == NULL, "jwt mode without any key is refused at start-up");
	ok(strstr(err, "jwt_secret") != NULL, "  and the reason says what "
	   "to set: %s", err);
	a = make("none", "", "base64:!!!", err);
	ok(a == NULL, "a grip_sig_key with invalid base64 is refused");
	a = make("none", "", "", err);
	ok(a != NULL && auth_is_none(a), "mode none needs no key");
	auth_free(a);
	auth_free(NULL);
}

static void expect_open(struct auth *a, const char *query,
			const char *authz, int status, const char *user,
			const char *what)
{
	char got[ID_MAX + 1];
	const char *why = NULL;
	int r = auth_open(a, query, authz, got, &why);

	is_int(r, status, "%s: status", what);
	if (status == 0)
		is_str(got, user, "%s: user", what);
	else
		ok(why != NULL && *why != '\0', "%s: a reason (%s)", what,
		   why ? why : "none");
}

static void test_none(void)
{
	char err[256];
	struct auth *a = make("none", "", "", err);

	expect_open(a, "userId=alice", NULL, 0, "alice", "none: userId");
	expect_open(a, "userId=a%2Bb", NULL, 0, "a+b", "none: %2B is a plus");
	expect_open(a, "", NULL, 400, NULL, "none: no userId");
	expect_open(a, NULL, NULL, 400, NULL, "none: no query string");
	expect_open(a, "userId=", NULL, 400, NULL, "none: empty userId");
	expect_open(a, "userId=a+b", NULL, 400, NULL, "none: space in userId");
	expect_open(a, "userId=a&userId=b", NULL, 400, NULL, "none: twice");
	expect_open(a, "userId=abc%zz", NULL, 0, "abc%zz",
		    "none: a malformed escape is the id it spells");
	expect_open(a, "userId=abc%25zz", NULL, 0, "abc%zz",
		    "none: what a proxy makes of it: the same id");
	expect_open(a, "userId=bob&x=%zz", NULL, 0, "bob",
		    "none: a malformed parameter elsewhere changes nothing");
	expect_open(a, "userId=50%2541", NULL, 0, "50%41",
		    "none: a % followed by two hex digits is kept");
	{
		char q[300];
		snprintf(q, sizeof(q), "userId=%0128d", 0);
		expect_open(a, q, NULL, 0, q + 7, "none: 128 bytes");
		snprintf(q, sizeof(q), "userId=%0129d", 0);
		expect_open(a, q, NULL, 400, NULL, "none: 129 bytes");
	}
	auth_free(a);
}

static void test_jwt(void)
{
	char err[256], q[2100], claims[512], hdr[2100];
	struct auth *a = make("jwt", "s3cret", "", err);
	long long now = (long long)time(NULL);
	const char *tok;

	ok(a != NULL, "jwt mode with an HS256 secret starts (%s)",
	   a ? "" : err);
	snprintf(claims, sizeof(claims), "{\"sub\":\"user-1\",\"exp\":%lld,"
		 "\"iss\":\"https://idp.test\"}", now + 600);
	tok = sign("s3cret", claims);
	snprintf(q, sizeof(q), "token=%s", tok);
	expect_open(a, q, NULL, 0, "user-1", "jwt: ?token=");
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	expect_open(a, "", hdr, 0, "user-1", "jwt: Authorization: Bearer");
	snprintf(hdr, sizeof(hdr), "bearer %s", tok);
	expect_open(a, NULL, hdr, 0, "user-1", "jwt: bearer in lower case");
	snprintf(q, sizeof(q), "token=%s&userId=someone", tok);
	expect_open(a, q, NULL, 401, NULL, "jwt: a userId parameter is "
		    "refused even with a good token");
	expect_open(a, "", NULL, 401, NULL, "jwt: no token");
	expect_open(a, "token=", NULL, 401, NULL, "jwt: empty token");
	expect_open(a, "token=abc.def.ghi", NULL, 401, NULL, "jwt: garbage");
	snprintf(q, sizeof(q), "token=%s", sign("other", claims));
	expect_open(a, q, NULL, 401, NULL, "jwt: wrong secret");
	snprintf(claims, sizeof(claims), "{\"sub\":\"user-1\",\"exp\":%lld,"
		 "\"iss\":\"https://idp.test\"}", now - 600);
	snprintf(q, sizeof(q), "token=%s", sign("s3cret", claims));
	expect_open(a, q, NULL, 401, NULL, "jwt: expired beyond the leeway");
	snprintf(claims, sizeof(claims), "{\"sub\":\"user-1\",\"exp\":%lld,"
		 "\"iss\":\"https://evil.test\"}", now + 600);
	snprintf(q, sizeof(q), "token=%s", sign("s3cret", claims));
	expect_open(a, q, NULL, 401, NULL, "jwt: wrong issuer");
	snprintf(claims, sizeof(claims), "{\"exp\":%lld,"
		 "\"iss\":\"https://idp.test\"}", now + 600);
	snprintf(q, sizeof(q), "token=%s", sign("s3cret", claims));
	expect_open(a, q, NULL, 401, NULL, "jwt: no sub");
	snprintf(claims, sizeof(claims), "{\"sub\":\"user-1\","
		 "\"iss\":\"https://idp.test\"}");
	snprintf(q, sizeof(q), "token=%s", sign("s3cret", claims));
	expect_open(a, q, NULL, 401, NULL, "jwt: no exp");
	auth_free(a);
}

static void test_grip(void)
{
	char err[256], claims[128];
	struct auth *a = make("none", "", "gripkey", err);
	struct auth *open_ = make("none", "", "", err);
	long long now = (long long)time(NULL);

	snprintf(claims, sizeof(claims), "{\"iss\":\"pushpin\",\"exp\":%lld}",
		 now + 3600);
	ok(auth_check_grip(a, sign("gripkey", claims)),
	   "Grip-Sig from Pushpin passes");
	ok(!auth_check_grip(a, NULL), "no Grip-Sig: refused");
	ok(!auth_check_grip(a, ""), "empty Grip-Sig: refused");
	ok(!auth_check_grip(a, sign("guess", claims)), "wrong key: refused");
	snprintf(claims, sizeof(claims), "{\"iss\":\"pushpin\",\"exp\":%lld}",
		 now - 3600);
	ok(!auth_check_grip(a, sign("gripkey", claims)), "expired: refused");
	snprintf(claims, sizeof(claims), "{\"iss\":\"me\",\"exp\":%lld}",
		 now + 3600);
	ok(!auth_check_grip(a, sign("gripkey", claims)), "wrong iss: refused");
	ok(auth_check_grip(open_, NULL), "without a key nothing is checked");
	auth_free(a);
	auth_free(open_);
}

int main(void)
{
	test_config();
	test_none();
	test_jwt();
	test_grip();
	return done_testing();
}
