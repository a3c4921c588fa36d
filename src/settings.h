/* settings.h - the configuration every Parley program reads.
 *
 * One table of options (name, type, default, bounds) in settings.c; the
 * README's configuration section and lighttpd/parley.conf.sample list the
 * same names, and tests/unit/test-settings checks that they do.
 * Read once at start-up; read-only afterwards.
 */
#ifndef PARLEY_SETTINGS_H
#define PARLEY_SETTINGS_H

struct settings {
	char database_url[1024];  /* libpq connection string or URI */
	char database_pool_mode[16]; /* "session" or "transaction" (a pooler) */
	char publish_spec[1024];  /* Pushpin's ZeroMQ PUSH inputs (a list) */
	char pushpin_command_spec[1024]; /* Pushpin's command sockets (a list) */
	long connection_ttl;      /* seconds a connection row lives unrefreshed */
	long max_content_bytes;   /* content limit, UTF-8 bytes, inclusive */
	long max_ids_per_frame;   /* ids in one ack / markRead */
	long max_group_members;   /* members of one group, its creator included */
	long group_fanout_rate;   /* a worker's group publishes a second (0: unpaced) */
	long redelivery_interval; /* seconds before an unacked message is resent */
	long keepalive_interval;  /* seconds between Pushpin keep-alive requests */
	long client_ping_interval;/* idle seconds before Pushpin pings a client */
	long page_messages;       /* messages in one offline-delivery page */
	long max_frame_bytes;     /* largest client frame */
	long max_json_depth;      /* JSON nesting of a frame */
	long max_connections_per_user; /* open connections of one user */
	long rate_limit;          /* frames per second per user */
	long rate_burst;          /* frames a user may send at once */
	long user_connect_rate;   /* connects per second per user (0: any) */
	long user_connect_burst;  /* connects a user may make at once */
	long address_connect_rate;/* connects per second per address (0: any) */
	long address_connect_burst; /* connects an address may make at once */
	long forwarded_hops;      /* proxies before Pushpin in X-Forwarded-For */
	char rate_table[256];     /* the host's shared rate buckets (a file) */
	char metrics_table[256];  /* the host's shared counters (a file) */
	long expire_batch;        /* rows deleted per expiry batch */
	char auth_mode[8];        /* "jwt" or "none" */
	char jwt_secret[512];     /* HS256 shared secret ("base64:" allowed) */
	char jwt_public_keys[512];/* PEM file of RS256/ES256 public keys */
	char jwt_jwks[512];       /* JWKS file of RS256/ES256 public keys */
	char jwt_issuer[256];     /* required "iss" ("" = not checked) */
	char jwt_audience[256];   /* required "aud" ("" = not checked) */
	long jwt_leeway;          /* clock skew allowed for exp/nbf, seconds */
	char grip_sig_key[512];   /* Pushpin's sig_key ("" = not checked) */
	char api_keys_file[512];  /* keys of POST /api/messages ("" = off) */
	char push_webhook_url[1024]; /* offline push target ("" = off) */
	char push_webhook_token[512]; /* its Authorization: Bearer */
	long push_content;        /* 1: the push carries the content */
	long push_timeout;        /* seconds one webhook call may take */
	long push_max_age;        /* seconds a push is retried, at most */
	char log_level[16];
	char run_as_user[64];     /* drop root privileges to this user */
};

struct option_def {
	const char *name;
	bool is_string;
	size_t offset;
	size_t size;      /* strings: buffer size */
	const char *def;  /* default, as text */
	long min, max;    /* numbers: inclusive bounds */
	const char *help;
	const char *choices; /* strings: "a|b|c", the only values; NULL: any */
};

extern const struct option_def settings_options[];
extern const size_t settings_option_count;

void settings_defaults(struct settings *s);
/* Applies "name = value" lines from `path` (NULL: none), then environment
 * variables PARLEY_<NAME> (upper case). On failure writes a reason to err. */
bool settings_load(struct settings *s, const char *path, char *err,
		   size_t errlen) MUST_CHECK;
bool settings_set(struct settings *s, const char *name, const char *value,
		  char *err, size_t errlen) MUST_CHECK;
/* The i-th warning about settings that are valid one by one but work
 * badly together (e.g. connection_ttl below twice keepalive_interval):
 * false when there is no i-th. */
bool settings_warning(const struct settings *s, int i, char *out,
		      size_t size);

#endif
