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

static void parse_phase(struct conn_state *st, const char *v)
{
	const char *end;

	st->phase = PHASE_NONE;
	st->after = 0;
	if (v == NULL)
		return;
	if (strcmp(v, "l") == 0) {
		st->phase = PHASE_LIVE;
	} else if (v[0] != '\0' && strchr("bcs", v[0]) != NULL &&
		   v[1] == ':' && parse_number(v + 2, &end, &st->after) &&
		   *end == '\0') {
		st->phase = v[0] == 'b'   ? PHASE_BACKLOG
			    : v[0] == 'c' ? PHASE_CATCHUP
					  : PHASE_SWEEP;
	} else {
		st->after = 0;
	}
}

static void parse_rate(struct conn_state *st, const char *v)
{
	const char *end;

	st->tokens = 0;
	st->tokens_at = 0;
	if (v == NULL || !parse_number(v, &end, &st->tokens) || *end != ':' ||
	    !parse_number(end + 1, &end, &st->tokens_at) || *end != '\0') {
		st->tokens = 0;
		st->tokens_at = 0;
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
	parse_rate(st, get(ctx, STATE_RATE));
}

static void format_phase(char *out, size_t size, const struct conn_state *st)
{
	switch (st->phase) {
	case PHASE_BACKLOG:
		snprintf(out, size, "b:%lld", st->after);
		break;
	case PHASE_CATCHUP:
		snprintf(out, size, "c:%lld", st->after);
		break;
	case PHASE_SWEEP:
		snprintf(out, size, "s:%lld", st->after);
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
	if ((st->tokens != was->tokens || st->tokens_at != was->tokens_at) &&
	    st->tokens_at > 0) {
		snprintf(v, sizeof(v), "%lld:%lld", st->tokens, st->tokens_at);
		set(ctx, STATE_RATE, v);
	}
}
