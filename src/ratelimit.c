/* ratelimit.c - see ratelimit.h. */
#include "common.h"
#include "ratelimit.h"

#include <arpa/inet.h>

bool rate_take(long long *tokens, long long *at, long long now_ms, long rate,
	       long burst)
{
	long long cap = burst * 1000LL;

	if (*at <= 0 || *at > now_ms + 1000) {
		*tokens = cap;
		*at = now_ms;
	} else if (now_ms > *at) {
		long long add = (now_ms - *at) * rate;
		*tokens = add > cap - *tokens ? cap : *tokens + add;
		*at = now_ms;
	}
	if (*tokens < 1000)
		return false;
	*tokens -= 1000;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool forwarded_for(const char *xff, long hops, char *out, size_t size)
{
	const char *end, *start;
	size_t n;

	if (xff == NULL || hops < 0)
		return false;
	end = xff + strlen(xff);
	for (;;) {
		start = end;
		while (start > xff && start[-1] != ',')
			start--;
		if (hops-- == 0)
			break;
		if (start == xff)
			return false;
		end = start - 1;
	}
	while (start < end && is_blank(*start))
		start++;
	while (end > start && is_blank(end[-1]))
		end--;
	n = (size_t)(end - start);
	if (n == 0 || n >= size)
		return false;
	memcpy(out, start, n);
	out[n] = '\0';
	return true;
}

void address_bucket(const char *addr, char *out, size_t size)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, a) == 1) {
		static const unsigned char mapped[12] = { [10] = 0xff,
							  [11] = 0xff };
		if (memcmp(a, mapped, sizeof(mapped)) == 0 &&
		    inet_ntop(AF_INET, a + 12, text, sizeof(text)) != NULL) {
			snprintf(out, size, "%s", text);
			return;
		}
		memset(a + 8, 0, 8);
		if (inet_ntop(AF_INET6, a, text, sizeof(text)) != NULL) {
			snprintf(out, size, "%s/64", text);
			return;
		}
	}
	snprintf(out, size, "%s", addr);
}
