/* session.c - see session.h. */
#include "common.h"
#include "session.h"
#include "auth.h"
#include "log.h"

#include <sysexits.h>

void app_init(struct app *app, const struct settings *cfg, struct db *db,
	      struct publisher *pub)
{
	app->cfg = cfg;
	app->db = db;
	app->pub = pub;
	publisher_set_db(pub, db); /* NOTIFYs (publish_spec's postgres:) */
	app->rates = NULL;
	app->later = (struct fanouts){ 0 };
	app->api_keys = (struct apikeys_file){ 0 };
	app->limits.max_content_bytes = (size_t)cfg->max_content_bytes;
	app->limits.max_ids = (int)cfg->max_ids_per_frame;
	app->limits.max_depth = (int)cfg->max_json_depth;
	app->limits.max_members = (int)cfg->max_group_members;
}

int bridge_files_open(struct bridge_files *f, const struct settings *cfg)
{
	char err[512];

	*f = (struct bridge_files){ 0 };
	f->auth = auth_new(cfg, err, sizeof(err));
	if (f->auth == NULL) {
		log_error("configuration: %s", err);
		return EX_CONFIG;
	}
	f->rates = rate_table_open(cfg->rate_table, err, sizeof(err));
	if (f->rates == NULL) {
		log_error("rate_table: %s", err);
		bridge_files_close(f);
		return EX_CANTCREAT;
	}
	if (!metrics_open(cfg->metrics_table, err, sizeof(err))) {
		log_error("metrics_table: %s", err);
		bridge_files_close(f);
		return EX_CANTCREAT;
	}
	return EX_OK;
}

void bridge_files_close(struct bridge_files *f)
{
	metrics_close();
	if (f->rates != NULL)
		rate_table_close(f->rates);
	auth_free(f->auth);
	*f = (struct bridge_files){ 0 };
}

int app_open(struct app *app, const struct settings *cfg,
	     const struct bridge_files *f, const char *name)
{
	int rc;

	app_init(app, cfg, db_new_settings(cfg, name),
		 publisher_new(cfg->publish_spec));
	app->rates = f->rates;
	if (app->pub == NULL) {
		rc = EX_CONFIG; /* publish_spec is not a list (logged) */
	} else if (app->db == NULL) {
		log_error("out of memory");
		rc = EX_OSERR;
	} else {
		return EX_OK;
	}
	app_close(app);
	return rc;
}

void app_close(struct app *app)
{
	db_free(app->db);
	publisher_free(app->pub);
	app->db = NULL;
	app->pub = NULL;
}

void user_channel(char *out, size_t size, const char *user_id)
{
	snprintf(out, size, "u:%s", user_id);
}
