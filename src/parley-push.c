/* parley-push - the offline push sender (PROTOCOL.md section 7; README,
 * "Offline push").
 *
 * parley-ws queues a push_queue row for every recipient (or group
 * member) who had no connection when their message was stored, in the
 * same statement as the message (sql/005_push.sql). This daemon takes
 * due rows (push.h), POSTs each one's JSON to push_webhook_url with up
 * to PUSH_PARALLEL calls in flight (libcurl's multi interface), and:
 *   2xx                  deletes the row (sent);
 *   408, 425, 429, 5xx,
 *   no answer in time,
 *   no connection        keeps it, due again after a backoff of 1 s
 *                        doubling to 300 s (with jitter);
 *   another 4xx          deletes it (the webhook refuses it for good).
 * A row older than push_max_age is dropped unsent, and one whose message
 * a device acked meanwhile (or that was deleted) is dropped quietly. The
 * sender's ack never waits for any of this: parley-ws only queues.
 * Wakes at once on the queue's NOTIFY, and looks every second anyway.
 *
 * Exit codes (sysexits): 0 stopped by SIGTERM/SIGINT, 64 usage, 71 no
 * libcurl, 73 metrics_table cannot be mapped, 77 the user switch
 * failed, 78 configuration error (no push_webhook_url).
 *
 * SECURITY: trusts the database and the webhook URL of its
 * configuration. What it sends leaves the host: user, message,
 * conversation and sender ids and the sender's name, and the content
 * only with push_content = 1. Never logs a body or the token.
 */
#include "common.h"

#include <libpq-fe.h>
#include <curl/curl.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "program.h"
#include "push.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#define PUSH_PARALLEL 8    /* webhook calls in flight */
#define IDLE_WAIT_MS 1000  /* the longest wait between looks */
#define LEASE_EXTRA_S 30   /* a taken row's lease beyond push_timeout */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

struct call {
	CURL *easy;
	struct curl_slist *headers;
	struct push_job job; /* owns its strings */
	char error[CURL_ERROR_SIZE];
	bool busy;
};

struct pusher {
	const struct settings *cfg;
	struct db *db;
	CURLM *multi;
	struct call calls[PUSH_PARALLEL];
	int busy;
	int listen_pid; /* the backend that LISTENs; 0: none */
	char auth[600]; /* "Authorization: Bearer ..." or "" */
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static void job_free(struct push_job *j)
{
	free(j->message_id);
	free(j->user_id);
	free(j->body);
	*j = (struct push_job){ 0 };
}

/* LISTEN on the current database connection (again after a reconnect). */
static void listen_queue(struct pusher *p)
{
	PGconn *c = db_conn(p->db);
	enum db_status st;
	PGresult *r;

	if (c == NULL || PQbackendPID(c) == p->listen_pid)
		return;
	r = db_exec(p->db, "LISTEN parley_push", &st);
	if (r == NULL)
		return;
	PQclear(r);
	p->listen_pid = PQbackendPID(c);
}

/* Reads what the connection has (notifications); true when the queue
 * was notified. */
static bool take_notifies(struct pusher *p)
{
	PGconn *c = db_conn(p->db);
	PGnotify *n;
	bool got = false;

	if (c == NULL || !PQconsumeInput(c))
		return false;
	while ((n = PQnotifies(c)) != NULL) {
		got = true;
		PQfreemem(n);
	}
	return got;
}

static void settle(struct pusher *p, struct push_job *j, bool sent,
		   const char *why)
{
	if (push_done(p->db, j) != DB_OK) /* due again after the lease */
		log_warn("push %s to %s: %s, but the row could not be "
			 "deleted: it will be sent again", j->message_id,
			 j->user_id, why);
	else if (!sent)
		log_info("push %s to %s: %s", j->message_id, j->user_id, why);
	else
		log_debug("push %s to %s: sent", j->message_id, j->user_id);
}

static void retry(struct pusher *p, struct push_job *j, const char *why)
{
	double delay = push_backoff(j->attempts,
				    (double)random() / ((double)RAND_MAX + 1));

	metrics_add(M_PUSH_FAILURES, 1);
	log_warn("push %s to %s: %s; try %d again in %.1f s", j->message_id,
		 j->user_id, why, j->attempts + 2, delay);
	if (push_retry(p->db, j, delay, why) != DB_OK)
		log_warn("push %s to %s: the retry could not be recorded; "
			 "due again after its lease", j->message_id,
			 j->user_id);
}

/* Starts a call for a taken row (owns j's strings from here on). */
static bool start_call(struct pusher *p, struct push_job *j)
{
	struct call *c = NULL;
	char idem[300];

	for (int i = 0; i < PUSH_PARALLEL && c == NULL; i++)
		if (!p->calls[i].busy)
			c = &p->calls[i];
	if (c == NULL)
		return false;
	c->job = *j;
	*j = (struct push_job){ 0 };
	c->error[0] = '\0';
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s/%s",
		 c->job.message_id, c->job.user_id);
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, idem);
	if (p->auth[0] != '\0')
		c->headers = curl_slist_append(c->headers, p->auth);
	c->easy = curl_easy_init();
	if (c->easy == NULL || c->headers == NULL) {
		log_error("out of memory starting a webhook call");
		curl_slist_free_all(c->headers);
		c->headers = NULL;
		if (c->easy != NULL)
			curl_easy_cleanup(c->easy);
		c->easy = NULL;
		job_free(&c->job); /* due again after its lease */
		return false;
	}
	curl_easy_setopt(c->easy, CURLOPT_URL, p->cfg->push_webhook_url);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->job.body);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, p->cfg->push_timeout);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT, p->cfg->push_timeout);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "parley-push");
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->error);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_multi_add_handle(p->multi, c->easy);
	c->busy = true;
	p->busy++;
	return true;
}

