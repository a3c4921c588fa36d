/* metrics.c - see metrics.h. */
#include "common.h"
#include "metrics.h"
#include "shmfile.h"

#define MT_MAGIC 0x3254454d59524c50ULL /* "PLRYMET2" little-endian */

struct mt_file {
	uint64_t magic;
	uint64_t count[METRICS_SLOTS]; /* M_COUNT used */
	uint64_t errors[METRICS_NERRORS];
	/* per kind: a count per bucket (not cumulative), +Inf last */
	uint64_t bucket[REQ_KINDS][METRICS_NBUCKETS + 1];
	uint64_t sum_us[REQ_KINDS]; /* microseconds */
};

_Static_assert(M_COUNT <= METRICS_SLOTS, "METRICS_SLOTS too small");

static struct mt_file own; /* until metrics_open maps the shared one */
static struct mt_file *mt = &own;

static const char *const error_codes[METRICS_NERRORS] = { METRICS_ERROR_CODES };
static const double bounds[METRICS_NBUCKETS] = { METRICS_BUCKETS };
static const char *const kinds[REQ_KINDS] = { "ws", "http" };

static bool setup_file(void *map, char *err, size_t errlen)
{
	struct mt_file *f = map;
	uint64_t zero = 0;

	/* A fresh file is all zeros: counting starts there. */
	(void)__atomic_compare_exchange_n(&f->magic, &zero, MT_MAGIC, false,
					  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	if (f->magic != MT_MAGIC) {
		snprintf(err, errlen, "not a metrics table of this version; "
			 "remove it (it is made anew)");
		return false;
	}
	return true;
}

bool metrics_open(const char *path, char *err, size_t errlen)
{
	struct mt_file *f;

	if (path == NULL || *path == '\0')
		return true;
	f = shm_file_map(path, sizeof(*f), "metrics table", setup_file, err,
			 errlen);
	if (f == NULL)
		return false;
	metrics_close();
	mt = f;
	return true;
}

void metrics_close(void)
{
	if (mt != &own)
		shm_file_unmap(mt, sizeof(*mt));
	mt = &own;
}

static void add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void metrics_add(enum metric m, uint64_t n)
{
	if ((unsigned)m < M_COUNT && n > 0)
		add(&mt->count[m], n);
}

uint64_t metrics_get(enum metric m)
{
	return (unsigned)m < M_COUNT ? get(&mt->count[m]) : 0;
}

void metrics_error(const char *code)
{
	int i = 0;

	while (i < METRICS_NERRORS - 1 &&
	       (code == NULL || strcmp(code, error_codes[i]) != 0))
		i++;
	add(&mt->errors[i], 1);
}

void metrics_request(enum request_kind kind, double seconds)
{
	int i = 0;

	if ((unsigned)kind >= REQ_KINDS)
		return;
	if (seconds < 0)
		seconds = 0;
	while (i < METRICS_NBUCKETS && seconds > bounds[i])
		i++;
	add(&mt->bucket[kind][i], 1);
	add(&mt->sum_us[kind], (uint64_t)(seconds * 1e6 + 0.5));
}

static void counter(struct buf *out, const char *name, const char *help,
		    enum metric m)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name,
		   help, name, name, (unsigned long long)metrics_get(m));
}

static void gauge(struct buf *out, const char *name, const char *help,
		  long long v)
{
	if (v >= 0)
		buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n",
			   name, help, name, name, v);
}

static void histogram(struct buf *out)
{
	const char *h = "parley_request_duration_seconds";

	buf_printf(out, "# HELP %s Time parley-ws took to answer a request "
		   "(kind ws: a batch of WebSocket events from Pushpin; "
		   "http: /healthz, /metrics, /api/).\n# TYPE %s histogram\n",
		   h, h);
	for (int k = 0; k < REQ_KINDS; k++) {
		uint64_t cum = 0;
		for (int i = 0; i <= METRICS_NBUCKETS; i++) {
			cum += get(&mt->bucket[k][i]);
			if (i < METRICS_NBUCKETS)
				buf_printf(out, "%s_bucket{kind=\"%s\",le=\"%g\"} "
					   "%llu\n", h, kinds[k], bounds[i],
					   (unsigned long long)cum);
			else
				buf_printf(out, "%s_bucket{kind=\"%s\",le=\"+Inf\"} "
					   "%llu\n", h, kinds[k],
					   (unsigned long long)cum);
		}
		buf_printf(out, "%s_sum{kind=\"%s\"} %.6f\n%s_count{kind=\"%s\"} "
			   "%llu\n", h, kinds[k],
			   (double)get(&mt->sum_us[k]) / 1e6, h, kinds[k],
			   (unsigned long long)cum);
	}
}

void metrics_write(struct buf *out, const struct metrics_gauges *g)
{
	gauge(out, "parley_connections_open", "Connections in the "
	      "connections table (live, or not yet expired).",
	      g->connections_open);
	gauge(out, "parley_messages_pending", "One-to-one messages that no "
	      "device of their recipient has acked.", g->pending);
	counter(out, "parley_connects_total", "Connections accepted.",
		M_CONNECTS);
	counter(out, "parley_disconnects_total", "Connections closed, "
		"cleanly or not.", M_DISCONNECTS);
	counter(out, "parley_messages_stored_total", "Messages stored "
		"(committed; a retried messageId is not counted again).",
		M_STORED);
	counter(out, "parley_messages_acked_total", "Receipts that an ack "
		"moved to delivered (a group message: one per member).",
		M_ACKED);
	counter(out, "parley_messages_read_total", "Receipts that markRead "
		"moved to read.", M_READ);
	counter(out, "parley_messages_delivered_total", "Message events "
		"sent towards recipients: one publish per recipient (or "
		"group member) online, and each message of an offline "
		"backlog or a redelivery.", M_DELIVERED);
	counter(out, "parley_redeliveries_total", "Of those, messages sent "
		"again because no device acked them.", M_REDELIVERED);
	buf_printf(out, "# HELP parley_errors_total Error events sent to "
		   "clients, by code.\n# TYPE parley_errors_total counter\n");
	for (int i = 0; i < METRICS_NERRORS; i++)
		buf_printf(out, "parley_errors_total{code=\"%s\"} %llu\n",
			   error_codes[i],
			   (unsigned long long)get(&mt->errors[i]));
	counter(out, "parley_db_reconnects_total", "Database connections "
		"made again after one was lost.", M_DB_RECONNECTS);
	counter(out, "parley_db_connect_failures_total", "Database "
		"connection attempts that failed.", M_DB_FAILURES);
	counter(out, "parley_publish_failures_total", "Publishes that "
		"Pushpin's publish socket did not take (dropped): one per "
		"instance that refused.", M_PUBLISH_FAILURES);
	counter(out, "parley_push_sent_total", "Offline pushes the webhook "
		"accepted (2xx).", M_PUSH_SENT);
	counter(out, "parley_push_failures_total", "Webhook calls that "
		"failed and are retried with backoff.", M_PUSH_FAILURES);
	counter(out, "parley_push_dropped_total", "Offline pushes given up: "
		"older than push_max_age, or refused by the webhook with a "
		"4xx.", M_PUSH_DROPPED);
	counter(out, "parley_push_skipped_total", "Offline pushes not sent: "
		"a device acked the message first.", M_PUSH_SKIPPED);
	histogram(out);
}
