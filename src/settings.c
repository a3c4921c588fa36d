/* settings.c - see settings.h. */
#include "common.h"
#include "settings.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>

#define STR(field, def, help) \
	{ #field, true, offsetof(struct settings, field), \
	  sizeof(((struct settings *)0)->field), def, 0, 0, help, NULL }
#define CHOICE(field, def, choices, help) \
	{ #field, true, offsetof(struct settings, field), \
	  sizeof(((struct settings *)0)->field), def, 0, 0, help, choices }
#define NUM(field, def, lo, hi, help) \
	{ #field, false, offsetof(struct settings, field), 0, def, lo, hi, \
	  help, NULL }

const struct option_def settings_options[] = {
	STR(database_url, "dbname=parley",
	    "PostgreSQL connection string or URI"),
	CHOICE(database_pool_mode, "session", "session|transaction",
	       "session: the connection is the program's own session "
	       "(PostgreSQL itself, or a session-mode pooler): named prepared "
	       "statements and its timeouts set once; transaction: a "
	       "transaction-mode pooler (PgBouncer pool_mode = transaction): "
	       "unnamed statements, parsed on every call, and no session "
	       "setting (the pooler sets the timeouts); parley-migrate and "
	       "parley-push refuse it"),
	STR(publish_spec, "tcp://127.0.0.1:5560",
	    "Pushpin handler's ZeroMQ PUSH endpoint (push_in_spec); several "
	    "instances: every one's, comma- or space-separated"),
	STR(pushpin_command_spec, "tcp://127.0.0.1:5563",
	    "Pushpin handler's command socket (command_spec), for "
	    "parley-expire --reconcile; several instances: every one's"),
	NUM(connection_ttl, "86400", 10, 31536000,
	    "seconds until an unrefreshed connection row expires"),
	NUM(max_content_bytes, "65536", 1, 131072,
	    "largest content (and replyToContent), in UTF-8 bytes"),
	NUM(max_ids_per_frame, "500", 1, 500,
	    "largest messageIds array in one ack or markRead"),
	NUM(max_group_members, "1000", 2, 10000,
	    "members of one group, its creator included (and the largest "
	    "members array of createGroup, addMembers, removeMembers)"),
	NUM(group_fanout_rate, "1000", 0, 1000000,
	    "publishes a second one worker makes of a group event, paced so "
	    "that the members' acks do not arrive all at once (0: unpaced)"),
	NUM(redelivery_interval, "30", 5, 86400,
	    "seconds before a connected device gets an unacked message again"),
	NUM(keepalive_interval, "25", 20, 1700,
	    "seconds between Pushpin's keep-alive requests per connection"),
	NUM(client_ping_interval, "60", 5, 1700,
	    "seconds of silence after which Pushpin sends the client a "
	    "WebSocket ping (keeps NATs and condure's 1800 s idle timeout "
	    "away)"),
	NUM(page_messages, "200", 1, 1000,
	    "messages in one page of offline delivery"),
	NUM(max_frame_bytes, "262144", 1024, 8388608,
	    "largest client frame, in bytes"),
	NUM(max_json_depth, "32", 2, 1000, "deepest JSON nesting of a frame"),
	NUM(max_connections_per_user, "20", 1, 100000,
	    "open connections of one user; more are refused with 429"),
	NUM(rate_limit, "50", 1, 1000000,
	    "frames per second one user may send, all connections together "
	    "(token bucket)"),
	NUM(rate_burst, "100", 1, 1000000,
	    "frames one user may send at once"),
	NUM(user_connect_rate, "1", 0, 1000000,
	    "connects per second one user may make (token bucket; 0: not "
	    "limited); more are refused with 429"),
	NUM(user_connect_burst, "30", 1, 1000000,
	    "connects one user may make at once"),
	NUM(address_connect_rate, "20", 0, 1000000,
	    "connection attempts per second from one client address, failed "
	    "ones included (token bucket; 0: not limited); more are refused "
	    "with 429"),
	NUM(address_connect_burst, "200", 1, 1000000,
	    "connection attempts one client address may make at once"),
	NUM(forwarded_hops, "0", 0, 16,
	    "proxies in front of Pushpin that append to X-Forwarded-For (0: "
	    "the client is the last entry, as Pushpin appends it)"),
	STR(rate_table, "/dev/shm/parley-rates",
	    "file of the host's shared rate buckets (on a tmpfs), mapped by "
	    "every parley-ws of the host"),
	STR(metrics_table, "/dev/shm/parley-metrics",
	    "file of the host's shared counters that /metrics shows (on a "
	    "tmpfs), mapped by every parley-ws of the host"),
	NUM(expire_batch, "5000", 1, 100000,
	    "rows the expiry job deletes per transaction"),
	CHOICE(log_level, "info", "debug|info|warn|error",
	       "debug, info, warn or error"),
	STR(run_as_user, "", "when started as root, parley-ws switches to "
	    "this user before serving (empty: no switch, a warning)"),
	CHOICE(auth_mode, "jwt", "jwt|none",
	       "jwt (production) or none (development only)"),
	STR(jwt_secret, "", "HS256 shared secret; base64:... for binary"),
	STR(jwt_public_keys, "", "PEM file of RS256/ES256 public keys"),
	STR(jwt_jwks, "", "JWKS file of RS256/ES256 public keys"),
	STR(jwt_issuer, "", "required iss claim (empty: not checked)"),
	STR(jwt_audience, "", "required aud claim (empty: not checked)"),
	NUM(jwt_leeway, "60", 0, 600, "seconds of clock skew for exp and nbf"),
	STR(grip_sig_key, "", "Pushpin's sig_key: every request must carry "
	    "a valid Grip-Sig (empty: not checked)"),
	STR(api_keys_file, "", "file of the API keys that POST /api/messages "
	    "accepts, one a line (empty: the HTTP API is off)"),
	STR(push_webhook_url, "", "URL that parley-push POSTs an offline "
	    "recipient's notification to (empty: no offline push)"),
	STR(push_webhook_token, "", "sent to the webhook as Authorization: "
	    "Bearer (empty: no Authorization header)"),
	NUM(push_content, "0", 0, 1,
	    "1: the offline push carries the message content too"),
	NUM(push_timeout, "5", 1, 60,
	    "seconds one webhook call may take before it counts as failed"),
	NUM(push_max_age, "86400", 60, 2592000,
	    "seconds an undelivered push is retried before it is dropped"),
};
const size_t settings_option_count = ARRAY_LEN(settings_options);

