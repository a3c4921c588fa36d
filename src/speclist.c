/* speclist.c - see speclist.h. */
#include "common.h"
#include "speclist.h"

static bool is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

static bool has_scheme(const char *s, size_t len)
{
	static const char *const schemes[] = { "tcp://", "ipc://",
					       "inproc://" };

	for (size_t i = 0; i < ARRAY_LEN(schemes); i++) {
		size_t k = strlen(schemes[i]);
		if (len > k && memcmp(s, schemes[i], k) == 0)
			return true;
	}
	return false;
}

static bool parse_list(const char *text, const char *what, bool notify_ok,
		       struct spec_list *out, char *err, size_t errlen)
{
	out->n = 0;
	out->notify = false;
	for (const char *p = text; *p != '\0';) {
		size_t len = 0;

		if (is_separator(*p)) {
			p++;
			continue;
		}
		while (p[len] != '\0' && !is_separator(p[len]))
			len++;
		if (notify_ok && len == strlen(SPEC_NOTIFY) &&
		    memcmp(p, SPEC_NOTIFY, len) == 0) {
			if (out->notify) {
				snprintf(err, errlen, "%s: %s is listed twice",
					 what, SPEC_NOTIFY);
				return false;
			}
			out->notify = true;
			p += len;
			continue;
		}
		if (!has_scheme(p, len)) {
			snprintf(err, errlen, "%s: '%.*s' is not tcp://, ipc:// "
				 "or inproc://%s", what, (int)(len > 80 ? 80 : len),
				 p, notify_ok ? " (or postgres:)" : "");
			return false;
		}
		if (len >= SPEC_MAX) {
			snprintf(err, errlen, "%s: an endpoint longer than %d "
				 "bytes", what, SPEC_MAX - 1);
			return false;
		}
		if (out->n == SPEC_LIST_MAX) {
			snprintf(err, errlen, "%s: more than %d endpoints", what,
				 SPEC_LIST_MAX);
			return false;
		}
		memcpy(out->spec[out->n], p, len);
		out->spec[out->n][len] = '\0';
		for (int i = 0; i < out->n; i++)
			if (strcmp(out->spec[i], out->spec[out->n]) == 0) {
				snprintf(err, errlen, "%s: %s is listed twice",
					 what, out->spec[i]);
				return false;
			}
		out->n++;
		p += len;
	}
	if (out->n == 0 && !out->notify) {
		snprintf(err, errlen, "%s: no endpoint", what);
		return false;
	}
	return true;
}

bool spec_list_parse(const char *text, const char *what,
		     struct spec_list *out, char *err, size_t errlen)
{
	return parse_list(text, what, false, out, err, errlen);
}

bool spec_list_parse_publish(const char *text, struct spec_list *out,
			     char *err, size_t errlen)
{
	return parse_list(text, "publish_spec", true, out, err, errlen);
}
