/* log.h - one logging function with levels, writing to stderr.
 *
 * lighttpd collects a FastCGI program's stderr into its error log, and
 * the command-line tools print to the terminal: both read the same lines.
 * Never log tokens or message bodies.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
void log_set_program(const char *name);
bool log_parse_level(const char *text, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
