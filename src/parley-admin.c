/* parley-admin - the operator's tool: look at a user's connections and
 * unacked messages, count what the tables hold, close one connection,
 * and add an API key for the HTTP send API.
 *
 *   connections USER       the user's connection rows
 *   pending USER           the user's messages no device acked (the
 *                          workers' own backlog query, store_pending())
 *   disconnect CONN_ID     closes the connection through Pushpin (a close
 *                          published to its own channel, "c:" + id, on
 *                          every instance), waits until no instance holds
 *                          it or the worker got the CLOSE, then makes
 *                          sure its row is gone
 *   counts                 connections, users online, messages by
 *                          status, groups, queued offline pushes
 *   create-api-key         appends a new random key to api_keys_file
 *   archive --older-than DAYS
 *                          moves messages received more than DAYS days
 *                          ago to messages_archive (sql/007_archive.sql),
 *                          in batches until none is left
 *
 * Every command takes --json: one JSON document on stdout (cJSON), also
 * for a failure found after the options were read ({"error": "..."}).
 * Exit codes (sysexits, as parley-expire): 0 done, 1 not found
 * (disconnect of a connection nobody holds), 64 usage, 69 database or
 * Pushpin's publish input unavailable (every instance's), 70 a query
 * failed, 73/74 the key file cannot be created or written, 75 the
 * connection was still open when --wait ran out (or Pushpin's command
 * socket stopped answering), 78 configuration error (api_keys_file not
 * set, or publish_spec or pushpin_command_spec not a list of endpoints).
 *
 * SECURITY: run by the operator, who owns the configuration; trusts the
 * database, Pushpin's publish input and command socket named there
 * (loopback by default). Command-line ids are checked as ids and travel
 * only as SQL parameters. Message content is printed only with
 * --content, and never logged; a new API key goes to stdout only, never
 * to a log line. Its login needs sql/006_admin.sql's role parley_admin
 * (the workers' role parley_worker does too, but cannot read
 * push_queue).
 */
#include "common.h"

#include "admin.h"
#include "command.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "program.h"
#include "protocol.h"
#include "publish.h"
#include "speclist.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32          /* an API key: 32 random bytes, 64 hex */
#define LABEL_MAX 200         /* bytes of a key's comment label */
#define PENDING_PAGE 500      /* messages per store_pending() call */
#define CHECK_TIMEOUT_MS 2000 /* per conncheck answer */
#define POLL_MS 100           /* disconnect: how often it looks */

enum {
	OPT_JSON = 256, OPT_CONTENT, OPT_LABEL, OPT_CODE, OPT_WAIT, OPT_LIMIT,
	OPT_OLDER_THAN, OPT_BATCH,
};
/* Which options a command takes (bits of 1 << (OPT_x - OPT_JSON)). */
#define OPT_BIT(o) (1u << ((o) - OPT_JSON))

struct admin_cli;

struct command_def {
	const char *name;
	int nargs;       /* operands after the command's name */
	unsigned opts;   /* OPT_BITs it takes (--json: every command) */
	int (*run)(struct admin_cli *m, const struct settings *cfg);
};

struct admin_cli {
	const struct command_def *cmd;
	const char *arg; /* USER or CONN_ID */
	unsigned given;  /* OPT_BITs given */
	bool json, content;
	const char *label;
	int code;        /* disconnect: the close code */
	long wait_s;     /* disconnect: how long to wait for the close */
	long limit;      /* pending: messages listed at most */
	long older_than; /* archive: days */
	long batch;      /* archive: messages per transaction */
};

/* ---- output ---------------------------------------------------------------- */

static int db_rc(enum db_status st)
{
	return st == DB_UNAVAILABLE ? EX_UNAVAILABLE : EX_SOFTWARE;
}

/* Prints doc (and frees it): one JSON document, one line. */
static int emit(cJSON *doc)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;

	cJSON_Delete(doc);
	if (text == NULL) {
		log_error("out of memory");
		return EX_OSERR;
	}
	printf("%s\n", text);
	cJSON_free(text);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

