/* command.h - Pushpin's command socket (the handler's command_spec, a
 * ZeroMQ REP socket speaking tnetstrings): which connections it holds.
 * parley-expire --reconcile asks it about the connections table, and
 * parley-ws' /healthz asks it whether Pushpin answers at all.
 *
 * Trust: the socket named in the configuration (loopback or ipc in
 * every shipped one); its answers are parsed as untrusted bytes
 * (tnetstring.h) all the same.
 */
#ifndef PARLEY_COMMAND_H
#define PARLEY_COMMAND_H

#include "common.h"

struct command;

/* A connection to the command socket at spec whose every send and
 * answer waits at most timeout_ms. NULL with a reason in err. */
struct command *command_open(const char *spec, int timeout_ms, char *err,
			     size_t errlen) MUST_CHECK;
void command_close(struct command *c);

/* Asks which of ids[0..n) (n may be 0: only whether it answers) Pushpin
 * holds and marks them in alive[]. False with a reason in err: no
 * answer in time, or not one that can be read; the connection is then
 * of no further use (a REQ socket waits for its answer). */
bool command_conncheck(struct command *c, char **ids, int n, bool *alive,
		       char *err, size_t errlen) MUST_CHECK;

#endif
