/* ratelimit.h - a token bucket: `rate` frames a second, at most `burst`
 * at once, counted in thousandths of a frame. Pure code. */
#ifndef PARLEY_RATELIMIT_H
#define PARLEY_RATELIMIT_H

#include "common.h"

/* Refills *tokens for the time since *at (0: a full bucket), takes one
 * frame if there is one, and sets *at to now_ms. False: none left. */
bool rate_take(long long *tokens, long long *at, long long now_ms, long rate,
	       long burst) MUST_CHECK;

#endif
