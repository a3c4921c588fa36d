/* test-settings.c - the configuration table, file and environment
 * (settings.h), and the docs that list the options. */
#include "common.h"
#include "settings.h"
#include "tap.h"

#include <ctype.h>
#include <unistd.h>

#ifndef TOP_SRCDIR
#error "TOP_SRCDIR must be defined (see Makefile.am)"
#endif

#define SAMPLE TOP_SRCDIR "/lighttpd/parley.conf.sample"

extern char **environ;

static char tmpfiles[16][64];
static int ntmpfiles;

/* Writes `text` to a new temporary file; returns its path. */
static const char *write_conf(const char *text)
{
	char *path;
	int fd;
	FILE *f;

	if (ntmpfiles == (int)ARRAY_LEN(tmpfiles))
		abort();
	path = tmpfiles[ntmpfiles++];
	snprintf(path, sizeof(tmpfiles[0]), "/tmp/parley-test-settings-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		perror("mkstemp");
		abort();
	}
	fputs(text, f);
	fclose(f);
	return path;
}

static void remove_tmpfiles(void)
{
	for (int i = 0; i < ntmpfiles; i++)
		unlink(tmpfiles[i]);
}

/* The tests must not depend on the caller's environment. */
static void clear_parley_env(void)
{
	char names[64][128];
	int n = 0;

	for (char **e = environ; *e != NULL && n < 64; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		if (strncmp(*e, "PARLEY_", 7) == 0 && len < sizeof(names[0])) {
			memcpy(names[n], *e, len);
			names[n++][len] = '\0';
		}
	}
	for (int i = 0; i < n; i++)
		unsetenv(names[i]);
}

static const struct option_def *option(const char *name)
{
	for (size_t i = 0; i < settings_option_count; i++)
		if (strcmp(settings_options[i].name, name) == 0)
			return &settings_options[i];
	return NULL;
}

static bool same_settings(const struct settings *a, const struct settings *b)
{
	for (size_t i = 0; i < settings_option_count; i++) {
		const struct option_def *o = &settings_options[i];
		const char *pa = (const char *)a + o->offset;
		const char *pb = (const char *)b + o->offset;
		if (o->is_string ? strcmp(pa, pb) != 0 :
		    *(const long *)(const void *)pa !=
		    *(const long *)(const void *)pb) {
			diag("settings differ in %s", o->name);
			return false;
		}
	}
	return true;
}

static void test_defaults(void)
{
	struct settings s;

	memset(&s, 0x55, sizeof(s));
	settings_defaults(&s);
	is_str(s.database_url, "dbname=parley", "default database_url");
	is_str(s.publish_spec, "tcp://127.0.0.1:5560", "default publish_spec");
	is_str(s.pushpin_command_spec, "tcp://127.0.0.1:5563",
	       "default pushpin_command_spec");
	is_int(s.connection_ttl, 86400, "default connection_ttl is 24 h "
	       "(README, Tables)");
	is_int(s.max_content_bytes, 65536, "default max_content_bytes is "
	       "65536 (README, Frames: client to server)");
	is_int(s.max_ids_per_frame, 500, "default max_ids_per_frame is 500 "
	       "(README, Frames: client to server)");
	is_int(s.max_group_members, 1000, "default max_group_members is 1000 "
	       "(PROTOCOL section 6)");
	is_int(s.group_fanout_rate, 1000, "default group_fanout_rate is 1000 "
	       "(README, Configuration)");
	is_int(s.redelivery_interval, 30, "default redelivery_interval is "
	       "30 s (README, Frames: client to server)");
	is_int(s.keepalive_interval, 25, "default keepalive_interval");
	is_int(s.page_messages, 200, "default page_messages");
	is_int(s.expire_batch, 5000, "default expire_batch");
	is_str(s.log_level, "info", "default log_level");
	is_str(s.database_pool_mode, "session", "default database_pool_mode "
	       "is session: named prepared statements (README, PgBouncer)");

	/* The table itself is sound. */
	for (size_t i = 0; i < settings_option_count; i++) {
		const struct option_def *o = &settings_options[i];
		bool good = o->name != NULL && o->def != NULL &&
			    o->help != NULL && *o->help != '\0';
		if (o->is_string) {
			good = good && o->size > 0 &&
			       o->offset + o->size <= sizeof(struct settings);
		} else {
			good = good && o->min <= o->max &&
			       o->offset + sizeof(long) <=
				       sizeof(struct settings);
		}
		ok(good, "option table entry %s is well-formed", o->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(settings_options[j].name, o->name) == 0)
				ok(0, "option %s is listed twice", o->name);
	}
	ok(settings_option_count > 0, "the option table is not empty");
}