/* Logs the failure and, with --json, prints it as {"error": ...}. */
static int fail(struct admin_cli *m, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct admin_cli *m, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (m->json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "error", msg);
		(void)emit(doc);
	}
	return rc;
}

static cJSON *json_opt_string(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static struct db *open_db(const struct settings *cfg)
{
	struct db *db = db_new_settings(cfg, "parley-admin");

	if (db == NULL)
		log_error("out of memory");
	return db;
}

/* ---- connections USER ------------------------------------------------------ */

static cJSON *conn_json(const struct admin_conn *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "connection_id", c->id);
	cJSON_AddStringToObject(o, "user_id", c->user_id);
	cJSON_AddStringToObject(o, "connected_at", c->connected_at);
	cJSON_AddStringToObject(o, "expires_at", c->expires_at);
	cJSON_AddBoolToObject(o, "expired", c->expired);
	return o;
}

static int run_connections(struct admin_cli *m, const struct settings *cfg)
{
	struct db *db = open_db(cfg);
	struct admin_conn_list l;
	enum db_status st;
	int rc = EX_OK;

	if (db == NULL)
		return EX_OSERR;
	st = admin_user_conns(db, m->arg, &l);
	if (st != DB_OK) {
		rc = fail(m, db_rc(st), "connections of %s: database %s",
			  m->arg, st == DB_UNAVAILABLE ? "unavailable"
						     : "query failed");
	} else if (m->json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON *arr = cJSON_AddArrayToObject(doc, "connections");
		cJSON_AddStringToObject(doc, "user_id", m->arg);
		for (int i = 0; i < l.n; i++)
			cJSON_AddItemToArray(arr, conn_json(&l.items[i]));
		rc = emit(doc);
	} else {
		printf("connection_id\tconnected_at\texpires_at\n");
		for (int i = 0; i < l.n; i++)
			printf("%s\t%s\t%s%s\n", l.items[i].id,
			       l.items[i].connected_at, l.items[i].expires_at,
			       l.items[i].expired ? "\t(expired)" : "");
		log_info("user %s: %d connection(s)", m->arg, l.n);
	}
	admin_conn_list_free(&l);
	db_free(db);
	return rc;
}

/* ---- pending USER ---------------------------------------------------------- */

static cJSON *pending_json(const struct message *msg, bool content)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "message_id", msg->id);
	cJSON_AddStringToObject(o, "conversation_id", msg->conversation_id);
	cJSON_AddStringToObject(o, "sender_id", msg->sender_id);
	cJSON_AddItemToObject(o, "recipient_id",
			      json_opt_string(msg->recipient_id));
	cJSON_AddStringToObject(o, "kind", msg->recipient_id ? "direct"
							     : "group");
	cJSON_AddStringToObject(o, "timestamp", msg->timestamp);
	cJSON_AddStringToObject(o, "status", msg->status);
	cJSON_AddNumberToObject(o, "seq", (double)msg->seq);
	if (content)
		cJSON_AddStringToObject(o, "content", msg->content);
	return o;
}

/* One text line; content (with --content) JSON-quoted, so that a
 * message stays on its line and no control byte reaches the terminal. */
static void pending_line(const struct message *msg, bool content)
{
	printf("%s\t%s\t%s\t%s\t%s\t%s", msg->id, msg->conversation_id,
	       msg->sender_id, msg->recipient_id ? "direct" : "group",
	       msg->timestamp, msg->status);
	if (content) {
		cJSON *s = cJSON_CreateString(msg->content);
		char *q = s ? cJSON_PrintUnformatted(s) : NULL;
		printf("\t%s", q ? q : "\"?\"");
		cJSON_free(q);
		cJSON_Delete(s);
	}
	printf("\n");
}

