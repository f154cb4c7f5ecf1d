/*
 * System endpoints: the root document, health, the served spec and
 * Swagger UI.
 */

#include <string.h>

#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"

/* These bodies never change: render them once, serve them as they are. */
#define ROOT_JSON	"{\"name\":\"korebase\",\"version\":\"" KB_VERSION \
			"\",\"docs\":\"/docs\",\"openapi\":\"/openapi.json\"}"
#define HEALTH_JSON(s, d) "{\"status\":\"" s "\",\"database\":\"" d \
			"\",\"version\":\"" KB_VERSION "\"}"

static const char	root_json[] = ROOT_JSON;
static const char	health_up[] = HEALTH_JSON("ok", "up");
static const char	health_down[] = HEALTH_JSON("unavailable", "down");

static void	openapi_respond(struct kb_ctx *, const struct kb_catalog *,
		    void *);

void
kbh_getRoot(struct kb_ctx *ctx, const struct kbg_getRoot_in *in)
{
	(void)in;
	kb_respond_static(ctx, 200, "application/json", root_json,
	    sizeof(root_json) - 1);
}

static void
health_respond(struct kb_ctx *ctx, int up)
{
	if (up)
		kb_respond_static(ctx, 200, "application/json", health_up,
		    sizeof(health_up) - 1);
	else
		kb_respond_static(ctx, 503, "application/json", health_down,
		    sizeof(health_down) - 1);
}

/*
 * Healthy is the pool's own view (kb_db_healthy): a health probe costs no
 * database round trip, a database that stopped answering reads as down,
 * and a merely slow one does not.
 */
void
kbh_getHealth(struct kb_ctx *ctx, const struct kbg_getHealth_in *in)
{
	(void)in;
	health_respond(ctx, kb_db_healthy());
}

/* True if an If-None-Match list names `etag` (or is "*"). */
static int
etag_listed(const char *list, const char *etag)
{
	size_t		len, n;

	len = strlen(etag);
	while (*list != '\0') {
		list += strspn(list, " ,\t");
		if (strncmp(list, "W/", 2) == 0)
			list += 2;
		n = strcspn(list, ", \t");
		if ((n == 1 && *list == '*') ||
		    (n == len && strncmp(list, etag, len) == 0))
			return (1);
		list += n;
	}
	return (0);
}

/*
 * The spec with a path and a schema per exposed table (server/kb_oas.c),
 * for the schema the request holds; right after start-up it waits for
 * the first schema (at most 2 s, then the bundled spec as it is).
 */
void
kbh_getOpenApi(struct kb_ctx *ctx, const struct kbg_getOpenApi_in *in)
{
	const struct kb_catalog	*cat;

	(void)in;
	if ((cat = kb_schema_acquire(ctx)) != NULL)
		openapi_respond(ctx, cat, NULL);
	else
		kb_schema_wait(ctx, openapi_respond, NULL);
}

static void
openapi_respond(struct kb_ctx *ctx, const struct kb_catalog *cat, void *arg)
{
	const char	*inm, *json, *etag;
	size_t		 len;

	(void)arg;
	kb_oas_document(ctx, cat, &json, &len, &etag);
	kb_header_set(ctx, "ETag", etag);
	kb_header_set(ctx, "Cache-Control", "no-cache");
	inm = kb_ctx_header(ctx, "if-none-match");
	if (inm != NULL && etag_listed(inm, etag)) {
		kb_respond_empty(ctx, 304);
		return;
	}
	kb_respond_static(ctx, 200, "application/json", json, len);
}

void
kbh_getDocs(struct kb_ctx *ctx, const struct kbg_getDocs_in *in)
{
	const char	*html;
	size_t		 len;

	(void)in;
	html = kb_static_docs_html(&len);
	kb_respond_static(ctx, 200, "text/html; charset=utf-8", html, len);
}

void
kbh_getDocsAsset(struct kb_ctx *ctx, const struct kbg_getDocsAsset_in *in)
{
	const void	*data;
	const char	*ctype;
	size_t		 len;

	if (!kb_static_asset(in->asset, &data, &len, &ctype)) {
		kb_respond_error(ctx, 404, "NOT_FOUND",
		    "no documentation asset named %s", in->asset);
		return;
	}
	kb_header_set(ctx, "Cache-Control", "public, max-age=3600");
	kb_respond_static(ctx, 200, ctype, data, len);
}
