/* auth.c - see auth.h.
 *
 * Trust: the query string and the Authorization header are the client's
 * (hostile); tokens are verified by jwt.c with keys from files the
 * operator configured. Only Pushpin knows grip_sig_key.
 */
#include "common.h"
#include "auth.h"
#include "jwt.h"
#include "log.h"
#include "protocol.h"
#include "query.h"

#include <strings.h>

struct auth {
	bool none;
	struct jwt_keys *client_keys; /* jwt mode */
	struct jwt_expect client;
	struct jwt_keys *grip_keys;   /* NULL: Grip-Sig not checked */
	char issuer[256];
	char audience[256];
};

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	jwt_keys_free(a->client_keys);
	jwt_keys_free(a->grip_keys);
	free(a);
}

bool auth_is_none(const struct auth *a)
{
	return a->none;
}

struct auth *auth_new(const struct settings *cfg, char *err, size_t errlen)
{
	struct auth *a = calloc(1, sizeof(*a));
	char why[256] = "";

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->none = strcmp(cfg->auth_mode, "none") == 0;
	if (cfg->grip_sig_key[0] != '\0') {
		a->grip_keys = jwt_keys_new();
		if (a->grip_keys == NULL ||
		    !jwt_keys_add_sig_key(a->grip_keys, cfg->grip_sig_key)) {
			snprintf(err, errlen, "grip_sig_key is not a usable "
				 "key (base64:... must be valid base64)");
			goto fail;
		}
	}
	if (a->none)
		return a;
	a->client_keys = jwt_keys_new();
	if (a->client_keys == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->jwt_secret[0] != '\0' &&
	    !jwt_keys_add_sig_key(a->client_keys, cfg->jwt_secret)) {
		snprintf(err, errlen, "jwt_secret is not a usable key");
		goto fail;
	}
	if (cfg->jwt_public_keys[0] != '\0' &&
	    !jwt_keys_load_pem(a->client_keys, cfg->jwt_public_keys, why,
			       sizeof(why))) {
		snprintf(err, errlen, "jwt_public_keys: %s", why);
		goto fail;
	}
	if (cfg->jwt_jwks[0] != '\0' &&
	    !jwt_keys_load_jwks(a->client_keys, cfg->jwt_jwks, why,
				sizeof(why))) {
		snprintf(err, errlen, "jwt_jwks: %s", why);
		goto fail;
	}
	if (jwt_keys_count(a->client_keys) == 0) {
		snprintf(err, errlen, "auth_mode jwt needs jwt_secret, "
			 "jwt_public_keys or jwt_jwks (or auth_mode none, "
			 "for development only)");
		goto fail;
	}
	snprintf(a->issuer, sizeof(a->issuer), "%s", cfg->jwt_issuer);
	snprintf(a->audience, sizeof(a->audience), "%s", cfg->jwt_audience);
	a->client.iss = a->issuer[0] ? a->issuer : NULL;
	a->client.aud = a->audience[0] ? a->audience : NULL;
	a->client.skew = cfg->jwt_leeway;
	a->client.require_exp = true;
	a->client.require_sub = true;
	return a;
fail:
	auth_free(a);
	return NULL;
}

bool auth_check_grip(const struct auth *a, const char *sig)
{
	struct jwt_expect e = { .iss = "pushpin", .require_exp = true };

	if (a->grip_keys == NULL)
		return true;
	if (sig == NULL)
		return false;
	return jwt_verify(a->grip_keys, sig, strlen(sig), &e, NULL, 0) ==
	       JWT_OK;
}

static int open_none(const char *query, char *user, const char **why)
{
	size_t len = 0;

	switch (query_get(query, "userId", user, ID_MAX + 1, &len)) {
	case QUERY_NO_MEMORY:
		*why = "out of memory reading the query string";
		return 400;
	case QUERY_DUPLICATE:
		*why = "userId given more than once";
		return 400;
	case QUERY_ABSENT:
		*why = "userId is required: ws://HOST:PORT/ws?userId=USER-ID";
		return 400;
	case QUERY_FOUND:
		break;
	}
	if (len > ID_MAX || !valid_id(user, len)) {
		*why = "userId must be 1..128 printable ASCII characters "
		       "without spaces";
		return 400;
	}
	return 0;
}

int auth_open(const struct auth *a, const char *query,
	      const char *authorization, char *user, const char **why)
{
	char token[JWT_MAX_TOKEN + 2];
	size_t len = 0;
	enum jwt_result r;

	user[0] = '\0';
	if (a->none)
		return open_none(query, user, why);
	switch (query_get(query, "userId", token, sizeof(token), &len)) {
	case QUERY_ABSENT:
		break;
	case QUERY_NO_MEMORY:
		*why = "out of memory reading the query string";
		return 400;
	default:
		*why = "userId is not accepted in auth mode jwt: connect "
		       "with ?token=JWT";
		return 401;
	}
	switch (query_get(query, "token", token, sizeof(token), &len)) {
	case QUERY_NO_MEMORY:
		*why = "out of memory reading the query string";
		return 400;
	case QUERY_DUPLICATE:
		*why = "token given more than once";
		return 401;
	case QUERY_FOUND:
		break;
	case QUERY_ABSENT:
		if (authorization != NULL &&
		    strncasecmp(authorization, "Bearer ", 7) == 0) {
			const char *t = authorization + 7;
			while (*t == ' ')
				t++;
			len = strlen(t);
			if (len < sizeof(token))
				memcpy(token, t, len + 1);
			break;
		}
		*why = "a token is required: ?token=JWT or Authorization: "
		       "Bearer JWT";
		return 401;
	}
	if (len > JWT_MAX_TOKEN) {
		*why = "token too long";
		return 401;
	}
	r = jwt_verify(a->client_keys, token, len, &a->client, user,
		       ID_MAX + 1);
	memset(token, 0, sizeof(token));
	if (r != JWT_OK) {
		*why = jwt_result_text(r);
		return 401;
	}
	return 0;
}