static int run_pending(struct admin_cli *m, const struct settings *cfg)
{
	struct db *db = open_db(cfg);
	cJSON *doc = NULL, *arr = NULL;
	long long after = 0;
	long listed = 0;
	bool more = false;
	int rc = EX_OK;

	if (db == NULL)
		return EX_OSERR;
	if (m->json) {
		doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "user_id", m->arg);
		arr = cJSON_AddArrayToObject(doc, "pending");
	} else {
		printf("message_id\tconversation_id\tsender_id\tkind\t"
		       "timestamp\tstatus%s\n", m->content ? "\tcontent" : "");
	}
	/* Pages in receive order; one more row than --limit tells
	 * whether the list was cut. */
	for (;;) {
		long want = m->limit - listed + 1;
		long page = want < PENDING_PAGE ? want : PENDING_PAGE;
		struct message_list l;
		enum db_status st = store_pending(db, m->arg, after, 0, page,
						  &l);
		int i, got;

		if (st != DB_OK) {
			cJSON_Delete(doc);
			db_free(db);
			return fail(m, db_rc(st), "pending of %s: database %s",
				    m->arg, st == DB_UNAVAILABLE
						    ? "unavailable"
						    : "query failed");
		}
		for (i = 0; i < l.n && listed < m->limit; i++, listed++) {
			if (m->json)
				cJSON_AddItemToArray(arr, pending_json(
						&l.items[i], m->content));
			else
				pending_line(&l.items[i], m->content);
		}
		more = i < l.n;
		got = l.n;
		if (got > 0)
			after = l.items[got - 1].seq;
		message_list_free(&l);
		if (more || got < page)
			break;
	}
	if (m->json) {
		cJSON_AddBoolToObject(doc, "more", more);
		rc = emit(doc);
	} else {
		log_info("user %s: %ld pending message(s)%s", m->arg, listed,
			 more ? ", and more (--limit)" : "");
	}
	db_free(db);
	return rc;
}

/* ---- disconnect CONN_ID -------------------------------------------------- */

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Pushpin's instances (pushpin_command_spec, a list): a command socket
 * to each, NULL once it failed. */
struct instances {
	struct spec_list specs;
	struct command *cmd[SPEC_LIST_MAX];
};

static void instances_close(struct instances *in)
{
	for (int k = 0; k < in->specs.n; k++) {
		command_close(in->cmd[k]);
		in->cmd[k] = NULL;
	}
}

/* Whether Pushpin holds the connection: 1 one instance does (its index
 * in *holder), 0 every instance answered and none does, -1 unknown (an
 * instance has no command socket, or it stopped answering: then its
 * socket is closed and it is not asked again). */
static int held_by_pushpin(struct instances *in, const char *conn_id,
			   int *holder)
{
	char *ids[1] = { (char *)conn_id }, err[256];
	int unknown = 0;

	/* parley-websocketd's (notify.h): its row is what there is. */
	if (conn_is_websocketd(conn_id))
		return -1;

	for (int k = 0; k < in->specs.n; k++) {
		bool alive[1] = { false };
		if (in->cmd[k] == NULL) {
			unknown = 1;
			continue;
		}
		if (!command_conncheck(in->cmd[k], ids, 1, alive, err,
				       sizeof(err))) {
			log_warn("Pushpin's command socket %s: %s; looking at "
				 "the row instead", in->specs.spec[k], err);
			command_close(in->cmd[k]);
			in->cmd[k] = NULL;
			unknown = 1;
			continue;
		}
		if (alive[0]) {
			*holder = k;
			return 1;
		}
	}
	return unknown ? -1 : 0;
}

/* Whether the row is there: 1, 0, or -1 when the database failed. */
static int row_there(struct db *db, const char *conn_id)
{
	struct admin_conn_list l;
	int there;

	if (admin_find_conn(db, conn_id, &l) != DB_OK)
		return -1;
	there = l.n > 0;
	admin_conn_list_free(&l);
	return there;
}

static int disconnect_result(struct admin_cli *m, const char *user,
			     bool closed, const char *row, double ms)
{
	if (m->json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "connection_id", m->arg);
		cJSON_AddItemToObject(doc, "user_id", json_opt_string(user));
		cJSON_AddBoolToObject(doc, "closed", closed);
		cJSON_AddStringToObject(doc, "row", row);
		cJSON_AddNumberToObject(doc, "ms", (double)(long)ms);
		return emit(doc);
	}
	printf("%s %s (user %s); row %s\n", m->arg,
	       closed ? "closed" : "close sent", user ? user : "unknown", row);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

