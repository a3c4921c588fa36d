/* test-connstate.c - the connection state's one format (connstate.c) and
 * the token bucket (ratelimit.c): pure code. */
#include "common.h"
#include "connstate.h"
#include "ratelimit.h"
#include "tap.h"

struct kv {
	const char *names[8];
	const char *values[8];
	int n;
	char out[8][2][80];
	int nout;
};

static const char *get(void *ctx, const char *name)
{
	struct kv *kv = ctx;
	for (int i = 0; i < kv->n; i++)
		if (strcmp(kv->names[i], name) == 0)
			return kv->values[i];
	return NULL;
}

static void set(void *ctx, const char *name, const char *value)
{
	struct kv *kv = ctx;
	if (kv->nout < 8) {
		snprintf(kv->out[kv->nout][0], 80, "%s", name);
		snprintf(kv->out[kv->nout++][1], 80, "%s", value);
	}
}

static void load(struct conn_state *st, const char *user, const char *phase)
{
	struct kv kv = { { "User-Id", "Phase" }, { user, phase }, 2, {{{0}}}, 0 };
	conn_state_load(st, get, &kv);
}

int main(void)
{
	struct conn_state st, was;
	struct kv kv = { .n = 0 };
	long long tokens = 0, at = 0;
	int n;

	load(&st, NULL, "l");
	is_int(st.phase, PHASE_NONE, "no user: no session, whatever Phase says");
	load(&st, "u1", "b:42");
	is_int(st.phase, PHASE_BACKLOG, "b:42 is the backlog");
	is_int(st.after, 42, "  after seq 42");
	load(&st, "u1", "w:1700000000000");
	ok(st.phase == PHASE_SETTLE && st.mark_ms == 1700000000000LL,
	   "w:MS: live, the early check due");
	load(&st, "u1", "s:9:12");
	ok(st.phase == PHASE_SWEEP && st.after == 9 && st.mark_ms == 12,
	   "s:9:12 is a sweep");
	load(&st, "u1", "p:12");
	ok(st.phase == PHASE_PROBE && st.mark_ms == 12,
	   "p:12 is a probe for what was stored before 12");
	load(&st, "u1", "s:7");
	is_int(st.phase, PHASE_BACKLOG, "s:7 without its time starts over");
	load(&st, "u1", "l:1");
	is_int(st.phase, PHASE_BACKLOG, "l:1 starts over");
	load(&st, "u1", "l");
	is_int(st.phase, PHASE_LIVE, "l is live");
	load(&st, "u1", "b:");
	ok(st.phase == PHASE_BACKLOG && st.after == 0,
	   "a malformed Phase starts the backlog over (nothing is lost)");
	load(&st, "u1", "s:-5:1");
	ok(st.phase == PHASE_BACKLOG && st.after == 0, "  so does c:-5");
	load(&st, "u1", "x:1");
	is_int(st.phase, PHASE_BACKLOG, "  and x:1");
	load(&st, "bad user", "l");
	is_int(st.phase, PHASE_NONE, "an invalid User-Id is no session");

	/* Saving writes what changed, never an empty value. */
	was = (struct conn_state){ 0 };
	st = (struct conn_state){ .phase = PHASE_BACKLOG, .sweep_at = 100,
				  .refresh_at = 200 };
	snprintf(st.user_id, sizeof(st.user_id), "u1");
	conn_state_save(&st, &was, set, &kv);
	is_int(kv.nout, 4, "a new session writes four values");
	is_str(kv.out[0][0], "User-Id", "  User-Id");
	is_str(kv.out[1][1], "b:0", "  Phase b:0");
	is_str(kv.out[2][1], "100", "  Sweep");
	is_str(kv.out[3][1], "200", "  Refresh");
	kv.nout = 0;
	was = st;
	conn_state_save(&st, &was, set, &kv);
	is_int(kv.nout, 0, "nothing changed: nothing written");
	st.phase = PHASE_SWEEP;
	st.after = 3;
	st.mark_ms = 99;
	conn_state_save(&st, &was, set, &kv);
	ok(kv.nout == 1 && strcmp(kv.out[0][1], "s:3:99") == 0,
	   "a sweep is written as s:SEQ:MS");
	kv.nout = 0;
	was = st;
	st.phase = PHASE_PROBE;
	conn_state_save(&st, &was, set, &kv);
	ok(kv.nout == 1 && strcmp(kv.out[0][1], "p:99") == 0,
	   "a probe is written as p:MS");
	kv.nout = 0;
	was = st;
	st.phase = PHASE_LIVE;
	st.after = 0;
	conn_state_save(&st, &was, set, &kv);
	ok(kv.nout == 1 && strcmp(kv.out[0][1], "l") == 0,
	   "live is written as \"l\", not as an empty value");

	/* The bucket: burst 3, 1 a second. */
	n = 0;
	for (int i = 0; i < 10; i++)
		n += rate_take(&tokens, &at, 1000000, 1, 3);
	is_int(n, 3, "a full bucket gives its burst at once");
	ok(!rate_take(&tokens, &at, 1000500, 1, 3), "half a second: none");
	ok(rate_take(&tokens, &at, 1001000, 1, 3), "a whole second: one");
	ok(rate_take(&tokens, &at, 999000, 1, 3),
	   "a clock that went back refills (never locks a client out)");
	tokens = 0;
	at = 2000000;
	ok(!rate_take(&tokens, &at, 1999500, 1, 3),
	   "a clock read half a second before the bucket's (by another "
	   "process, just before it): no refill");
	ok(at == 2000000, "  and the bucket keeps its time");
	tokens = 0;
	at = 1;
	ok(rate_take(&tokens, &at, 9000000000000LL, 50, 100),
	   "a long pause cannot overflow the bucket");
	ok(tokens <= 100000, "  capped at the burst (%lld)", tokens);
	return done_testing();
}
