/* session.c - see session.h. */
#include "common.h"
#include "session.h"

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

void user_channel(char *out, size_t size, const char *user_id)
{
	snprintf(out, size, "u:%s", user_id);
}