static int run_disconnect(struct admin_cli *m, const struct settings *cfg)
{
	struct db *db = open_db(cfg);
	struct instances *in = calloc(1, sizeof(*in));
	struct publisher *pub = NULL;
	struct admin_conn_list row = { 0 };
	char err[256], channel[ID_MAX + 8], user[ID_MAX + 1] = "";
	double t0 = mono_ms(), deadline;
	enum db_status st;
	bool dropped, gone = false;
	int held, holder = -1, reachable = 0, rc;

	if (db == NULL || in == NULL) {
		db_free(db);
		free(in);
		return EX_OSERR;
	}
	st = admin_find_conn(db, m->arg, &row);
	if (st != DB_OK) {
		rc = fail(m, db_rc(st), "connection %s: database %s", m->arg,
			  st == DB_UNAVAILABLE ? "unavailable" : "query failed");
		goto out;
	}
	if (row.n > 0)
		snprintf(user, sizeof(user), "%s", row.items[0].user_id);
	/* Every instance is asked (the connection may be on any). */
	if (!spec_list_parse(cfg->pushpin_command_spec,
			     "pushpin_command_spec", &in->specs, err,
			     sizeof(err))) {
		rc = fail(m, EX_CONFIG, "%s", err);
		goto out;
	}
	for (int k = 0; k < in->specs.n; k++) {
		in->cmd[k] = command_open(in->specs.spec[k], CHECK_TIMEOUT_MS,
					  err, sizeof(err));
		if (in->cmd[k] == NULL)
			log_warn("Pushpin's command socket %s: %s; looking at "
				 "the row instead", in->specs.spec[k], err);
	}
	held = held_by_pushpin(in, m->arg, &holder);
	if (row.n == 0 && held != 1) {
		rc = fail(m, 1, "no connection %s: no row%s", m->arg,
			  held == 0 ? ", and Pushpin does not hold it" : "");
		goto out;
	}
	if (held == 0) {
		/* Pushpin lost it without telling the workers (README,
		 * "Connection expiry"): only the row is left. */
		st = admin_drop_conn(db, m->arg, &dropped);
		if (st != DB_OK) {
			rc = fail(m, db_rc(st), "connection %s: its stale "
				  "row could not be deleted", m->arg);
			goto out;
		}
		log_info("connection %s (user %s): Pushpin does not hold it; "
			 "stale row deleted", m->arg, user);
		rc = disconnect_result(m, user[0] ? user : NULL, true,
				       dropped ? "deleted" : "none",
				       mono_ms() - t0);
		goto out;
	}
	if (held == 1 && in->specs.n > 1)
		log_info("connection %s is on %s", m->arg,
			 in->specs.spec[holder]);
	/* The close goes to every instance (only the one holding the
	 * connection acts on it); it fails only when no publish input
	 * accepts a connection. */
	pub = publisher_new(cfg->publish_spec);
	if (pub == NULL) {
		rc = fail(m, EX_CONFIG, "publish_spec: not a list of "
			  "endpoints, or out of memory");
		goto out;
	}
	/* A parley-websocketd connection hears the close as NOTIFY only. */
	publisher_set_db(pub, db);
	if (conn_is_websocketd(m->arg) && !publisher_notifies(pub)) {
		rc = fail(m, EX_CONFIG, "connection %s is parley-websocketd's: "
			  "the close goes as NOTIFY, and publish_spec has no "
			  "postgres:", m->arg);
		goto out;
	}
	for (int k = 0; k < publisher_count(pub); k++) {
		if (publisher_reachable(publisher_spec(pub, k), 1000, err,
					sizeof(err)))
			reachable++;
		else
			log_warn("Pushpin's publish input %s: %s",
				 publisher_spec(pub, k), err);
	}
	if (reachable == 0 && !conn_is_websocketd(m->arg)) {
		rc = fail(m, EX_UNAVAILABLE, "Pushpin's publish input %s: %s",
			  cfg->publish_spec, err);
		goto out;
	}
	conn_channel(channel, sizeof(channel), m->arg);
	if (!publish_close(pub, channel, m->code)) {
		rc = fail(m, EX_UNAVAILABLE, "the close for %s could not be "
			  "published to %s", m->arg, cfg->publish_spec);
		goto out;
	}
	if (m->wait_s == 0) {
		log_info("connection %s (user %s): close sent, not waited for",
			 m->arg, user[0] ? user : "unknown");
		rc = disconnect_result(m, user[0] ? user : NULL, false,
				       "kept", mono_ms() - t0);
		goto out;
	}
	/* Closed: Pushpin no longer holds it, or the worker deleted its
	 * row, which it does on the CLOSE Pushpin sends it as soon as it
	 * closes the session (Pushpin may hold the socket a while longer
	 * for a client that does not answer the close frame, but sends
	 * it nothing more). */
	deadline = t0 + (double)m->wait_s * 1000;
	while (!gone && mono_ms() < deadline) {
		struct timespec pause = { 0, POLL_MS * 1000000L };
		nanosleep(&pause, NULL);
		held = held_by_pushpin(in, m->arg, &holder);
		gone = held == 0 || (row.n > 0 && row_there(db, m->arg) == 0);
	}
	if (!gone) {
		rc = fail(m, EX_TEMPFAIL, "connection %s is still open after "
			  "%ld s (not yet subscribed to %s: still getting its "
			  "backlog, or connected before parley-admin's "
			  "channel existed); its row is kept", m->arg,
			  m->wait_s, channel);
		goto out;
	}
	/* Normally the worker deleted the row on Pushpin's CLOSE; if
	 * Pushpin dropped the connection without one, the row is stale. */
	st = admin_drop_conn(db, m->arg, &dropped);
	if (st != DB_OK) {
		rc = fail(m, db_rc(st), "connection %s closed; its row could "
			  "not be deleted (parley-expire --reconcile will)",
			  m->arg);
		goto out;
	}
	log_info("connection %s (user %s) closed in %.0f ms; row %s", m->arg,
		 user[0] ? user : "unknown", mono_ms() - t0,
		 dropped ? "deleted here" : "deleted by the worker");
	rc = disconnect_result(m, user[0] ? user : NULL, true,
			       dropped ? "deleted" : "deleted by the worker",
			       mono_ms() - t0);
out:
	admin_conn_list_free(&row);
	instances_close(in);
	free(in);
	publisher_free(pub); /* waits (ZMQ_LINGER) until the close is sent */
	db_free(db);
	return rc;
}

