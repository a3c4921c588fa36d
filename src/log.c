/* log.c - see log.h. */
#include "common.h"
#include "log.h"

#include <stdarg.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *program = "parley";

void log_set_level(enum log_level level) { min_level = level; }
void log_set_program(const char *name) { program = name; }

bool log_parse_level(const char *text, enum log_level *out)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tags[] = { "debug", "info", "warning", "error" };
	char stamp[32], line[1024];
	struct tm tm;
	time_t now;
	va_list ap;

	if (level < min_level)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent workers do not interleave. */
	dprintf(STDERR_FILENO, "%s %s[%ld] %s: %s\n", stamp, program,
		(long)getpid(), tags[level], line);
}