static void set_ok(struct settings *s, const char *name, const char *value)
{
	char err[256] = "";

	if (!ok(settings_set(s, name, value, err, sizeof(err)),
		"settings_set %s = \"%s\"", name, value))
		diag("error: %s", err);
}

/* A rejected value gives a reason naming the option and changes
 * nothing. */
static void set_bad_todo(const char *name, const char *value,
			 const char *what, const char *todo)
{
	struct settings s, before;
	char err[256] = "";
	bool r;

	settings_defaults(&s);
	before = s;
	r = settings_set(&s, name, value, err, sizeof(err));
	ok(!r, "settings_set rejects %s", what);
	ok(strstr(err, name) != NULL, "  the reason names %s: \"%s\"", name,
	   err);
	ok(same_settings(&s, &before), "  the settings are unchanged");
}

static void set_bad(const char *name, const char *value, const char *what)
{
	set_bad_todo(name, value, what, NULL);
}

static void test_set(void)
{
	struct settings s;
	char err[256] = "";
	char big[2048];

	settings_defaults(&s);
	set_ok(&s, "connection_ttl", "600");
	is_int(s.connection_ttl, 600, "connection_ttl set to 600");
	set_ok(&s, "connection_ttl", "60");
	is_int(s.connection_ttl, 60, "connection_ttl at its minimum 60");
	set_ok(&s, "connection_ttl", "31536000");
	is_int(s.connection_ttl, 31536000, "connection_ttl at its maximum");
	set_ok(&s, "max_content_bytes", "1");
	is_int(s.max_content_bytes, 1, "max_content_bytes at its minimum 1");
	set_ok(&s, "max_content_bytes", "131072");
	is_int(s.max_content_bytes, 131072, "max_content_bytes at its max");
	set_ok(&s, "max_ids_per_frame", "1");
	is_int(s.max_ids_per_frame, 1, "max_ids_per_frame 1");
	set_ok(&s, "database_url", "postgresql://u:p@db:5432/parley?x=1");
	is_str(s.database_url, "postgresql://u:p@db:5432/parley?x=1",
	       "database_url set");
	set_ok(&s, "database_url", "");
	is_str(s.database_url, "", "database_url may be empty (libpq "
	       "defaults)");
	set_ok(&s, "log_level", "debug");
	is_str(s.log_level, "debug", "log_level debug");
	set_ok(&s, "log_level", "error");
	set_ok(&s, "log_level", "warn");
	is_str(s.log_level, "warn", "log_level warn");
	/* longest string that fits: size - 1 bytes */
	memset(big, 'd', sizeof(s.database_url) - 1);
	big[sizeof(s.database_url) - 1] = '\0';
	set_ok(&s, "database_url", big);
	is_int(strlen(s.database_url), sizeof(s.database_url) - 1,
	       "database_url of %zu bytes kept whole",
	       sizeof(s.database_url) - 1);

	ok(!settings_set(&s, "no_such_option", "1", err, sizeof(err)),
	   "unknown option rejected");
	ok(strstr(err, "no_such_option") != NULL, "  reason names it: \"%s\"",
	   err);
	ok(!settings_set(&s, "", "1", err, sizeof(err)), "empty name rejected");
	ok(!settings_set(&s, "Connection_TTL", "600", err, sizeof(err)),
	   "option names are case-sensitive");
	ok(!settings_set(&s, "connection_ttl ", "600", err, sizeof(err)),
	   "a name with a trailing space is not an option");

	set_bad("connection_ttl", "abc", "a non-number");
	set_bad("connection_ttl", "", "an empty number");
	set_bad("connection_ttl", "600s", "a number with a unit");
	set_bad("connection_ttl", "1.5", "a fraction");
	set_bad("connection_ttl", "1e3", "an exponent");
	set_bad("connection_ttl", "0x100", "hexadecimal");
	set_bad("connection_ttl", "99999999999999999999999", "an overflow");
	set_bad("connection_ttl", "-99999999999999999999999",
		"a negative overflow");
	set_bad("connection_ttl", "9", "connection_ttl below 10");
	set_bad("connection_ttl", "31536001", "connection_ttl above a year");
	set_bad("connection_ttl", "-1", "a negative ttl");
	set_bad("max_content_bytes", "0", "max_content_bytes 0");
	set_bad("max_content_bytes", "131073", "max_content_bytes 131073");
	set_bad("max_ids_per_frame", "0", "max_ids_per_frame 0");
	set_bad("max_ids_per_frame", "501", "max_ids_per_frame 501 (the contract "
		"caps a frame at 500)");
	set_bad("redelivery_interval", "4", "redelivery_interval 4");
	set_bad("keepalive_interval", "19", "keepalive_interval below "
		"Pushpin's minimum 20");
	set_bad("keepalive_interval", "1701", "keepalive_interval 1701");
	set_bad("page_messages", "0", "page_messages 0");
	set_bad("expire_batch", "100001", "expire_batch 100001");
	memset(big, 'd', sizeof(s.database_url));
	big[sizeof(s.database_url)] = '\0';
	set_bad("database_url", big, "a database_url that does not fit");
	set_bad("log_level", "infoinfoinfoinfoinfo", "a log_level too long");
	set_bad("auth_mode", "open", "an auth_mode other than jwt or none");
	set_bad("auth_mode", "JWT", "auth_mode in upper case");
	set_bad("log_level", "loud", "log_level loud");
	set_bad("log_level", "INFO", "log_level in upper case");
	set_bad("log_level", "", "an empty log_level");
	set_ok(&s, "database_pool_mode", "transaction");
	is_str(s.database_pool_mode, "transaction", "database_pool_mode "
	       "transaction");
	set_bad("database_pool_mode", "statement", "database_pool_mode "
		"statement (PgBouncer's statement mode breaks transactions)");
	set_bad("database_pool_mode", "Transaction", "database_pool_mode in "
		"upper case");
	set_bad("database_pool_mode", "", "an empty database_pool_mode");
}