/* ---- counts ---------------------------------------------------------------- */

static void add_count(cJSON *o, const char *name, long long v)
{
	cJSON_AddNumberToObject(o, name, (double)v);
}

static int run_counts(struct admin_cli *m, const struct settings *cfg)
{
	static const char *const push_state[] = {
		[ADMIN_PUSH_ABSENT] = "absent",
		[ADMIN_PUSH_UNREADABLE] = "unreadable",
		[ADMIN_PUSH_OK] = "ok",
	};
	struct db *db = open_db(cfg);
	struct admin_counts k;
	enum db_status st;
	int rc;

	if (db == NULL)
		return EX_OSERR;
	st = admin_counts(db, &k);
	db_free(db);
	if (st != DB_OK)
		return fail(m, db_rc(st), "counts: database %s",
			    st == DB_UNAVAILABLE ? "unavailable"
						 : "query failed");
	if (k.push == ADMIN_PUSH_UNREADABLE)
		log_warn("push_queue: this login may not read it (grant it "
			 "role parley_admin, sql/006_admin.sql)");
	if (m->json) {
		cJSON *doc = cJSON_CreateObject(), *o;
		o = cJSON_AddObjectToObject(doc, "connections");
		add_count(o, "open", k.connections);
		add_count(o, "expired", k.expired);
		add_count(doc, "users_online", k.users_online);
		o = cJSON_AddObjectToObject(doc, "messages");
		add_count(o, "sent", k.sent);
		add_count(o, "delivered", k.delivered);
		add_count(o, "read", k.read);
		add_count(o, "deleted", k.deleted);
		add_count(o, "pending", k.pending);
		add_count(doc, "group_messages", k.group_messages);
		add_count(doc, "groups", k.groups);
		add_count(doc, "group_members", k.members);
		o = cJSON_AddObjectToObject(doc, "group_receipts");
		add_count(o, "delivered", k.receipts_delivered);
		add_count(o, "read", k.receipts_read);
		if (k.push == ADMIN_PUSH_OK) {
			o = cJSON_AddObjectToObject(doc, "push_queue");
			add_count(o, "queued", k.push_queued);
			add_count(o, "retrying", k.push_retrying);
		} else {
			cJSON_AddNullToObject(doc, "push_queue");
		}
		cJSON_AddStringToObject(doc, "push_queue_status",
					push_state[k.push]);
		return emit(doc);
	}
	printf("connections               %lld\n"
	       "connections.expired       %lld\n"
	       "users_online              %lld\n"
	       "messages.sent             %lld\n"
	       "messages.delivered        %lld\n"
	       "messages.read             %lld\n"
	       "messages.deleted          %lld\n"
	       "messages.pending          %lld\n"
	       "group_messages            %lld\n"
	       "groups                    %lld\n"
	       "group_members             %lld\n"
	       "group_receipts.delivered  %lld\n"
	       "group_receipts.read       %lld\n",
	       k.connections, k.expired, k.users_online, k.sent, k.delivered,
	       k.read, k.deleted, k.pending, k.group_messages, k.groups,
	       k.members, k.receipts_delivered, k.receipts_read);
	if (k.push == ADMIN_PUSH_OK)
		printf("push_queue.queued         %lld\n"
		       "push_queue.retrying       %lld\n", k.push_queued,
		       k.push_retrying);
	else
		printf("push_queue                %s\n", push_state[k.push]);
	rc = fflush(stdout) == 0 ? EX_OK : EX_IOERR;
	return rc;
}

