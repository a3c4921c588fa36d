/* test-speclist.c - lists of ZeroMQ endpoints in publish_spec and
 * pushpin_command_spec (speclist.h; README, "Several nodes"). */
#include "common.h"
#include "speclist.h"
#include "tap.h"

static struct spec_list l;

/* text parses into the n endpoints of want[]. */
static void parses(const char *text, int n, const char *const *want)
{
	char err[512] = "";

	if (!ok(spec_list_parse(text, "publish_spec", &l, err, sizeof(err)),
		"\"%s\" parses", text)) {
		diag("error: %s", err);
		return;
	}
	is_int(l.n, n, "  into %d endpoint(s)", n);
	for (int i = 0; i < n && i < l.n; i++)
		is_str(l.spec[i], want[i], "  endpoint %d", i + 1);
}

/* text is refused, with a reason that contains `why`. */
static void refused(const char *text, const char *why)
{
	char err[512] = "";

	ok(!spec_list_parse(text, "publish_spec", &l, err, sizeof(err)),
	   "\"%.60s\" is refused", text);
	ok(strstr(err, why) != NULL && strncmp(err, "publish_spec: ", 14) == 0,
	   "  saying \"%s\" (%s)", why, err);
}

int main(void)
{
	static const char *const one[] = { "tcp://127.0.0.1:5560" };
	static const char *const two[] = { "tcp://127.0.0.1:5560",
					   "tcp://127.0.0.1:5570" };
	static const char *const mixed[] = { "ipc:///run/a/pushpin-command",
					     "tcp://10.0.0.2:5563",
					     "inproc://x" };
	char big[SPEC_MAX + 64], many[SPEC_LIST_MAX * 32 + 64] = "";

	parses("tcp://127.0.0.1:5560", 1, one);
	parses("  tcp://127.0.0.1:5560 ", 1, one);
	parses("tcp://127.0.0.1:5560,tcp://127.0.0.1:5570", 2, two);
	parses("tcp://127.0.0.1:5560, tcp://127.0.0.1:5570", 2, two);
	parses("tcp://127.0.0.1:5560 tcp://127.0.0.1:5570", 2, two);
	parses(",tcp://127.0.0.1:5560,,\ttcp://127.0.0.1:5570,", 2, two);
	parses("ipc:///run/a/pushpin-command tcp://10.0.0.2:5563, inproc://x",
	       3, mixed);

	refused("", "no endpoint");
	refused(" , ,", "no endpoint");
	refused("127.0.0.1:5560", "is not tcp://, ipc:// or inproc://");
	refused("tcp://", "is not tcp://");
	refused("tcp://127.0.0.1:5560,udp://127.0.0.1:5570", "'udp://");
	refused("tcp://127.0.0.1:5560 tcp://127.0.0.1:5560", "listed twice");

	memcpy(big, "ipc://", 6);
	memset(big + 6, 'a', SPEC_MAX - 6);
	big[SPEC_MAX] = '\0';
	refused(big, "longer than");
	big[SPEC_MAX - 1] = '\0'; /* SPEC_MAX - 1 bytes: fits */
	ok(spec_list_parse(big, "publish_spec", &l, many, sizeof(many)) &&
	   l.n == 1 && strlen(l.spec[0]) == SPEC_MAX - 1,
	   "an endpoint of %d bytes fits", SPEC_MAX - 1);

	many[0] = '\0';
	for (int i = 0; i <= SPEC_LIST_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "tcp://127.0.0.1:%d,", 6000 + i);
	refused(many, "more than");
	*strrchr(many, 't') = '\0'; /* SPEC_LIST_MAX of them */
	ok(spec_list_parse(many, "publish_spec", &l, big, sizeof(big)) &&
	   l.n == SPEC_LIST_MAX, "%d endpoints fit", SPEC_LIST_MAX);

	/* postgres: (NOTIFY, notify.h): publish_spec only, no endpoint. */
	ok(spec_list_parse_publish("tcp://127.0.0.1:5560, postgres:", &l, big,
				   sizeof(big)) && l.n == 1 && l.notify &&
	   strcmp(l.spec[0], "tcp://127.0.0.1:5560") == 0,
	   "publish_spec: a Pushpin and postgres:");
	ok(spec_list_parse_publish("postgres:", &l, big, sizeof(big)) &&
	   l.n == 0 && l.notify, "publish_spec: postgres: alone is a list");
	ok(spec_list_parse_publish("tcp://127.0.0.1:5560", &l, big,
				   sizeof(big)) && l.n == 1 && !l.notify,
	   "publish_spec without postgres: does not notify");
	ok(!spec_list_parse_publish("postgres: postgres:", &l, big,
				    sizeof(big)) &&
	   strstr(big, "listed twice") != NULL, "postgres: twice is refused");
	ok(!spec_list_parse_publish("postgres://x", &l, big, sizeof(big)),
	   "postgres://x is refused");
	ok(!spec_list_parse("postgres:", "pushpin_command_spec", &l, big,
			    sizeof(big)),
	   "pushpin_command_spec refuses postgres:");
	return done_testing();
}
