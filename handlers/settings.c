/*
 * Public settings (reference 000, "Settings"): read-only for everyone,
 * only rows marked is_public.  PostgreSQL renders the JSON, so a read is
 * one prepared statement and no re-encoding here.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"

#define SETTING_JSON							\
	"json_build_object('key', s.key, 'value', s.value,"		\
	" 'description', s.description, 'updated_at',"			\
	" to_char(s.updated_at AT TIME ZONE 'UTC',"			\
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"

static struct kb_stmt	get_setting = KB_STMT_RO(
	"SELECT " SETTING_JSON "::text FROM settings s"
	" WHERE s.key = $1 AND s.is_public");

static struct kb_stmt	list_settings = KB_STMT_RO(
	"SELECT (SELECT count(*) FROM settings WHERE is_public),"
	" count(*), coalesce(json_agg(j ORDER BY k), '[]')::text"
	" FROM (SELECT s.key AS k, " SETTING_JSON " AS j FROM settings s"
	" WHERE s.is_public ORDER BY s.key LIMIT $1 OFFSET $2) page");

static struct kb_stmt	batch_settings = KB_STMT_RO(
	"SELECT coalesce(json_agg(" SETTING_JSON " ORDER BY w.ord), '[]')::text"
	" FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY"
	" AS w(key, ord) JOIN settings s ON s.key = w.key AND s.is_public");

static void	get_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	json_done(struct kb_ctx *, struct kb_db_result *, void *);

void
kbh_getSetting(struct kb_ctx *ctx, const struct kbg_getSetting_in *in)
{
	const char	*params[1] = { in->key };

	kb_db_query(ctx, &get_setting, 1, params, get_done,
	    kb_ctx_strdup(ctx, in->key));
}

static void
get_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!kb_db_respond_row(ctx, r, 200))
		kb_respond_error(ctx, 404, "NOT_FOUND",
		    "no public setting named %s", (const char *)arg);
}

void
kbh_listSettings(struct kb_ctx *ctx, const struct kbg_listSettings_in *in)
{
	char		 limit[24], offset[24];
	const char	*params[2] = { limit, offset };
	int64_t		 off = in->has_offset ? in->offset : 0;

	(void)snprintf(limit, sizeof(limit), "%" PRId64,
	    in->has_limit ? in->limit : 100);
	(void)snprintf(offset, sizeof(offset), "%" PRId64, off);
	kb_db_query_page(ctx, &list_settings, 2, params, off,
	    in->has_Prefer ? in->Prefer : NULL);
}

void
kbh_batchGetSettings(struct kb_ctx *ctx,
    const struct kbg_batchGetSettings_in *in)
{
	char		*keys;
	const char	*params[1];

	keys = json_dumps(json_object_get(in->body_json, "keys"),
	    JSON_COMPACT);
	params[0] = keys;
	kb_db_query(ctx, &batch_settings, 1, params, json_done, NULL);
	free(keys);
}

static void
json_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	kb_respond_text(ctx, 200, "application/json",
	    PQgetvalue(r->res, 0, 0), (size_t)PQgetlength(r->res, 0, 0));
}