/* ---- create-api-key ---------------------------------------------------------- */

/* A comment line for the key: printable, one line (a newline in it
 * would make the rest of the label a key the workers accept). */
static bool valid_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LABEL_MAX || !valid_utf8(s, n))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static bool random_key(char *hex, size_t size)
{
	unsigned char raw[KEY_BYTES];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < size; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return true;
}

/* Opens the key file for appending, creating it 0640 (and, run as root,
 * of run_as_user's group, which the workers read it as). *created. */
static int open_key_file(const char *path, const char *group_user,
			 bool *created)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC |
			    O_NOCTTY, 0640);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		return open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	/* Exactly 0640 whatever the umask; the workers' group. */
	if (fchmod(fd, 0640) != 0)
		log_warn("%s: chmod: %s", path, strerror(errno));
	if (geteuid() == 0 && *group_user != '\0') {
		struct passwd *pw = getpwnam(group_user);
		if (pw == NULL || fchown(fd, (uid_t)-1, pw->pw_gid) != 0)
			log_warn("%s: not given to the group of %s (the "
				 "workers may not read it)", path, group_user);
	}
	return fd;
}

static int run_create_api_key(struct admin_cli *m, const struct settings *cfg)
{
	const char *path = cfg->api_keys_file;
	const char *label = m->label ? m->label : "api key";
	char key[2 * KEY_BYTES + 1], when[32], line[LABEL_MAX + 256];
	struct stat sb;
	struct tm tm;
	time_t now = time(NULL);
	bool created, newline = false;
	size_t len;
	int fd, rc = EX_OK;

	if (*path == '\0')
		return fail(m, EX_CONFIG, "api_keys_file is not set: name the "
			    "workers' key file in the settings (or "
			    "PARLEY_API_KEYS_FILE)");
	if (!random_key(key, sizeof(key)))
		return fail(m, EX_OSERR, "getrandom: %s", strerror(errno));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fd = open_key_file(path, cfg->run_as_user, &created);
	if (fd < 0)
		return fail(m, EX_CANTCREAT, "%s: %s", path, strerror(errno));
	/* One writer at a time (another parley-admin); the workers only
	 * read, and see the whole lines of one write. */
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &sb) != 0) {
		rc = fail(m, EX_IOERR, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = fail(m, EX_CANTCREAT, "%s: not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 0007)
		log_warn("%s: readable by everyone (chmod o-rwx)", path);
	if (sb.st_size > 0) {
		char last;
		newline = pread(fd, &last, 1, sb.st_size - 1) == 1 &&
			  last != '\n';
	}
	len = (size_t)snprintf(line, sizeof(line), "%s# %s created %s by "
			       "parley-admin\n%s\n", newline ? "\n" : "",
			       label, when, key);
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = fail(m, EX_IOERR, "%s: write: %s (the file may end "
			  "with a partial line)", path, strerror(errno));
		goto out;
	}
	log_info("a key \"%s\" was appended to %s%s", label, path,
		 created ? " (created, mode 0640)" : "");
	if (m->json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "key", key);
		cJSON_AddStringToObject(doc, "file", path);
		cJSON_AddStringToObject(doc, "label", label);
		cJSON_AddStringToObject(doc, "created_at", when);
		rc = emit(doc);
	} else {
		printf("%s\n", key);
		rc = fflush(stdout) == 0 ? EX_OK : EX_IOERR;
	}
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(line, sizeof(line));
	if (close(fd) != 0 && rc == EX_OK)
		rc = fail(m, EX_IOERR, "%s: close: %s", path, strerror(errno));
	return rc;
}

