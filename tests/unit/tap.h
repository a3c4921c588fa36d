/* tap.h - a small, header-only TAP producer for the unit tests.
 *
 *     plan(N);                 optional: without it done_testing() prints
 *                              the plan at the end ("1..N" trailing plan)
 *     ok(cond, fmt, ...);      one test point
 *     is_int(got, exp, fmt, ...), is_str(got, exp, fmt, ...),
 *     is_mem(got, gotlen, exp, explen, fmt, ...)
 *                              compare and print "# got/expected" on failure
 *     diag(fmt, ...);          a "# " comment line
 *     todo_start(reason); ... todo_end();
 *                              test points in between are "# TODO": a
 *                              failure there is an expected failure (known
 *                              bug); a pass is an unexpected pass, which
 *                              automake's tap-driver reports as XPASS (and
 *                              fails) so that the marker gets removed
 *     skip(n, reason);         n test points reported as "# SKIP"
 *     return done_testing();   exit status: 0 when every non-TODO test
 *                              passed and the plan was kept
 *
 * Diagnostics go to stdout as "# " lines, so they stay in order with the
 * test points in the .log files. Every helper returns whether it passed.
 */
#ifndef PARLEY_TAP_H
#define PARLEY_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

static int tap_planned = -1;  /* -1: no plan yet */
static int tap_run;           /* test points emitted */
static int tap_failed;        /* failures outside TODO blocks */
static int tap_todo_failed;   /* expected failures (inside TODO blocks) */
static const char *tap_todo;  /* current TODO reason, or NULL */

static TAP_UNUSED void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static TAP_UNUSED TAP_PRINTF(1, 2) void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static TAP_UNUSED void todo_start(const char *reason)
{
	tap_todo = reason;
}

static TAP_UNUSED void todo_end(void)
{
	tap_todo = NULL;
}

/* Prints a description with any newline turned into a space, so that a
 * description can never break the TAP stream. */
static TAP_PRINTF(1, 0) void tap_vdesc(const char *fmt, va_list ap)
{
	char desc[512];

	vsnprintf(desc, sizeof(desc), fmt, ap);
	for (char *p = desc; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '#')
			*p = *p == '#' ? '_' : ' ';
	fputs(desc, stdout);
}

static TAP_PRINTF(4, 0) bool tap_vok(bool cond, const char *file, int line,
				     const char *fmt, va_list ap)
{
	tap_run++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	tap_vdesc(fmt, ap);
	if (tap_todo != NULL)
		printf(" # TODO %s", tap_todo);
	fputc('\n', stdout);
	if (!cond) {
		if (tap_todo != NULL)
			tap_todo_failed++;
		else
			tap_failed++;
		printf("#   Failed %stest at %s line %d.\n",
		       tap_todo != NULL ? "(TODO) " : "", file, line);
	}
	fflush(stdout);
	return cond;
}

static TAP_UNUSED TAP_PRINTF(4, 5) bool
tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	return r;
}

static TAP_UNUSED TAP_PRINTF(5, 6) bool
tap_is_int(long long got, long long exp, const char *file, int line,
	   const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got == exp, file, line, fmt, ap);
	va_end(ap);
	if (!r) {
		printf("#          got: %lld\n", got);
		printf("#     expected: %lld\n", exp);
	}
	return r;
}

/* Shows a byte string in C escape form, at most 200 bytes of it. */
static void tap_show(const char *label, const char *s, size_t len)
{
	printf("# %12s: ", label);
	if (s == NULL) {
		fputs("NULL\n", stdout);
		return;
	}
	fputc('"', stdout);
	for (size_t i = 0; i < len && i < 200; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, stdout);
		else
			printf("\\x%02x", c);
	}
	fputc('"', stdout);
	if (len > 200)
		printf("... (%zu bytes)", len);
	fputc('\n', stdout);
}

static TAP_UNUSED TAP_PRINTF(5, 6) bool
tap_is_str(const char *got, const char *exp, const char *file, int line,
	   const char *fmt, ...)
{
	va_list ap;
	bool same = (got == NULL && exp == NULL) ||
		    (got != NULL && exp != NULL && strcmp(got, exp) == 0);
	bool r;

	va_start(ap, fmt);
	r = tap_vok(same, file, line, fmt, ap);
	va_end(ap);
	if (!r) {
		tap_show("got", got, got ? strlen(got) : 0);
		tap_show("expected", exp, exp ? strlen(exp) : 0);
	}
	return r;
}

static TAP_UNUSED TAP_PRINTF(7, 8) bool
tap_is_mem(const void *got, size_t gotlen, const void *exp, size_t explen,
	   const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	bool same = (got == NULL && exp == NULL) ||
		    (got != NULL && exp != NULL && gotlen == explen &&
		     memcmp(got, exp, gotlen) == 0);
	bool r;

	va_start(ap, fmt);
	r = tap_vok(same, file, line, fmt, ap);
	va_end(ap);
	if (!r) {
		tap_show("got", got, gotlen);
		tap_show("expected", exp, explen);
	}
	return r;
}

static TAP_UNUSED void skip(int n, const char *reason)
{
	for (int i = 0; i < n; i++) {
		tap_run++;
		printf("ok %d # SKIP %s\n", tap_run, reason);
	}
	fflush(stdout);
}

static TAP_UNUSED int done_testing(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_run);
	} else if (tap_planned != tap_run) {
		diag("Looks like you planned %d tests but ran %d.",
		     tap_planned, tap_run);
		fflush(stdout);
		return 1;
	}
	if (tap_todo_failed > 0)
		diag("%d TODO test(s) failed as expected (known bugs).",
		     tap_todo_failed);
	if (tap_failed > 0)
		diag("Looks like you failed %d test(s) of %d.", tap_failed,
		     tap_run);
	fflush(stdout);
	return tap_failed > 0 ? 1 : 0;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, exp, ...) \
	tap_is_int((long long)(got), (long long)(exp), __FILE__, __LINE__, \
		   __VA_ARGS__)
#define is_str(got, exp, ...) \
	tap_is_str((got), (exp), __FILE__, __LINE__, __VA_ARGS__)
#define is_mem(got, gotlen, exp, explen, ...) \
	tap_is_mem((got), (gotlen), (exp), (explen), __FILE__, __LINE__, \
		   __VA_ARGS__)

#endif
