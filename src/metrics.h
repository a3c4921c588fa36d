/* metrics.h - the counters /metrics shows, shared by every parley-ws of
 * the host.
 *
 * Pushpin sends any request to any worker, so a worker's own counters
 * would show a share of the traffic, depending on which worker answers
 * the scrape. The counters live in one file (setting metrics_table, on a
 * tmpfs) that each worker maps before it gives root up (shmfile.h); an
 * increment is one atomic add, and a scrape reads the sums. Counters
 * only grow (a worker that dies leaves its counts), until the file is
 * removed; Prometheus' rate() expects exactly that.
 *
 * A process that has not opened the file (the tools, the unit tests)
 * counts in memory of its own.
 */
#ifndef PARLEY_METRICS_H
#define PARLEY_METRICS_H

#include "common.h"
#include "buf.h"

enum metric {
	M_CONNECTS,         /* connections accepted */
	M_DISCONNECTS,      /* connections closed (clean or not) */
	M_STORED,           /* messages stored (COMMITted, new) */
	M_ACKED,            /* receipts moved to delivered by an ack */
	M_READ,             /* receipts moved to read */
	M_DELIVERED,        /* message events sent to recipients */
	M_REDELIVERED,      /* of which again: a redelivery sweep */
	M_DB_RECONNECTS,    /* database connections made after the first */
	M_DB_FAILURES,      /* database connection attempts that failed */
	M_PUBLISH_FAILURES, /* publishes an instance's socket did not take */
	M_PUSH_SENT,        /* offline pushes the webhook accepted */
	M_PUSH_FAILURES,    /* webhook calls that failed (retried) */
	M_PUSH_DROPPED,     /* pushes given up (too old, or refused 4xx) */
	M_PUSH_SKIPPED,     /* pushes not sent: delivered meanwhile */
	M_COUNT
};
/* Counter slots in the shared file: room for counters to come, so that
 * adding one keeps the file's layout (M_COUNT <= METRICS_SLOTS). */
#define METRICS_SLOTS 32

/* The error codes of PROTOCOL.md, in this order; another is counted as
 * the last, "other". */
#define METRICS_ERROR_CODES \
	"invalid_json", "unknown_action", "missing_field", "invalid_field", \
	"too_large", "forbidden", "not_found", "conflict", "rate_limited", \
	"unauthorized", "unavailable", "internal", "other"
#define METRICS_NERRORS 13

/* Upper bounds (seconds) of the request latency histogram's buckets,
 * +Inf last. */
#define METRICS_BUCKETS \
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
#define METRICS_NBUCKETS 13

/* Request kinds of the latency histogram. */
enum request_kind { REQ_WS, REQ_HTTP, REQ_KINDS };

/* Maps the shared counters at path (NULL or "": this process's own
 * memory). False with a reason in err. */
bool metrics_open(const char *path, char *err, size_t errlen) MUST_CHECK;
void metrics_close(void);

void metrics_add(enum metric m, uint64_t n);
void metrics_error(const char *code);
void metrics_request(enum request_kind kind, double seconds);
uint64_t metrics_get(enum metric m);

/* Everything in Prometheus' text format (version 0.0.4), with the
 * gauges the caller measured (negative: unknown, left out). */
struct metrics_gauges {
	long long connections_open; /* rows in connections */
	long long pending;          /* one-to-one messages no device acked */
};
void metrics_write(struct buf *out, const struct metrics_gauges *g);

#endif