/* ---- archive ---------------------------------------------------------------- */

/* Batches until one moves nothing; each its own transaction, so a stop
 * (or a failure) keeps what the earlier ones moved. */
static int run_archive(struct admin_cli *m, const struct settings *cfg)
{
	struct db *db;
	long long total = 0, moved;
	long batches = 0;
	enum db_status st;

	if (!(m->given & OPT_BIT(OPT_OLDER_THAN)))
		return fail(m, EX_USAGE, "archive needs --older-than DAYS");
	db = open_db(cfg);
	if (db == NULL)
		return EX_OSERR;
	do {
		st = admin_archive_batch(db, m->older_than, m->batch, &moved);
		if (st != DB_OK) {
			db_free(db);
			return fail(m, db_rc(st), "archive: database %s after "
				    "%lld messages moved (is sql/007_archive.sql "
				    "applied, and this login in parley_admin?)",
				    st == DB_UNAVAILABLE ? "unavailable"
							 : "query failed", total);
		}
		total += moved;
		batches++;
	} while (moved > 0);
	db_free(db);
	if (m->json) {
		cJSON *doc = cJSON_CreateObject();
		add_count(doc, "archived", total);
		add_count(doc, "older_than_days", m->older_than);
		add_count(doc, "batches", batches);
		return emit(doc);
	}
	printf("archived %lld messages received more than %ld days ago "
	       "(%ld batches)\n", total, m->older_than, batches);
	return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
}

/* ---- main ---------------------------------------------------------------------- */

static const struct command_def commands[] = {
	{ "connections", 1, 0, run_connections },
	{ "pending", 1, OPT_BIT(OPT_CONTENT) | OPT_BIT(OPT_LIMIT), run_pending },
	{ "disconnect", 1, OPT_BIT(OPT_CODE) | OPT_BIT(OPT_WAIT),
	  run_disconnect },
	{ "counts", 0, 0, run_counts },
	{ "create-api-key", 0, OPT_BIT(OPT_LABEL), run_create_api_key },
	{ "archive", 0, OPT_BIT(OPT_OLDER_THAN) | OPT_BIT(OPT_BATCH),
	  run_archive },
};