static void test_load(void)
{
	struct settings s, def;
	char err[512], prefix[128];
	const char *path;
	char *longline;

	settings_defaults(&def);

	memset(&s, 0x55, sizeof(s));
	ok(settings_load(&s, NULL, err, sizeof(err)), "load without a file");
	ok(same_settings(&s, &def), "  gives the defaults");
	ok(settings_load(&s, "", err, sizeof(err)), "load with path \"\"");
	ok(same_settings(&s, &def), "  gives the defaults");

	path = write_conf("# a comment\n"
			  "\n"
			  "   \n"
			  "connection_ttl=600\n"
			  "   # an indented comment = with an equals sign\n"
			  "  redelivery_interval   =   45  \n"
			  "\tpage_messages\t=\t10\t\n"
			  "database_url = host=db dbname=parley user=me\n"
			  "log_level = debug\r\n"
			  "max_ids_per_frame = 100");
	if (!ok(settings_load(&s, path, err, sizeof(err)),
		"load a file with comments, blank lines and spaces"))
		diag("error: %s", err);
	is_int(s.connection_ttl, 600, "  name=value without spaces");
	is_int(s.redelivery_interval, 45, "  spaces around = and at the end");
	is_int(s.page_messages, 10, "  tabs around =");
	is_str(s.database_url, "host=db dbname=parley user=me",
	       "  value containing = and spaces");
	is_str(s.log_level, "debug", "  CRLF line ending");
	is_int(s.max_ids_per_frame, 100, "  last line without a newline");
	is_int(s.max_content_bytes, 65536, "  unset options keep defaults");
	is_int(s.expire_batch, 5000, "  unset options keep defaults (2)");

	path = write_conf("connection_ttl = 600\nconnection_ttl = 700\n");
	ok(settings_load(&s, path, err, sizeof(err)), "load a repeated name");
	is_int(s.connection_ttl, 700, "  the last one wins");

	path = write_conf("");
	ok(settings_load(&s, path, err, sizeof(err)), "load an empty file");
	ok(same_settings(&s, &def), "  gives the defaults");

	/* Errors name file:line. */
	path = write_conf("# ok\nconnection_ttl = 600\nbogus_option = 1\n");
	ok(!settings_load(&s, path, err, sizeof(err)),
	   "unknown option in a file fails");
	snprintf(prefix, sizeof(prefix), "%s:3:", path);
	ok(strncmp(err, prefix, strlen(prefix)) == 0,
	   "  the error starts with file:line (%s)", err);
	ok(strstr(err, "bogus_option") != NULL, "  and names the option");

	path = write_conf("\n\n\n\nmax_content_bytes = lots\n");
	ok(!settings_load(&s, path, err, sizeof(err)),
	   "a non-number in a file fails");
	snprintf(prefix, sizeof(prefix), "%s:5:", path);
	ok(strncmp(err, prefix, strlen(prefix)) == 0,
	   "  the error starts with file:line (%s)", err);

	path = write_conf("connection_ttl = 600\nthis line has no equals\n");
	ok(!settings_load(&s, path, err, sizeof(err)),
	   "a line without = fails");
	snprintf(prefix, sizeof(prefix), "%s:2:", path);
	ok(strncmp(err, prefix, strlen(prefix)) == 0,
	   "  the error starts with file:line (%s)", err);

	path = write_conf("max_ids_per_frame = 501\n");
	ok(!settings_load(&s, path, err, sizeof(err)),
	   "an out-of-range value in a file fails");
	snprintf(prefix, sizeof(prefix), "%s:1:", path);
	ok(strncmp(err, prefix, strlen(prefix)) == 0,
	   "  the error starts with file:line (%s)", err);

	path = write_conf(" = 5\n");
	ok(!settings_load(&s, path, err, sizeof(err)), "an empty name fails");

	ok(!settings_load(&s, "/nonexistent/parley.conf", err, sizeof(err)),
	   "a missing file fails");
	ok(strstr(err, "/nonexistent/parley.conf") != NULL,
	   "  the error names the file (%s)", err);

	/* A comment line longer than the line buffer. */
	longline = malloc(5000);
	if (longline == NULL)
		abort();
	strcpy(longline, "# ");
	memset(longline + 2, 'c', 3000);
	strcpy(longline + 3002, "\nconnection_ttl = 120\n");
	path = write_conf(longline);
	free(longline);
	if (!ok(settings_load(&s, path, err, sizeof(err)),
		"a comment line of 3002 bytes"))
		diag("error: %s", err);
	is_int(s.connection_ttl, 120, "  the setting after it is read");
}

