/* test-metrics.c - the counters of /metrics (metrics.h): counting, the
 * histogram's buckets, the error codes, the text format, and that two
 * processes mapping one file add up. */
#include "common.h"
#include "metrics.h"
#include "tap.h"

#include <sys/wait.h>
#include <unistd.h>

static bool has(const struct buf *b, const char *line)
{
	return b->data != NULL && strstr(b->data, line) != NULL;
}

static void test_own_memory(void)
{
	struct metrics_gauges g = { .connections_open = 7, .pending = -1 };
	struct buf b;

	metrics_add(M_STORED, 3);
	metrics_add(M_STORED, 0);
	metrics_add(M_COUNT, 5); /* out of range: ignored */
	is_int((long long)metrics_get(M_STORED), 3, "counts add up");
	metrics_error("invalid_json");
	metrics_error("no_such_code");
	metrics_error(NULL);
	metrics_request(REQ_WS, 0.0005);  /* first bucket */
	metrics_request(REQ_WS, 0.003);   /* le 0.005 */
	metrics_request(REQ_WS, 99);      /* +Inf only */
	metrics_request(REQ_HTTP, 0.001); /* le 0.001: bounds are inclusive */
	buf_init(&b);
	metrics_write(&b, &g);
	ok(!b.oom, "written");
	ok(has(&b, "\nparley_messages_stored_total 3\n"), "a counter");
	ok(has(&b, "# TYPE parley_messages_stored_total counter\n"), "its TYPE");
	ok(has(&b, "parley_connections_open 7\n"), "a gauge");
	ok(!has(&b, "parley_messages_pending"), "an unknown gauge left out");
	ok(has(&b, "parley_errors_total{code=\"invalid_json\"} 1\n"),
	   "an error by its code");
	ok(has(&b, "parley_errors_total{code=\"other\"} 2\n"),
	   "unknown codes count as other");
	ok(has(&b, "parley_errors_total{code=\"unauthorized\"} 0\n"),
	   "every code is shown, 0 too");
	ok(has(&b, "_bucket{kind=\"ws\",le=\"0.001\"} 1\n"), "le 0.001");
	ok(has(&b, "_bucket{kind=\"ws\",le=\"0.005\"} 2\n"), "cumulative");
	ok(has(&b, "_bucket{kind=\"ws\",le=\"10\"} 2\n"), "99 s is over 10");
	ok(has(&b, "_bucket{kind=\"ws\",le=\"+Inf\"} 3\n"), "+Inf: all");
	ok(has(&b, "_count{kind=\"ws\"} 3\n"), "count");
	ok(has(&b, "_sum{kind=\"ws\"} 99.003500\n"), "sum");
	ok(has(&b, "_bucket{kind=\"http\",le=\"0.001\"} 1\n"), "inclusive bound");
	buf_free(&b);
}

static void test_shared_file(void)
{
	char path[] = "/tmp/parley-test-metrics-XXXXXX";
	char err[256] = "";
	int fd = mkstemp(path);
	pid_t kid;
	int status = 0;

	ok(fd >= 0, "a temporary file");
	close(fd);
	unlink(path); /* made anew by metrics_open */
	ok(metrics_open(path, err, sizeof(err)), "open the shared file %s", err);
	is_int((long long)metrics_get(M_STORED), 0, "a new file starts at 0");
	metrics_add(M_ACKED, 2);
	kid = fork();
	if (kid == 0) {
		/* Another process, as a second worker: its own mapping. */
		metrics_close();
		if (!metrics_open(path, err, sizeof(err)))
			_exit(2);
		for (int i = 0; i < 1000; i++)
			metrics_add(M_ACKED, 1);
		_exit(0);
	}
	for (int i = 0; i < 1000; i++)
		metrics_add(M_ACKED, 1);
	ok(kid > 0 && waitpid(kid, &status, 0) == kid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "the second process counted");
	is_int((long long)metrics_get(M_ACKED), 2002, "both processes' counts "
	       "add up in the file");
	metrics_close();
	ok(metrics_open(path, err, sizeof(err)), "open it again");
	is_int((long long)metrics_get(M_ACKED), 2002, "the counts stay");
	metrics_close();
	ok(truncate(path, 100) == 0, "damage the file");
	ok(!metrics_open(path, err, sizeof(err)) && strstr(err, "remove it"),
	   "a file of another size is refused: %s", err);
	unlink(path);
}

int main(void)
{
	test_own_memory();
	test_shared_file();
	return done_testing();
}
