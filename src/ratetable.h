/* ratetable.h - token buckets shared by every parley-ws process of a host.
 *
 * The rate limits are per user and per client address, not per
 * connection: a client that reconnects, or holds several connections,
 * spends one budget. Pushpin sends a connection's requests to any worker,
 * so the buckets live where every worker of the host sees them: a file
 * (setting rate_table, on a tmpfs such as /dev/shm) that each worker maps
 * with MAP_SHARED before it gives root up. No database write per frame;
 * one bucket update is a few hundred nanoseconds under a lock of its own
 * set of buckets.
 *
 * Layout (ratetable.c): a header (magic, geometry, a random SipHash key
 * made when the file is created) and RATE_TABLE_SETS sets of
 * RATE_TABLE_WAYS buckets, each bucket a 64-bit keyed hash of its name
 * and a token bucket (ratelimit.h). A name maps to one set; a name not
 * in its set takes the set's least recently used bucket. A bucket is
 * only needed while it is below full (burst / rate seconds after its
 * last use), so the table serves far more users than it has buckets;
 * when a set overflows, the evicted name starts again with a full
 * bucket, never with an empty one (nobody is refused for someone else's
 * traffic).
 *
 * Locks: one spinlock a set, holding the owner's pid. A process that dies
 * holding one (killed within those nanoseconds) is found dead with
 * kill(pid, 0) and its lock taken over; a holder stopped for more than a
 * second loses it too. The numbers in a bucket are plain integers, so the
 * worst a broken lock can do is miscount one bucket.
 *
 * Trust: the file is the workers' own. It is opened with O_NOFOLLOW and
 * must be a regular file owned by the worker's user (or root) and
 * writable by nobody else; the header is checked against this build's
 * layout, and no offset is ever read from the file.
 */
#ifndef PARLEY_RATETABLE_H
#define PARLEY_RATETABLE_H

#include "common.h"

#define RATE_TABLE_SETS 8192
#define RATE_TABLE_WAYS 8

/* What a bucket counts: its name is this letter, ':', then the user or
 * the address (two kinds never share a bucket). */
#define RATE_FRAMES 'f'        /* a user's frames (rate_limit) */
#define RATE_USER_CONNECTS 'c' /* a user's connects */
#define RATE_ADDR_CONNECTS 'a' /* an address's connects */

struct rate_table;

/* Maps the table at `path`, creating it (mode 600) or checking the one
 * there. NULL with a reason in err. */
struct rate_table *rate_table_open(const char *path, char *err,
				   size_t errlen) MUST_CHECK;
void rate_table_close(struct rate_table *t);

/* Takes one token from the bucket of (kind, name) at now_ms (a
 * rate_clock_ms() value): rate a second, at most burst at once. False:
 * none left. rate 0 means not limited (always true). */
bool rate_table_take(struct rate_table *t, char kind, const char *name,
		     long rate, long burst, long long now_ms) MUST_CHECK;

/* Milliseconds of CLOCK_MONOTONIC: the same clock in every process of
 * the host, and it never jumps. */
long long rate_clock_ms(void);

/* SipHash-2-4 of in[0..len) with the key (k0, k1). */
uint64_t rate_siphash(const void *in, size_t len, uint64_t k0, uint64_t k1);

#endif
