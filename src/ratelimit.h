/* ratelimit.h - a token bucket: `rate` a second, at most `burst` at
 * once, counted in thousandths; and the name a client address is
 * counted under. Pure code. The buckets themselves are kept per host in
 * ratetable.h. */
#ifndef PARLEY_RATELIMIT_H
#define PARLEY_RATELIMIT_H

#include "common.h"

/* Refills *tokens for the time since *at (0: a full bucket), takes one
 * if there is one, and sets *at to now_ms. False: none left. A clock
 * read a little before *at (another process read it first) refills
 * nothing; one more than a second before *at (a new clock) starts full. */
bool rate_take(long long *tokens, long long *at, long long now_ms, long rate,
	       long burst) MUST_CHECK;

/* The client's address in an X-Forwarded-For value: the entry `hops`
 * from the right (0: the last, which Pushpin appends with
 * x_forwarded_for=truncate:0,append; 1: the one a proxy in front of
 * Pushpin appended; ...), spaces trimmed, into out. False when there is
 * no such entry, or it is empty or longer than out. */
bool forwarded_for(const char *xff, long hops, char *out, size_t size)
	MUST_CHECK;

/* The name an address's connects are counted under: an IPv4 address as
 * is, an IPv6 address as its /64 ("2001:db8:1:2::/64": one subscriber's
 * usual allocation; a v4-mapped one as IPv4), anything else as given. */
void address_bucket(const char *addr, char *out, size_t size);

#endif
