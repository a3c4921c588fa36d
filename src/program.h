/* program.h - the one skeleton every Parley program's main() runs on.
 *
 * In the spirit of Postfix's single_server_main(): the program names its
 * own options and a run function; the skeleton owns --config and --help,
 * reads the settings (file, then PARLEY_* environment), sets the log
 * level, logs the settings' warnings, and turns the outcome into a
 * <sysexits.h> exit code. Privileges are dropped with
 * program_drop_privileges() where the program says (parley-ws does it
 * after opening its socket and reading its keys).
 */
#ifndef PARLEY_PROGRAM_H
#define PARLEY_PROGRAM_H

#include "common.h"
#include "settings.h"

#include <getopt.h>
#include <sysexits.h>

struct program {
	const char *name;
	/* the usage lines after "usage: NAME [--config FILE]" */
	const char *usage;
	/* the program's own options (getopt_long's, NULL-terminated; may
	 * be NULL) and their short letters; --config/-c, --help/-h are
	 * the skeleton's */
	const struct option *options;
	const char *shortopts;
	/* each of the program's own options; false: a usage error */
	bool (*option)(void *ctx, int opt, const char *arg);
	/* the operands left after the options (parley-admin's command and
	 * its arguments); false: a usage error. NULL: the program takes
	 * none, and any is a usage error */
	bool (*operands)(void *ctx, int argc, char **argv);
	/* with the settings loaded; returns an EX_* code */
	int (*run)(void *ctx, const struct settings *cfg);
	/* non-NULL: what the program keeps in its database session (an
	 * advisory lock, LISTEN); it then refuses database_pool_mode =
	 * transaction (EX_CONFIG), and must connect directly */
	const char *needs_session;
};

int program_main(int argc, char **argv, const struct program *p, void *ctx);

/* Started as root: switch to `user` (run_as_user) for good. True when
 * that worked, or when not root (nothing to do), or when user is empty
 * (a warning: still root). Failing is fatal rather than serving as root. */
bool program_drop_privileges(const char *user) MUST_CHECK;

#endif