static void test_env(void)
{
	struct settings s;
	char err[512];
	const char *path;

	path = write_conf("connection_ttl = 600\nlog_level = warn\n");

	setenv("PARLEY_CONNECTION_TTL", "120", 1);
	ok(settings_load(&s, path, err, sizeof(err)), "file and environment");
	is_int(s.connection_ttl, 120, "  PARLEY_CONNECTION_TTL overrides the "
	       "file");
	is_str(s.log_level, "warn", "  the file's other values stay");

	setenv("PARLEY_DATABASE_URL", "dbname=fromenv", 1);
	setenv("PARLEY_MAX_IDS_PER_FRAME", "7", 1);
	ok(settings_load(&s, NULL, err, sizeof(err)), "environment only");
	is_str(s.database_url, "dbname=fromenv", "  PARLEY_DATABASE_URL");
	is_int(s.max_ids_per_frame, 7, "  PARLEY_MAX_IDS_PER_FRAME");
	is_int(s.connection_ttl, 120, "  PARLEY_CONNECTION_TTL");
	unsetenv("PARLEY_DATABASE_URL");
	unsetenv("PARLEY_MAX_IDS_PER_FRAME");

	setenv("PARLEY_CONNECTION_TTL", "soon", 1);
	ok(!settings_load(&s, path, err, sizeof(err)),
	   "a bad environment value fails");
	ok(strstr(err, "PARLEY_CONNECTION_TTL") != NULL,
	   "  the error names the variable (%s)", err);
	setenv("PARLEY_CONNECTION_TTL", "5", 1);
	ok(!settings_load(&s, path, err, sizeof(err)),
	   "an out-of-range environment value fails");
	unsetenv("PARLEY_CONNECTION_TTL");

	setenv("parley_connection_ttl", "120", 1);
	setenv("PARLEY_connection_ttl", "120", 1);
	ok(settings_load(&s, path, err, sizeof(err)),
	   "lower-case variables are not read");
	is_int(s.connection_ttl, 600, "  the file's value stays");
	unsetenv("parley_connection_ttl");
	unsetenv("PARLEY_connection_ttl");

	setenv("PARLEY_NO_SUCH_OPTION", "1", 1);
	ok(settings_load(&s, path, err, sizeof(err)),
	   "unknown PARLEY_ variables are ignored");
	unsetenv("PARLEY_NO_SUCH_OPTION");

	/* Every option has its variable. */
	for (size_t i = 0; i < settings_option_count; i++) {
		const struct option_def *o = &settings_options[i];
		char name[64];
		/* A string of choices (auth_mode, log_level...) takes its
		 * last choice; other strings take any. */
		const char *value = o->is_string ? "debug" : NULL;
		char num[32], choice[32];
		size_t j;

		if (o->choices != NULL) {
			const char *bar = strrchr(o->choices, '|');
			snprintf(choice, sizeof(choice), "%s",
				 bar ? bar + 1 : o->choices);
			value = choice;
		}
		snprintf(name, sizeof(name), "PARLEY_%s", o->name);
		for (j = 7; name[j] != '\0'; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		if (!o->is_string) {
			snprintf(num, sizeof(num), "%ld", o->min);
			value = num;
		}
		setenv(name, value, 1);
		if (!ok(settings_load(&s, NULL, err, sizeof(err)),
			"%s=%s loads", name, value))
			diag("error: %s", err);
		if (o->is_string)
			is_str((const char *)&s + o->offset, value,
			       "  and sets %s", o->name);
		else
			is_int(*(const long *)(const void *)((const char *)&s +
							      o->offset),
			       o->min, "  and sets %s", o->name);
		unsetenv(name);
	}
}

/* Reads the "name = value" lines of a config file. */
static int read_names(const char *path, char names[][64], char values[][256],
		      int max)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && n < max) {
		char *p = line, *eq, *e;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL) {
			snprintf(names[n], 64, "(no '=': %.40s)", p);
			values[n][0] = '\0';
			n++;
			continue;
		}
		for (e = eq; e > p && isspace((unsigned char)e[-1]); e--)
			;
		snprintf(names[n], 64, "%.*s", (int)(e - p), p);
		p = eq + 1;
		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		snprintf(values[n], 256, "%.*s", (int)(e - p), p);
		n++;
	}
	fclose(f);
	return n;
}

