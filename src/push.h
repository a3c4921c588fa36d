/* push.h - the offline push queue (sql/005_push.sql; README, "Offline
 * push") as parley-push sees it: take due rows, and settle each one.
 *
 * parley-ws queues a row per offline recipient in the statement that
 * stores the message (store.c, st_send_push); here rows are taken with
 * a lease (their next_attempt_at moved past the call's time), so a
 * parley-push that dies mid-call leaves them due again, and two of them
 * never take the same row. Delivery to the webhook is at least once:
 * a crash between the webhook's 2xx and the DELETE sends that push
 * again (the Idempotency-Key header lets the webhook tell).
 */
#ifndef PARLEY_PUSH_H
#define PARLEY_PUSH_H

#include "db.h"

/* One taken row and what the webhook gets. */
struct push_job {
	char *message_id, *user_id;
	int attempts;        /* failed calls before this one */
	char *body;          /* the webhook's JSON (malloc'd) */
	bool settled;        /* delivered or deleted meanwhile: not sent */
	bool expired;        /* older than push_max_age: given up */
};

struct push_batch {
	int n;
	struct push_job *jobs;
};
void push_batch_free(struct push_batch *b);

/* Takes up to `limit` due rows for lease_s seconds. with_content: the
 * body carries the message's content (push_content). */
enum db_status push_take(struct db *db, int limit, long lease_s,
			 bool with_content, long max_age_s,
			 struct push_batch *out) MUST_CHECK;
/* Done with a row: sent, settled or given up. */
enum db_status push_done(struct db *db, const struct push_job *j)
    MUST_CHECK;
/* A failed call: due again in delay_s, with the reason. */
enum db_status push_retry(struct db *db, const struct push_job *j,
			  double delay_s, const char *error) MUST_CHECK;

/* Seconds before the next try after `failures` failed calls: 1 s
 * doubling to 300 s, with jitter in [0.75, 1.25) of that (u in [0,1)). */
double push_backoff(int failures, double u);

#endif
