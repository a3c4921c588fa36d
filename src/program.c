/* program.c - see program.h. */
#include "common.h"
#include "program.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

static void usage(const struct program *p, FILE *f)
{
	fprintf(f, "usage: %s [--config FILE]%s%s\n"
		   "  --config FILE  settings (default: $PARLEY_CONFIG; "
		   "format: parley.conf.sample)\n"
		   "  --help         this text\n",
		p->name, p->usage && *p->usage ? " " : "",
		p->usage ? p->usage : "");
}

int program_main(int argc, char **argv, const struct program *p, void *ctx)
{
	struct option opts[32] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
	};
	char shortopts[64], err[512];
	const char *config = getenv("PARLEY_CONFIG");
	struct settings cfg;
	enum log_level level;
	size_t n = 2;
	int c;

	log_set_program(p->name);
	for (size_t i = 0; p->options && p->options[i].name && n + 1 <
	     ARRAY_LEN(opts); i++)
		opts[n++] = p->options[i];
	snprintf(shortopts, sizeof(shortopts), "c:h%s",
		 p->shortopts ? p->shortopts : "");
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'c') {
			config = optarg;
		} else if (c == 'h') {
			usage(p, stdout);
			return EX_OK;
		} else if (c == '?' || p->option == NULL ||
			   !p->option(ctx, c, optarg)) {
			usage(p, stderr);
			return EX_USAGE;
		}
	}
	if (p->operands != NULL ? !p->operands(ctx, argc - optind,
						argv + optind)
				: optind < argc) {
		usage(p, stderr);
		return EX_USAGE;
	}
	if (!settings_load(&cfg, config, err, sizeof(err))) {
		log_error("configuration: %s", err);
		return EX_CONFIG;
	}
	if (log_parse_level(cfg.log_level, &level))
		log_set_level(level);
	for (int i = 0; settings_warning(&cfg, i, err, sizeof(err)); i++)
		log_warn("%s", err);
	/* Through a transaction-mode pooler the next transaction may run on
	 * another server connection: what a session holds is not ours. */
	if (p->needs_session != NULL &&
	    strcmp(cfg.database_pool_mode, "transaction") == 0) {
		log_error("configuration: %s needs a database session of its "
			  "own (%s): connect it to PostgreSQL directly, with "
			  "database_pool_mode = session (README, PgBouncer)",
			  p->name, p->needs_session);
		return EX_CONFIG;
	}
	return p->run(ctx, &cfg);
}

bool program_drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return true;
	if (*user == '\0') {
		log_warn("running as root: set run_as_user");
		return true;
	}
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_uid == 0) {
		log_error("run_as_user %s: no such unprivileged user", user);
		return false;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		log_error("cannot switch to user %s: %s", user, strerror(errno));
		return false;
	}
	log_info("running as user %s", user);
	return true;
}
