/* parley-migrate - applies the schema migrations in sql/ that the
 * database has not seen yet.
 *
 * Files are named NNN_description.sql and applied in name order, each in
 * its own transaction together with its row in schema_migrations, under
 * an advisory lock: running it twice, or twice at once, is safe.
 * Exit codes follow sysexits: 0 done, 64 usage, 66 no migrations found,
 * 69 database unavailable, 65 a migration failed (nothing of it kept).
 *
 * SECURITY: runs whatever SQL is in the migrations directory; it must be
 * writable only by whoever may change the schema.
 */
#include "common.h"

#include <libpq-fe.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "program.h"

#include <dirent.h>
#include <errno.h>

#define LOCK_KEY "7240112"  /* advisory lock id shared by all migrators */
#define MIGRATION_MAX (64u * 1024 * 1024) /* bytes of one migration file */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_migration(const char *name)
{
	size_t n = strlen(name);
	return n > 8 && name[0] >= '0' && name[0] <= '9' &&
	       strcmp(name + n - 4, ".sql") == 0;
}

static bool exec_ok(PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		log_error("%s: %s", what, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static bool applied(PGconn *c, const char *version)
{
	const char *p[1] = { version };
	PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations "
				   "WHERE version = $1", 1, NULL, p, NULL,
				   NULL, 0);
	bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	PQclear(r);
	return yes;
}

static bool apply(PGconn *c, const char *dir, const char *name)
{
	char path[4096], version[256];
	const char *p[1] = { version };
	char why[512];
	struct buf sql;
	PGresult *r;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(version, sizeof(version), "%.*s", (int)(strlen(name) - 4),
		 name);
	if (!buf_read_file(&sql, path, MIGRATION_MAX, why, sizeof(why))) {
		log_error("%s", why);
		return false;
	}
	ok = exec_ok(c, "BEGIN", "begin") && exec_ok(c, sql.data, name);
	if (ok) {
		r = PQexecParams(c, "INSERT INTO schema_migrations (version) "
				 "VALUES ($1)", 1, NULL, p, NULL, NULL, 0);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			log_error("record %s: %s", name,
				  PQresultErrorMessage(r));
		PQclear(r);
	}
	ok = ok && exec_ok(c, "COMMIT", "commit");
	if (!ok)
		exec_ok(c, "ROLLBACK", "rollback");
	else
		log_info("applied %s", version);
	buf_free(&sql);
	return ok;
}

static bool migrate_option(void *ctx, int opt, const char *arg)
{
	const char **dir = ctx;

	if (opt != 'd')
		return false;
	*dir = arg;
	return true;
}

static int migrate_run(void *ctx, const struct settings *cfg)
{
	const char *dir = *(const char **)ctx;
	char **names = NULL;
	size_t count = 0, done = 0;
	struct db *db;
	struct dirent *de;
	PGconn *c;
	DIR *d;
	int rc = EX_OK;

	d = opendir(dir);
	if (d == NULL) {
		log_error("%s: %s", dir, strerror(errno));
		return EX_NOINPUT;
	}
	while ((de = readdir(d)) != NULL) {
		char **more;
		if (!is_migration(de->d_name))
			continue;
		more = realloc(names, (count + 1) * sizeof(*names));
		if (more == NULL || (more[count] = strdup(de->d_name)) == NULL) {
			log_error("out of memory");
			return EX_OSERR;
		}
		names = more;
		count++;
	}
	closedir(d);
	if (count == 0) {
		log_error("no migrations in %s", dir);
		return EX_NOINPUT;
	}
	qsort(names, count, sizeof(*names), by_name);

	db = db_new(cfg->database_url, "parley-migrate");
	c = db ? db_conn(db) : NULL;
	if (c == NULL) {
		log_error("database unavailable");
		db_free(db);
		return EX_UNAVAILABLE;
	}
	if (!exec_ok(c, "SET client_min_messages = warning", "settings") ||
	    !exec_ok(c, "SELECT pg_advisory_lock(" LOCK_KEY ")", "lock") ||
	    !exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
		     "version text PRIMARY KEY, "
		     "applied_at timestamptz NOT NULL DEFAULT now())",
		     "schema_migrations")) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		char version[256];
		snprintf(version, sizeof(version), "%.*s",
			 (int)(strlen(names[i]) - 4), names[i]);
		if (applied(c, version))
			continue;
		if (!apply(c, dir, names[i])) {
			rc = EX_DATAERR;
			goto out;
		}
		done++;
	}
	log_info("schema up to date: %zu migration(s) applied now, %zu in "
		 "all", done, count);
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	db_free(db);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct program prog = {
		.name = "parley-migrate",
		.usage = "[--dir SQLDIR]\n"
			 "  --dir SQLDIR   the migrations (default: "
			 "$PARLEY_SQL_DIR, else " PARLEY_SQL_DIR ")",
		.options = opts,
		.shortopts = "d:",
		.option = migrate_option,
		.run = migrate_run,
		.needs_session = "an advisory lock held while it migrates, "
				 "and SET client_min_messages",
	};
	const char *dir = getenv("PARLEY_SQL_DIR");

	if (dir == NULL)
		dir = PARLEY_SQL_DIR;
	return program_main(argc, argv, &prog, &dir);
}