static bool number(const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool admin_option(void *ctx, int opt, const char *arg)
{
	struct admin_cli *m = ctx;
	long v;

	if (opt < OPT_JSON || opt > OPT_BATCH)
		return false;
	m->given |= OPT_BIT(opt);
	switch (opt) {
	case OPT_JSON:
		m->json = true;
		return true;
	case OPT_CONTENT:
		m->content = true;
		return true;
	case OPT_LABEL:
		if (!valid_label(arg)) {
			log_error("--label: 1..%d bytes of UTF-8 text, no "
				  "control characters", LABEL_MAX);
			return false;
		}
		m->label = arg;
		return true;
	case OPT_CODE:
		/* What an application may send (RFC 6455 7.4): a normal
		 * close, or a code of its own. */
		if (!number(arg, 1000, 4999, &v) || (v != 1000 && v < 3000)) {
			log_error("--code: 1000, or 3000..4999");
			return false;
		}
		m->code = (int)v;
		return true;
	case OPT_WAIT:
		if (!number(arg, 0, 600, &m->wait_s)) {
			log_error("--wait: 0..600 seconds");
			return false;
		}
		return true;
	case OPT_LIMIT:
		if (!number(arg, 1, 1000000, &m->limit)) {
			log_error("--limit: 1..1000000 messages");
			return false;
		}
		return true;
	case OPT_OLDER_THAN:
		if (!number(arg, 1, 36500, &m->older_than)) {
			log_error("--older-than: 1..36500 days");
			return false;
		}
		return true;
	case OPT_BATCH:
		if (!number(arg, 1, 100000, &m->batch)) {
			log_error("--batch: 1..100000 messages");
			return false;
		}
		return true;
	}
	return false;
}

static bool admin_operands(void *ctx, int argc, char **argv)
{
	struct admin_cli *m = ctx;
	unsigned extra;

	if (argc < 1) {
		log_error("no command given");
		return false;
	}
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			m->cmd = &commands[i];
	if (m->cmd == NULL) {
		log_error("unknown command %s", argv[0]);
		return false;
	}
	if (argc - 1 != m->cmd->nargs) {
		log_error("%s takes %d argument(s)", m->cmd->name,
			  m->cmd->nargs);
		return false;
	}
	extra = m->given & ~(m->cmd->opts | OPT_BIT(OPT_JSON));
	if (extra != 0) {
		log_error("%s does not take that option", m->cmd->name);
		return false;
	}
	if (m->cmd->nargs == 1) {
		m->arg = argv[1];
		if (!valid_id(m->arg, strlen(m->arg))) {
			log_error("%s: not an id (1..%d bytes of printable "
				  "ASCII)", m->cmd->name, ID_MAX);
			return false;
		}
	}
	return true;
}

static int admin_run(void *ctx, const struct settings *cfg)
{
	struct admin_cli *m = ctx;
	return m->cmd->run(m, cfg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "content", no_argument, NULL, OPT_CONTENT },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "code", required_argument, NULL, OPT_CODE },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "older-than", required_argument, NULL, OPT_OLDER_THAN },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ NULL, 0, NULL, 0 },
	};
	static const struct program prog = {
		.name = "parley-admin",
		.usage = "[--json] COMMAND\n"
			 "  connections USER      the user's connection rows\n"
			 "  pending USER [--content] [--limit N]\n"
			 "                        the user's unacked messages "
			 "(content only with --content;\n"
			 "                        at most N, default 1000)\n"
			 "  disconnect CONN_ID [--code N] [--wait S]\n"
			 "                        close it through Pushpin "
			 "(close code N, default 4000),\n"
			 "                        wait up to S s (default 5) "
			 "until it is gone, drop its row\n"
			 "  counts                connections, users online, "
			 "messages, groups, pushes\n"
			 "  create-api-key [--label TEXT]\n"
			 "                        append a new key to "
			 "api_keys_file and print it\n"
			 "  archive --older-than DAYS [--batch N]\n"
			 "                        move messages received more "
			 "than DAYS days ago to\n"
			 "                        messages_archive, N a "
			 "transaction (default 5000)\n"
			 "  --json                one JSON document on stdout",
		.options = opts,
		.option = admin_option,
		.operands = admin_operands,
		.run = admin_run,
	};
	struct admin_cli m = { .code = 4000, .wait_s = 5, .limit = 1000,
			       .batch = 5000 };

	return program_main(argc, argv, &prog, &m);
}
