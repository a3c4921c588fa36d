/* ratelimit.c - see ratelimit.h. */
#include "common.h"
#include "ratelimit.h"

bool rate_take(long long *tokens, long long *at, long long now_ms, long rate,
	       long burst)
{
	long long cap = burst * 1000LL;

	if (*at <= 0 || *at > now_ms) {
		*tokens = cap;
	} else {
		long long add = (now_ms - *at) * rate;
		*tokens = add > cap - *tokens ? cap : *tokens + add;
	}
	*at = now_ms;
	if (*tokens < 1000)
		return false;
	*tokens -= 1000;
	return true;
}
