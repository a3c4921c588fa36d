/* connstate.c - see connstate.h. */
#include "common.h"
#include "connstate.h"
#include "protocol.h"

#include <errno.h>

/* A whole non-negative decimal number, or false. */
static bool parse_number(const char *s, const char **end, long long *out)
{
	char *e;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoll(s, &e, 10);
	if (errno != 0)
		return false;
	*end = e;
	return true;
}

static long long number_or_zero(const char *s)
{
	const char *end;
	long long v;

	return parse_number(s, &end, &v) && *end == '\0' ? v : 0;
}

/* "X:N" or "X:N:M" after the letter (the numbers as expected). */
static bool parse_numbers(const char *v, long long *a, long long *b)
{
	const char *end;

	if (v[0] != ':' || !parse_number(v + 1, &end, a))
		return false;
	if (b == NULL)
		return *end == '\0';
	return *end == ':' && parse_number(end + 1, &end, b) && *end == '\0';
}

static void parse_phase(struct conn_state *st, const char *v)
{
	bool ok = false;

	st->phase = PHASE_NONE;
	st->after = 0;
	st->mark_ms = 0;
	if (v == NULL)
		return;
	switch (v[0]) {
	case 'l':
		ok = v[1] == '\0';
		st->phase = PHASE_LIVE;
		break;
	case 'b':
		ok = parse_numbers(v + 1, &st->after, NULL);
		st->phase = PHASE_BACKLOG;
		break;
	case 'w':
		ok = parse_numbers(v + 1, &st->mark_ms, NULL);
		st->phase = PHASE_SETTLE;
		break;
	case 'p':
		ok = parse_numbers(v + 1, &st->mark_ms, NULL);
		st->phase = PHASE_PROBE;
		break;
	case 's':
		ok = parse_numbers(v + 1, &st->after, &st->mark_ms);
		st->phase = PHASE_SWEEP;
		break;
	}
	if (!ok) {
		st->phase = PHASE_NONE;
		st->after = 0;
		st->mark_ms = 0;
	}
}

void conn_state_load(struct conn_state *st,
		     const char *(*get)(void *ctx, const char *name),
		     void *ctx)
{
	const char *user = get(ctx, STATE_USER_ID);

	*st = (struct conn_state){ 0 };
	if (user != NULL && valid_id(user, strlen(user)))
		snprintf(st->user_id, sizeof(st->user_id), "%s", user);
	parse_phase(st, get(ctx, STATE_PHASE));
	/* Without a user there is no session, whatever else came. */
	if (st->user_id[0] == '\0')
		st->phase = PHASE_NONE;
	else if (st->phase == PHASE_NONE)
		st->phase = PHASE_BACKLOG; /* start over: nothing is lost */
	st->sweep_at = number_or_zero(get(ctx, STATE_SWEEP));
	st->refresh_at = number_or_zero(get(ctx, STATE_REFRESH));
}

static void format_phase(char *out, size_t size, const struct conn_state *st)
{
	switch (st->phase) {
	case PHASE_BACKLOG:
		snprintf(out, size, "b:%lld", st->after);
		break;
	case PHASE_SETTLE:
		snprintf(out, size, "w:%lld", st->mark_ms);
		break;
	case PHASE_PROBE:
		snprintf(out, size, "p:%lld", st->mark_ms);
		break;
	case PHASE_SWEEP:
		snprintf(out, size, "s:%lld:%lld", st->after, st->mark_ms);
		break;
	case PHASE_NONE:
	case PHASE_LIVE:
		snprintf(out, size, "l");
		break;
	}
}

void conn_state_save(const struct conn_state *st, const struct conn_state *was,
		     void (*set)(void *ctx, const char *name,
				 const char *value),
		     void *ctx)
{
	char v[64], w[64];

	if (st->user_id[0] != '\0' && strcmp(st->user_id, was->user_id) != 0)
		set(ctx, STATE_USER_ID, st->user_id);
	format_phase(v, sizeof(v), st);
	format_phase(w, sizeof(w), was);
	if (st->phase != PHASE_NONE &&
	    (strcmp(v, w) != 0 || was->phase == PHASE_NONE))
		set(ctx, STATE_PHASE, v);
	if (st->sweep_at != was->sweep_at && st->sweep_at > 0) {
		snprintf(v, sizeof(v), "%lld", st->sweep_at);
		set(ctx, STATE_SWEEP, v);
	}
	if (st->refresh_at != was->refresh_at && st->refresh_at > 0) {
		snprintf(v, sizeof(v), "%lld", st->refresh_at);
		set(ctx, STATE_REFRESH, v);
	}
}