static const struct option_def *find_option(const char *name)
{
	for (size_t i = 0; i < settings_option_count; i++)
		if (strcmp(settings_options[i].name, name) == 0)
			return &settings_options[i];
	return NULL;
}

/* value is one of the '|'-separated words of choices. */
static bool is_choice(const char *choices, const char *value)
{
	size_t n = strlen(value);

	for (const char *p = choices; *p != '\0';) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && memcmp(p, value, n) == 0)
			return true;
		p += len + (bar != NULL);
	}
	return false;
}

bool settings_set(struct settings *s, const char *name, const char *value,
		  char *err, size_t errlen)
{
	const struct option_def *o = find_option(name);
	char *end;
	long v;

	if (o == NULL) {
		snprintf(err, errlen, "unknown option '%s'", name);
		return false;
	}
	if (o->is_string) {
		if (strlen(value) >= o->size) {
			snprintf(err, errlen, "%s: value too long", name);
			return false;
		}
		if (o->choices != NULL && !is_choice(o->choices, value)) {
			snprintf(err, errlen, "%s: '%s' is not one of %s", name,
				 value, o->choices);
			return false;
		}
		memcpy((char *)s + o->offset, value, strlen(value) + 1);
		return true;
	}
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0') {
		snprintf(err, errlen, "%s: '%s' is not a whole number", name,
			 value);
		return false;
	}
	if (v < o->min || v > o->max) {
		snprintf(err, errlen, "%s: %ld is outside %ld..%ld", name, v,
			 o->min, o->max);
		return false;
	}
	*(long *)(void *)((char *)s + o->offset) = v;
	return true;
}

void settings_defaults(struct settings *s)
{
	char err[128];

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < settings_option_count; i++)
		if (!settings_set(s, settings_options[i].name,
				  settings_options[i].def, err, sizeof(err)))
			abort(); /* a default outside its own bounds */
}

static char *trim(char *p)
{
	char *e;

	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return p;
}

static bool load_file(struct settings *s, const char *path, char *err,
		      size_t errlen)
{
	char *line = NULL, why[256];
	size_t cap = 0;
	int lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	while (getline(&line, &cap, f) != -1) {
		char *p = trim(line), *eq;
		lineno++;
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected name = value",
				 path, lineno);
			free(line);
			fclose(f);
			return false;
		}
		*eq = '\0';
		if (!settings_set(s, trim(p), trim(eq + 1), why, sizeof(why))) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			free(line);
			fclose(f);
			return false;
		}
	}
	free(line);
	fclose(f);
	return true;
}

bool settings_load(struct settings *s, const char *path, char *err,
		   size_t errlen)
{
	char envname[64], why[256];

	settings_defaults(s);
	if (path != NULL && *path != '\0' && !load_file(s, path, err, errlen))
		return false;
	for (size_t i = 0; i < settings_option_count; i++) {
		const char *name = settings_options[i].name, *v;
		size_t j;
		memcpy(envname, "PARLEY_", 7);
		for (j = 0; name[j] != '\0' && j + 8 < sizeof(envname); j++)
			envname[7 + j] = (char)toupper((unsigned char)name[j]);
		envname[7 + j] = '\0';
		v = getenv(envname);
		if (v != NULL && !settings_set(s, name, v, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", envname, why);
			return false;
		}
	}
	return true;
}

bool settings_warning(const struct settings *s, int i, char *out, size_t size)
{
	int n = 0;

	if (s->connection_ttl < 2 * s->keepalive_interval && n++ == i) {
		snprintf(out, size, "connection_ttl %ld is below twice "
			 "keepalive_interval %ld: idle live connections may "
			 "expire", s->connection_ttl, s->keepalive_interval);
		return true;
	}
	return false;
}
