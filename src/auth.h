/* auth.h - who is connecting, and is it Pushpin asking.
 *
 * Two checks, both decided here and nowhere else:
 * - the handshake (OPEN): in auth mode "none" the userId query parameter
 *   is the user (development only); in mode "jwt" a token from ?token= or
 *   "Authorization: Bearer" must verify, and its "sub" is the user;
 * - every request: when grip_sig_key is set, the Grip-Sig header must be
 *   a valid HS256 JWT from Pushpin, else the request is refused (403), so
 *   nobody who can reach the workers directly can forge Connection-Id or
 *   Meta-* headers.
 * Pure code (no FastCGI, no database): unit tests call it directly.
 */
#ifndef PARLEY_AUTH_H
#define PARLEY_AUTH_H

#include "settings.h"

struct auth;

/* Builds the key sets from the settings; NULL with a reason in err when
 * the configuration cannot work (jwt mode without keys, unreadable key
 * files, a bad grip_sig_key). */
struct auth *auth_new(const struct settings *cfg, char *err, size_t errlen);
void auth_free(struct auth *a);
bool auth_is_none(const struct auth *a);

/* True when the request may proceed (no key configured, or a valid
 * Grip-Sig). sig may be NULL (header absent). */
bool auth_check_grip(const struct auth *a, const char *sig) MUST_CHECK;

/* The handshake. On success copies the user id into user (ID_MAX + 1
 * bytes) and returns 0; otherwise returns the HTTP status to refuse with
 * (400 bad request, 401 not authenticated) and sets *why to a one-line
 * reason that never contains the token. authorization may be NULL. */
int auth_open(const struct auth *a, const char *query,
	      const char *authorization, char *user, const char **why)
    MUST_CHECK;

#endif