static void test_docs(void)
{
	static char names[64][64], values[64][256];
	int n = read_names(SAMPLE, names, values, 64);
	struct settings s, def;
	char err[512];

	if (!ok(n >= 0, "%s is readable", SAMPLE))
		return;
	for (size_t i = 0; i < settings_option_count; i++) {
		const struct option_def *o = &settings_options[i];
		int found = -1;
		for (int k = 0; k < n; k++)
			if (strcmp(names[k], o->name) == 0)
				found = k;
		if (!ok(found >= 0, "option %s appears as \"%s =\" in "
			"parley.conf.sample", o->name, o->name))
			continue;
		/* The sample says its values are the defaults. */
		is_str(values[found], o->def, "  its sample value is the "
		       "default");
	}
	for (int k = 0; k < n; k++)
		ok(option(names[k]) != NULL, "parley.conf.sample line \"%s = "
		   "...\" names a real option", names[k]);

	settings_defaults(&def);
	if (!ok(settings_load(&s, SAMPLE, err, sizeof(err)),
		"parley.conf.sample loads"))
		diag("error: %s", err);
	ok(same_settings(&s, &def), "  and gives the defaults");
}

/* The production sample (DEPLOY.md) and the expiry job's installed
 * settings name real options with valid values: they load. */
static void test_deploy_samples(void)
{
	static const char *const files[] = {
		TOP_SRCDIR "/deploy/parley.conf.production",
		TOP_SRCDIR "/cron/parley-expire.conf",
	};
	static char names[64][64], values[64][256];

	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		struct settings s;
		char err[512];
		int n = read_names(files[i], names, values, 64);

		if (!ok(n > 0, "%s is readable and sets something", files[i]))
			continue;
		for (int k = 0; k < n; k++)
			ok(option(names[k]) != NULL, "  its line \"%s = ...\" "
			   "names a real option", names[k]);
		if (!ok(settings_load(&s, files[i], err, sizeof(err)),
			"  it loads"))
			diag("error: %s", err);
	}
}

