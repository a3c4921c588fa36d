/* parley-expire - the cron-driven expiry job for the connections table.
 *
 * 1. Deletes rows whose expires_at has passed, in batches of
 *    expire_batch rows, each its own short transaction that skips rows
 *    locked by others: safe while clients connect and disconnect, and
 *    safe to run twice or concurrently.
 * 2. With --reconcile, also asks Pushpin (the handler's command socket,
 *    method "conncheck") which connections it still holds, and deletes
 *    the rows of those it does not: after a Pushpin crash or restart no
 *    stale row outlives one cron interval. Rows younger than
 *    --grace seconds are left alone (a connection being opened). With
 *    several instances (pushpin_command_spec a list) every one is
 *    asked, and a row is stale only when none holds it; while one does
 *    not answer, no row is deleted this way (any may be its).
 *
 * Prints one summary line. Exit codes (sysexits): 0 done, 64 usage,
 * 69 database unavailable, 70 a query failed, 75 a Pushpin command
 * socket did not answer (rows past expires_at were still expired),
 * 78 configuration error.
 *
 * SECURITY: trusts the database and the Pushpin command socket named in
 * the configuration (loopback by default); takes no other input.
 */
#include "common.h"

#include <libpq-fe.h>

#include "command.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "program.h"
#include "speclist.h"

#include <time.h>

#define CHECK_PAGE 1000       /* ids per conncheck request */
#define CHECK_TIMEOUT_MS 5000 /* per conncheck answer */
#define MAX_BATCHES 100000    /* bounds one run: 500 M rows at 5000 */

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* $1 batch size. One batch: short, and SKIP LOCKED so that two jobs at
 * once, or a connect touching the row, never wait. */
static const struct statement st_expire = { "expire",
	"WITH doomed AS (SELECT connection_id FROM connections "
	"WHERE expires_at < now() ORDER BY expires_at LIMIT $1::int "
	"FOR UPDATE SKIP LOCKED) "
	"DELETE FROM connections c USING doomed d "
	"WHERE c.connection_id = d.connection_id", 1 };

/* $1 after connection id, $2 limit, $3 min age in seconds. Column: id. */
static const struct statement st_list_conns = { "list_conns",
	"SELECT connection_id FROM connections WHERE connection_id > $1 "
	"AND connected_at < now() - make_interval(secs => $3::int) "
	"ORDER BY connection_id LIMIT $2::int", 3 };

/* $1 connection ids text[], $2 min age in seconds. */
static const struct statement st_drop_conns = { "drop_conns",
	"DELETE FROM connections WHERE connection_id = ANY($1::text[]) "
	"AND connected_at < now() - make_interval(secs => $2::int)", 2 };

/* Step 1. Returns rows deleted, or -1 (and *rc) on failure. */
static long expire_rows(struct db *db, long batch, int *rc)
{
	char n[24];
	const char *params[1] = { n };
	long total = 0;

	snprintf(n, sizeof(n), "%ld", batch);
	for (int i = 0; i < MAX_BATCHES; i++) {
		enum db_status st;
		PGresult *r = db_run(db, &st_expire, params, &st);
		long got;
		if (r == NULL) {
			*rc = st == DB_UNAVAILABLE ? EX_UNAVAILABLE : EX_SOFTWARE;
			return -1;
		}
		got = strtol(PQcmdTuples(r), NULL, 10);
		PQclear(r);
		total += got;
		if (got < batch)
			break;
	}
	return total;
}

/* Asks every instance which of ids[0..n) it holds; alive[i] is true when
 * one does. An instance is asked only about the ids no instance before
 * it holds. False (logged) when one does not answer: then nothing can be
 * concluded about the ids it was asked about. */
static bool ask_instances(struct command **cmd, const struct spec_list *l,
			  char **ids, int n, bool *alive)
{
	char *rest[CHECK_PAGE], err[256];
	bool got[CHECK_PAGE];
	int idx[CHECK_PAGE];

	for (int k = 0; k < l->n; k++) {
		int m = 0;
		for (int i = 0; i < n; i++)
			if (!alive[i]) {
				idx[m] = i;
				rest[m] = ids[i];
				got[m++] = false;
			}
		if (m == 0)
			return true;
		if (!command_conncheck(cmd[k], rest, m, got, err,
				       sizeof(err))) {
			log_error("%s (%s); no row is deleted on its behalf",
				  err, l->spec[k]);
			return false;
		}
		for (int j = 0; j < m; j++)
			if (got[j])
				alive[idx[j]] = true;
	}
	return true;
}

/* Step 2. Returns rows deleted, or -1 (and *rc) on failure. A row is
 * stale only when no instance of pushpin_command_spec holds its
 * connection: every one is asked, and one that does not answer stops
 * the step (exit 75) before anything more is deleted, as any row not
 * found elsewhere may be its. */
