/* common.h - included first by every source file. */
#ifndef PARLEY_COMMON_H
#define PARLEY_COMMON_H

#include "config.h"


#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MUST_CHECK __attribute__((warn_unused_result))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Ids (user, message, conversation) are 1..128 bytes of 0x21..0x7E. */
#define ID_MAX 128

/* Pushpin refuses WebSocket-over-HTTP response bodies above 1,000,000
 * bytes; every response is built to stay below this budget. */
#define RESPONSE_BUDGET 960000

/* The value of a hexadecimal digit, or -1. */
static inline int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Wall-clock milliseconds: times that travel with a connection from
 * worker to worker (rate bucket, delivery marks). */
static inline long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
