/* fuzz-auth.c - libFuzzer target for the handshake and Grip-Sig decisions
 * of auth.h, in auth mode none and in auth mode jwt (HS256 secret,
 * issuer checked), both with a grip_sig_key.
 *
 * The input is up to three lines: the query string, the Authorization
 * header (absent when there is no second line) and the Grip-Sig header
 * (absent when there is no third line). A handshake either succeeds with
 * a valid user id or is refused with 400/401 and a reason. */
#include "common.h"
#include "auth.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define die(...) (fprintf(stderr, "fuzz-auth: " __VA_ARGS__), \
		  fputc('\n', stderr), abort())

/* Shared with make-corpus. */
#define SECRET "fuzz-secret-0123456789abcdef"
#define GRIP_KEY "fuzz-grip-key"

static struct auth *none, *jwt;

static struct auth *make(const char *mode)
{
	struct settings cfg;
	struct auth *a;
	char err[256] = "";

	settings_defaults(&cfg);
	snprintf(cfg.auth_mode, sizeof(cfg.auth_mode), "%s", mode);
	snprintf(cfg.jwt_secret, sizeof(cfg.jwt_secret), "%s", SECRET);
	snprintf(cfg.jwt_issuer, sizeof(cfg.jwt_issuer), "parley-fuzz");
	snprintf(cfg.grip_sig_key, sizeof(cfg.grip_sig_key), "%s", GRIP_KEY);
	a = auth_new(&cfg, err, sizeof(err));
	if (a == NULL)
		die("auth_new(%s): %s", mode, err);
	return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	none = make("none");
	jwt = make("jwt");
	return 0;
}

static void handshake(const struct auth *a, const char *query,
		      const char *authorization)
{
	char *user = malloc(ID_MAX + 1);
	const char *why = NULL;
	int status;

	if (user == NULL)
		abort();
	memset(user, 'X', ID_MAX + 1);
	status = auth_open(a, query, authorization, user, &why);
	if (status == 0) {
		if (memchr(user, '\0', ID_MAX + 1) == NULL ||
		    !valid_id(user, strlen(user)))
			die("accepted user is not a valid id");
	} else if ((status != 400 && status != 401) || why == NULL ||
		   *why == '\0') {
		die("refused with status %d and no reason", status);
	}
	free(user);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *authz = NULL, *sig = NULL, *nl;

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	buf[size] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		authz = nl + 1;
		if ((nl = strchr(authz, '\n')) != NULL) {
			*nl = '\0';
			sig = nl + 1;
		}
	}
	handshake(none, buf, authz);
	handshake(jwt, buf, authz);
	(void)auth_check_grip(none, sig);
	(void)auth_check_grip(jwt, sig);
	free(buf);
	return 0;
}