/* A call ended: the row is settled, or due again. */
static void finish_call(struct pusher *p, struct call *c, CURLcode rc)
{
	long status = 0;
	char why[CURL_ERROR_SIZE + 64];

	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "webhook: %s",
			 c->error[0] ? c->error : curl_easy_strerror(rc));
		retry(p, &c->job, why);
	} else if (status >= 200 && status < 300) {
		metrics_add(M_PUSH_SENT, 1);
		settle(p, &c->job, true, "sent");
	} else if (status == 408 || status == 425 || status == 429 ||
		   status >= 500) {
		snprintf(why, sizeof(why), "webhook answered %ld", status);
		retry(p, &c->job, why);
	} else {
		snprintf(why, sizeof(why), "webhook refused it with %ld; "
			 "dropped", status);
		metrics_add(M_PUSH_DROPPED, 1);
		settle(p, &c->job, false, why);
	}
	curl_multi_remove_handle(p->multi, c->easy);
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	c->easy = NULL;
	c->headers = NULL;
	job_free(&c->job);
	c->busy = false;
	p->busy--;
}

/* Takes due rows for the free call slots; false when none was due. */
static bool take_due(struct pusher *p)
{
	struct push_batch b;
	bool any;

	if (p->busy == PUSH_PARALLEL)
		return true;
	if (push_take(p->db, PUSH_PARALLEL - p->busy,
		      p->cfg->push_timeout + LEASE_EXTRA_S,
		      p->cfg->push_content != 0, p->cfg->push_max_age,
		      &b) != DB_OK)
		return false; /* the database is down: look again later */
	any = b.n > 0;
	for (int i = 0; i < b.n; i++) {
		struct push_job *j = &b.jobs[i];
		if (j->settled) {
			metrics_add(M_PUSH_SKIPPED, 1);
			settle(p, j, false, "delivered meanwhile; not sent");
		} else if (j->expired) {
			metrics_add(M_PUSH_DROPPED, 1);
			log_warn("push %s to %s: not accepted within "
				 "push_max_age (%d failed calls); dropped",
				 j->message_id, j->user_id, j->attempts);
			settle(p, j, false, "too old; dropped");
		} else {
			start_call(p, j);
		}
	}
	push_batch_free(&b);
	return any;
}

static void run_loop(struct pusher *p)
{
	while (!stopping || p->busy > 0) {
		struct curl_waitfd extra = { .events = CURL_WAIT_POLLIN };
		PGconn *c;
		CURLMsg *msg;
		int running, left, numfds;
		bool more = false;

		if (!stopping) {
			listen_queue(p);
			more = take_due(p) && p->busy < PUSH_PARALLEL;
		}
		c = db_conn(p->db);
		extra.fd = c != NULL ? PQsocket(c) : -1;
		curl_multi_poll(p->multi, extra.fd >= 0 ? &extra : NULL,
				extra.fd >= 0 ? 1 : 0,
				more ? 0 : IDLE_WAIT_MS, &numfds);
		curl_multi_perform(p->multi, &running);
		while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
			struct call *call;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&call);
			finish_call(p, call, msg->data.result);
		}
		take_notifies(p);
	}
}

static int push_run(void *ctx, const struct settings *cfg)
{
	struct pusher p = { .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_term };
	char err[512];

	(void)ctx;
	if (cfg->push_webhook_url[0] == '\0') {
		log_error("push_webhook_url is not set: nothing to push to");
		return EX_CONFIG;
	}
	/* Mapped before root is given up: the file may be root's. */
	if (!metrics_open(cfg->metrics_table, err, sizeof(err))) {
		log_error("metrics_table: %s", err);
		return EX_CANTCREAT;
	}
	if (!program_drop_privileges(cfg->run_as_user))
		return EX_NOPERM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (p.multi = curl_multi_init()) == NULL) {
		log_error("libcurl cannot start");
		return EX_OSERR;
	}
	if (cfg->push_webhook_token[0] != '\0')
		snprintf(p.auth, sizeof(p.auth), "Authorization: Bearer %s",
			 cfg->push_webhook_token);
	p.db = db_new(cfg->database_url, "parley-push");
	if (p.db == NULL) {
		log_error("out of memory");
		return EX_OSERR;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	log_info("pushing offline notifications (content %s, timeout %ld s, "
		 "given up after %ld s)", cfg->push_content ? "included" :
		 "left out", cfg->push_timeout, cfg->push_max_age);
	run_loop(&p);
	log_info("stopping on a signal");
	curl_multi_cleanup(p.multi);
	curl_global_cleanup();
	db_free(p.db);
	metrics_close();
	return EX_OK;
}

int main(int argc, char **argv)
{
	static const struct program prog = {
		.name = "parley-push",
		.usage = "\n  runs until SIGTERM: POSTs queued offline pushes to "
			 "push_webhook_url",
		.run = push_run,
		/* the queue's NOTIFY reaches the session that LISTENs */
		.needs_session = "LISTEN parley_push",
	};

	return program_main(argc, argv, &prog, NULL);
}