static long reconcile(struct db *db, const struct settings *cfg, long grace,
		      long *checked, int *rc)
{
	char after[ID_MAX + 1] = "", limit[16], grace_s[16];
	const char *params[3] = { after, limit, grace_s };
	struct command *cmd[SPEC_LIST_MAX] = { NULL };
	struct spec_list *l = malloc(sizeof(*l));
	char err[SPEC_MAX + 256];
	long removed = 0;

	snprintf(limit, sizeof(limit), "%d", CHECK_PAGE);
	snprintf(grace_s, sizeof(grace_s), "%ld", grace);
	*checked = 0;
	if (l == NULL) {
		log_error("out of memory");
		*rc = EX_OSERR;
		return -1;
	}
	if (!spec_list_parse(cfg->pushpin_command_spec, "pushpin_command_spec",
			     l, err, sizeof(err))) {
		log_error("%s", err);
		free(l);
		*rc = EX_CONFIG;
		return -1;
	}
	for (int k = 0; k < l->n; k++) {
		cmd[k] = command_open(l->spec[k], CHECK_TIMEOUT_MS, err,
				      sizeof(err));
		if (cmd[k] == NULL) {
			log_error("%s", err);
			*rc = EX_CONFIG;
			removed = -1;
			goto out;
		}
	}
	for (;;) {
		enum db_status st;
		PGresult *r = db_run(db, &st_list_conns, params, &st);
		char *ids[CHECK_PAGE];
		bool alive[CHECK_PAGE] = { false };
		const char *dead[CHECK_PAGE];
		int n, ndead = 0;

		if (r == NULL) {
			*rc = st == DB_UNAVAILABLE ? EX_UNAVAILABLE : EX_SOFTWARE;
			removed = -1;
			goto out;
		}
		n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			ids[i] = PQgetvalue(r, i, 0);
			/* parley-websocketd's connections are not Pushpin's
			 * (notify.h): their process deletes the row, or its
			 * TTL expires it (step 1). */
			alive[i] = conn_is_websocketd(ids[i]);
		}
		if (n > 0 && !ask_instances(cmd, l, ids, n, alive)) {
			PQclear(r);
			*rc = EX_TEMPFAIL;
			removed = -1;
			goto out;
		}
		*checked += n;
		for (int i = 0; i < n; i++)
			if (!alive[i])
				dead[ndead++] = ids[i];
		if (ndead > 0) {
			char *arr = db_text_array(dead, ndead);
			const char *dp[2] = { arr, grace_s };
			PGresult *d = arr ? db_run(db, &st_drop_conns, dp, &st)
					  : NULL;
			free(arr);
			if (d == NULL) {
				PQclear(r);
				*rc = st == DB_UNAVAILABLE ? EX_UNAVAILABLE : EX_SOFTWARE;
				removed = -1;
				goto out;
			}
			removed += strtol(PQcmdTuples(d), NULL, 10);
			PQclear(d);
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", ids[n - 1]);
		PQclear(r);
		if (n < CHECK_PAGE)
			break;
	}
out:
	for (int k = 0; k < l->n; k++)
		command_close(cmd[k]);
	free(l);
	return removed;
}

struct expire_main {
	bool reconcile;
	long grace;
};

static bool expire_option(void *ctx, int opt, const char *arg)
{
	struct expire_main *m = ctx;
	char *end;

	switch (opt) {
	case 'r':
		m->reconcile = true;
		return true;
	case 'g':
		m->grace = strtol(arg, &end, 10);
		if (*end != '\0' || m->grace < 0 || m->grace > 86400) {
			log_error("--grace must be 0..86400 seconds");
			return false;
		}
		return true;
	}
	return false;
}

static int expire_run(void *ctx, const struct settings *cfg)
{
	struct expire_main *m = ctx;
	long expired, removed = 0, checked = 0;
	double t0 = mono_ms();
	struct db *db = db_new_settings(cfg, "parley-expire");
	int rc = EX_OK;

	if (db == NULL) {
		log_error("out of memory");
		return EX_OSERR;
	}
	expired = expire_rows(db, cfg->expire_batch, &rc);
	if (expired < 0) {
		log_error("expiry failed: database %s",
			  rc == EX_UNAVAILABLE ? "unavailable" : "query failed");
		db_free(db);
		return rc;
	}
	if (m->reconcile) {
		removed = reconcile(db, cfg, m->grace, &checked, &rc);
		if (removed < 0) {
			log_error("expired %ld connection(s); reconcile failed "
				  "after checking %ld", expired, checked);
			db_free(db);
			return rc;
		}
		log_info("expired %ld connection(s); reconciled %ld with "
			 "Pushpin, removed %ld stale; %.0f ms", expired,
			 checked, removed, mono_ms() - t0);
	} else {
		log_info("expired %ld connection(s); %.0f ms", expired,
			 mono_ms() - t0);
	}
	db_free(db);
	return EX_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reconcile", no_argument, NULL, 'r' },
		{ "grace", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct program prog = {
		.name = "parley-expire",
		.usage = "[--reconcile [--grace SECONDS]]\n"
			 "  --reconcile    also ask Pushpin which connections "
			 "live; drop the others' rows\n"
			 "  --grace S      leave rows younger than S seconds "
			 "(default 30)",
		.options = opts,
		.shortopts = "rg:",
		.option = expire_option,
		.run = expire_run,
	};
	struct expire_main m = { .grace = 30 };

	return program_main(argc, argv, &prog, &m);
}
