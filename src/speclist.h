/* speclist.h - a list of ZeroMQ endpoints in one setting: publish_spec
 * and pushpin_command_spec name one endpoint per Pushpin instance
 * (README, "Several nodes"), separated by commas, spaces or both:
 *
 *   publish_spec = tcp://10.0.0.1:5560, tcp://10.0.0.2:5560
 *
 * Pure code. Each endpoint is tcp://, ipc:// or inproc:// and at most
 * SPEC_MAX - 1 bytes; the same endpoint twice is refused (it would get
 * every publish twice), and so is an empty list.
 *
 * publish_spec may also hold `postgres:` (spec_list_parse_publish): every
 * publish goes as a NOTIFY on the workers' own database connection too,
 * for parley-websocketd (notify.h). It is no Pushpin endpoint: it is not
 * in spec[] but sets `notify`, and a list of it alone is a list.
 */
#ifndef PARLEY_SPECLIST_H
#define PARLEY_SPECLIST_H

#include "common.h"

#define SPEC_LIST_MAX 16 /* Pushpin instances, at most */
#define SPEC_MAX 256     /* bytes of one endpoint, NUL included */

struct spec_list {
	int n;
	char spec[SPEC_LIST_MAX][SPEC_MAX];
	bool notify; /* publish_spec named postgres: */
};

#define SPEC_NOTIFY "postgres:"


/* Splits text into out. False with a reason in err (naming `what`, the
 * setting) when the list is empty, too long, or an endpoint is not
 * one. */
bool spec_list_parse(const char *text, const char *what,
		     struct spec_list *out, char *err, size_t errlen) MUST_CHECK;
/* The same for publish_spec, where postgres: is allowed too. */
bool spec_list_parse_publish(const char *text, struct spec_list *out,
			     char *err, size_t errlen) MUST_CHECK;

#endif