/* The file at TOP_SRCDIR/name into text (NUL-terminated); false, and
 * a failed test point, when it cannot be read. */
static bool read_doc(const char *name, char *text, size_t size)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", TOP_SRCDIR, name);
	f = fopen(path, "r");
	if (!ok(f != NULL, "%s is readable", name))
		return false;
	n = fread(text, 1, size - 1, f);
	text[n] = '\0';
	fclose(f);
	return true;
}

/* The README's configuration table names every option. */
static void test_readme(void)
{
	static char text[1 << 20];

	if (!read_doc("README.md", text, sizeof(text)))
		return;
	for (size_t i = 0; i < settings_option_count; i++) {
		char quoted[80];
		snprintf(quoted, sizeof(quoted), "`%s`", settings_options[i].name);
		ok(strstr(text, quoted) != NULL, "README.md documents %s",
		   settings_options[i].name);
	}
}

/* man/parley.conf.5 has every option, with its default. */
static void test_man(void)
{
	static char text[1 << 18];

	if (!read_doc("man/parley.conf.5", text, sizeof(text)))
		return;
	for (size_t i = 0; i < settings_option_count; i++) {
		const struct option_def *o = &settings_options[i];
		char want[600], def[256];
		const char *at;
		size_t k = 0;

		/* roff escapes '-' as "\-" */
		for (const char *c = o->def; *c && k + 3 < sizeof(def); c++) {
			if (*c == '-')
				def[k++] = '\\';
			def[k++] = *c;
		}
		def[k] = '\0';
		snprintf(want, sizeof(want), ".BI \"%s = \" value\n", o->name);
		at = strstr(text, want);
		ok(at != NULL, "man/parley.conf.5 documents %s", o->name);
		snprintf(want, sizeof(want), "Default: %s", *def ? def : "(empty)");
		ok(at != NULL && strstr(at, want) != NULL &&
		   (strstr(at + 1, ".BI ") == NULL ||
		    strstr(at, want) < strstr(at + 1, ".BI ")),
		   "  with its default %s", o->def);
	}
}

int main(void)
{
	clear_parley_env();
	test_defaults();
	test_set();
	test_load();
	test_env();
	test_docs();
	test_deploy_samples();
	test_readme();
	test_man();
	remove_tmpfiles();
	return done_testing();
}
