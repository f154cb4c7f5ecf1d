/*
 * Tenants, members, tenant settings and invitations (reference 000:
 * Tenant Management, Tenant Members, Tenant Settings, Invitations).
 *
 * Isolation: every operation on one tenant declares x-kb-tenant-param in
 * the spec, so the gate has already resolved the path's tenant (id or
 * slug) to kb_caller.tenant and checked that the caller may act there
 * (a tenant admin of it, an instance admin, or a key of that tenant with
 * the operation's scope).  Every statement below filters by that resolved
 * id ($1), never by the raw path value or anything in a body, so a row of
 * another tenant cannot be named, read or changed from here.
 *
 * Every change writes its audit_log row in the same statement.  Common
 * parameters of every statement: $1 tenant id, $2 actor (user id or
 * NULL for a service key), $3 request id, $4 client address, $5 key id.
 */

#define _GNU_SOURCE		/* asprintf */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "kb_auth.h"
#include "auth_int.h"

#define NCOMMON		5

#define TENANT_JSON(t)							\
	"json_build_object('id', " t ".id, 'slug', " t ".slug, 'name', "	\
	t ".name, 'metadata', " t ".metadata, 'created_at', "		\
	TS(t ".created_at") ", 'updated_at', " TS(t ".updated_at")	\
	", 'deleted_at', " TS(t ".deleted_at") ")"

#define MEMBER_JSON(m, u)						\
	"json_build_object('tenant_id', " m ".tenant_id, 'user_id', "	\
	m ".user_id, 'email', " u ".email, 'role', " m ".role,"		\
	" 'created_at', " TS(m ".created_at") ")"

#define INVITATION_JSON(i)						\
	"json_build_object('id', " i ".id, 'tenant_id', " i ".tenant_id,"	\
	" 'email', " i ".email, 'role', " i ".role, 'status', CASE"	\
	" WHEN " i ".accepted_at IS NOT NULL THEN 'accepted'"		\
	" WHEN " i ".revoked_at IS NOT NULL THEN 'revoked'"		\
	" WHEN " i ".expires_at <= now() THEN 'expired'"		\
	" ELSE 'pending' END, 'created_at', " TS(i ".created_at")	\
	", 'expires_at', " TS(i ".expires_at") ")"

/*
 * Every statement takes the common parameters, used or not: this CTE gives
 * each one its type (PostgreSQL cannot prepare an unreferenced $n).
 */
#define PARAMS								\
	"WITH p AS (SELECT $1::uuid, $2::uuid, $3::text, $4::text,"	\
	" $5::uuid) "

/* An audit row per row of `src`, in the statement that changes it. */
#define AUDIT(tenant, action, target, details, src)			\
	"INSERT INTO audit_log (tenant_id, actor_id, action, target,"	\
	" request_id, client_addr, key_id, details) SELECT " tenant	\
	", $2::uuid, '" action "', " target ", $3, $4, $5::uuid, "	\
	details " FROM " src

/* A page of a list (common.h); $6 limit, $7 offset. */
#define LIST(count_sql, json, from_order)				\
	PARAMS PAGE(count_sql, json, from_order, "$6", "$7")

/* Tenants. */

static struct kb_stmt list_tenants = KB_STMT_RO(LIST(
	"SELECT count(*) FROM tenants WHERE deleted_at IS NULL",
	TENANT_JSON("t"),
	"FROM tenants t WHERE t.deleted_at IS NULL"
	" ORDER BY t.created_at DESC, t.id"));

static struct kb_stmt list_deleted = KB_STMT_RO(LIST(
	"SELECT count(*) FROM tenants WHERE deleted_at IS NOT NULL",
	TENANT_JSON("t"),
	"FROM tenants t WHERE t.deleted_at IS NOT NULL"
	" ORDER BY t.deleted_at DESC, t.id"));

static struct kb_stmt list_mine = KB_STMT_RO(LIST(
	"SELECT count(*) FROM tenant_members m JOIN tenants t"
	" ON t.id = m.tenant_id WHERE m.user_id = $2::uuid"
	" AND t.deleted_at IS NULL",
	"json_build_object('id', t.id, 'slug', t.slug, 'name', t.name,"
	" 'role', m.role, 'joined_at', " TS("m.created_at") ")",
	"FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id"
	" WHERE m.user_id = $2::uuid AND t.deleted_at IS NULL"
	" ORDER BY t.slug"));

/*
 * $6 slug, $7 name, $8 metadata, $9 first admin.  One row: whether the
 * admin user exists, and the tenant (NULL when the slug is taken).
 */
static struct kb_stmt create_tenant = KB_STMT(
	PARAMS ", chk AS (SELECT ($9::uuid IS NULL OR EXISTS (SELECT 1 FROM users"
	"  WHERE id = $9::uuid)) AS user_ok),"
	" t AS (INSERT INTO tenants (slug, name, metadata, created_by)"
	"  SELECT $6, $7, coalesce($8::jsonb, '{}'), $2::uuid FROM chk"
	"  WHERE chk.user_ok ON CONFLICT (slug) DO NOTHING RETURNING *),"
	" m AS (INSERT INTO tenant_members (tenant_id, user_id, role)"
	"  SELECT t.id, $9::uuid, 'admin' FROM t WHERE $9::uuid IS NOT NULL),"
	" a AS (" AUDIT("t.id", "tenant.create", "t.id::text",
	"jsonb_build_object('slug', t.slug)", "t") ")"
	" SELECT (SELECT user_ok FROM chk),"
	" (SELECT " TENANT_JSON("t") "::text FROM t)");

static struct kb_stmt get_tenant = KB_STMT_RO(
	PARAMS "SELECT " TENANT_JSON("t") "::text FROM tenants t WHERE t.id = $1");

/* $6 slug, $7 name, $8 metadata (each NULL: unchanged). */
static struct kb_stmt update_tenant = KB_STMT(
	PARAMS ", t AS (UPDATE tenants SET slug = coalesce($6, slug),"
	"  name = coalesce($7, name), metadata = coalesce($8::jsonb, metadata),"
	"  updated_at = now() WHERE id = $1 RETURNING *),"
	" a AS (" AUDIT("$1::uuid", "tenant.update", "$1",
	"jsonb_build_object('slug', $6::text, 'name', $7::text,"
	" 'metadata', $8::jsonb)", "t") ")"
	" SELECT " TENANT_JSON("t") "::text FROM t");

static struct kb_stmt soft_delete_tenant = KB_STMT(
	PARAMS ", t AS (UPDATE tenants SET deleted_at = now(), deleted_by = $2"
	"  WHERE id = $1 AND deleted_at IS NULL RETURNING id),"
	" a AS (" AUDIT("$1::uuid", "tenant.delete", "$1", "'{}'", "t") ")"
	" SELECT id FROM t");

/* Members, settings, keys and invitations go with it (ON DELETE CASCADE). */
static struct kb_stmt hard_delete_tenant = KB_STMT(
	PARAMS ", t AS (DELETE FROM tenants WHERE id = $1 RETURNING id, slug),"
	" a AS (" AUDIT("$1::uuid", "tenant.hard_delete", "$1",
	"jsonb_build_object('slug', t.slug)", "t") ")"
	" SELECT id FROM t");

static struct kb_stmt recover_tenant = KB_STMT(
	PARAMS ", t AS (UPDATE tenants SET deleted_at = NULL, deleted_by = NULL,"
	"  updated_at = now() WHERE id = $1 AND deleted_at IS NOT NULL"
	"  RETURNING *),"
	" a AS (" AUDIT("$1::uuid", "tenant.recover", "$1", "'{}'", "t") ")"
	" SELECT " TENANT_JSON("t") "::text FROM t");

/* Members and admins. */

static struct kb_stmt list_members = KB_STMT_RO(LIST(
	"SELECT count(*) FROM tenant_members WHERE tenant_id = $1",
	MEMBER_JSON("m", "u"),
	"FROM tenant_members m JOIN users u ON u.id = m.user_id"
	" WHERE m.tenant_id = $1 ORDER BY m.created_at, m.user_id"));

static struct kb_stmt list_admins = KB_STMT_RO(LIST(
	"SELECT count(*) FROM tenant_members WHERE tenant_id = $1"
	" AND role = 'admin'",
	MEMBER_JSON("m", "u"),
	"FROM tenant_members m JOIN users u ON u.id = m.user_id"
	" WHERE m.tenant_id = $1 AND m.role = 'admin'"
	" ORDER BY m.created_at, m.user_id"));

/*
 * $6 user id, $7 e-mail (one of them), $8 role (NULL: 'member' for a new
 * member, unchanged for an existing one).  No row: no such user.
 */
static struct kb_stmt add_member = KB_STMT(
	PARAMS ", u AS (SELECT id, email FROM users WHERE id = $6::uuid"
	"  OR email = $7::citext),"
	" m AS (INSERT INTO tenant_members (tenant_id, user_id, role)"
	"  SELECT $1, u.id, coalesce($8, 'member') FROM u"
	"  ON CONFLICT (tenant_id, user_id) DO UPDATE"
	"  SET role = coalesce($8, tenant_members.role) RETURNING *),"
	" a AS (" AUDIT("$1::uuid", "tenant.member_add", "m.user_id::text",
	"jsonb_build_object('role', m.role)", "m") ")"
	" SELECT " MEMBER_JSON("m", "u") "::text FROM m JOIN u"
	" ON u.id = m.user_id");

/*
 * $6 user id.  Removing (or demoting) the last tenant admin is refused so
 * a tenant always has someone to administer it.  One row: the member's
 * current role (NULL: not a member), whether it was changed.
 */
#define LAST_ADMIN_GUARD						\
	" (cur.role <> 'admin' OR (SELECT count(*) FROM tenant_members"	\
	" WHERE tenant_id = $1 AND role = 'admin') > 1)"

static struct kb_stmt remove_member = KB_STMT(
	PARAMS ", cur AS (SELECT role FROM tenant_members WHERE tenant_id = $1"
	"  AND user_id = $6::uuid),"
	" d AS (DELETE FROM tenant_members m USING cur WHERE m.tenant_id = $1"
	"  AND m.user_id = $6::uuid AND" LAST_ADMIN_GUARD " RETURNING m.user_id),"
	" a AS (" AUDIT("$1::uuid", "tenant.member_remove", "d.user_id::text",
	"'{}'", "d") ")"
	" SELECT (SELECT role FROM cur), (SELECT count(*) FROM d)");

static struct kb_stmt remove_admin = KB_STMT(
	PARAMS ", cur AS (SELECT role FROM tenant_members WHERE tenant_id = $1"
	"  AND user_id = $6::uuid AND role = 'admin'),"
	" d AS (UPDATE tenant_members m SET role = 'member' FROM cur"
	"  WHERE m.tenant_id = $1 AND m.user_id = $6::uuid AND"
	LAST_ADMIN_GUARD " RETURNING m.user_id),"
	" a AS (" AUDIT("$1::uuid", "tenant.admin_remove", "d.user_id::text",
	"'{}'", "d") ")"
	" SELECT (SELECT role FROM cur), (SELECT count(*) FROM d)");

/* Settings. */

static struct kb_stmt list_settings = KB_STMT_RO(
	PARAMS "SELECT coalesce(jsonb_object_agg(key, value), '{}')::text"
	" FROM tenant_settings WHERE tenant_id = $1");

/* $6 the PATCH body: key -> value, null deletes.  Answers all settings. */
static struct kb_stmt patch_settings = KB_STMT(
	PARAMS ", b AS (SELECT key, value FROM jsonb_each($6::jsonb)),"
	" d AS (DELETE FROM tenant_settings s USING b WHERE s.tenant_id = $1"
	"  AND s.key = b.key AND jsonb_typeof(b.value) = 'null'),"
	" u AS (INSERT INTO tenant_settings (tenant_id, key, value, updated_by)"
	"  SELECT $1, key, value, $2::uuid FROM b"
	"  WHERE jsonb_typeof(value) <> 'null'"
	"  ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value,"
	"  updated_by = EXCLUDED.updated_by, updated_at = now()),"
	" a AS (" AUDIT("$1::uuid", "tenant.settings_update", "$1",
	"jsonb_build_object('keys', (SELECT jsonb_agg(key) FROM b))",
	"(SELECT 1) one") ")"
	" SELECT coalesce(jsonb_object_agg(k, v), '{}')::text FROM ("
	"  SELECT key AS k, value AS v FROM tenant_settings"
	"  WHERE tenant_id = $1 AND key NOT IN (SELECT key FROM b)"
	"  UNION ALL SELECT key, value FROM b"
	"  WHERE jsonb_typeof(value) <> 'null') x");

static struct kb_stmt get_setting = KB_STMT_RO(
	PARAMS "SELECT json_build_object('key', key, 'value', value, 'updated_at', "
	TS("updated_at") ")::text FROM tenant_settings"
	" WHERE tenant_id = $1 AND key = $6");

static struct kb_stmt delete_setting = KB_STMT(
	PARAMS ", d AS (DELETE FROM tenant_settings WHERE tenant_id = $1"
	"  AND key = $6 RETURNING key),"
	" a AS (" AUDIT("$1::uuid", "tenant.setting_delete", "d.key", "'{}'",
	"d") ")"
	" SELECT key FROM d");

/* Invitations. */

static struct kb_stmt list_invitations = KB_STMT_RO(LIST(
	"SELECT count(*) FROM invitations WHERE tenant_id = $1",
	INVITATION_JSON("i"),
	"FROM invitations i WHERE i.tenant_id = $1"
	" ORDER BY i.created_at DESC, i.id"));

/*
 * $6 e-mail, $7 role, $8 token hash, $9 lifetime (s), $10 subject, $11
 * the sealed mail.  A pending invitation of the same address is revoked:
 * one live token per address.  The mail goes out through the outbox
 * (server/kb_mail.c), in the same statement.
 */
static struct kb_stmt create_invitation = KB_STMT(
	PARAMS ", old AS (UPDATE invitations SET revoked_at = now()"
	"  WHERE tenant_id = $1 AND email = $6::citext AND accepted_at IS NULL"
	"  AND revoked_at IS NULL RETURNING id),"
	" i AS (INSERT INTO invitations (tenant_id, email, role, token_hash,"
	"  invited_by, expires_at) VALUES ($1, $6, $7, $8, $2::uuid,"
	"  now() + make_interval(secs => $9::int)) RETURNING *),"
	" m AS (INSERT INTO mail_outbox (to_addr, subject, body, kind)"
	"  SELECT lower(i.email), $10, $11, 'invite' FROM i),"
	" a AS (" AUDIT("$1::uuid", "tenant.invite", "i.id::text",
	"jsonb_build_object('email', i.email, 'role', i.role)", "i") ")"
	" SELECT " INVITATION_JSON("i") "::text FROM i");

static struct kb_stmt revoke_invitation = KB_STMT(
	PARAMS ", i AS (UPDATE invitations SET revoked_at = now()"
	"  WHERE tenant_id = $1 AND id = $6::uuid AND accepted_at IS NULL"
	"  AND revoked_at IS NULL RETURNING id),"
	" a AS (" AUDIT("$1::uuid", "tenant.invite_revoke", "i.id::text", "'{}'",
	"i") ")"
	" SELECT id FROM i");

#define INVITATION_LIVE(i, t)						\
	i ".accepted_at IS NULL AND " i ".revoked_at IS NULL AND "	\
	i ".expires_at > now() AND " t ".deleted_at IS NULL"

/* $1 token hash. */
static struct kb_stmt validate_invitation = KB_STMT_RO(
	"SELECT json_build_object('tenant', json_build_object('id', t.id,"
	" 'slug', t.slug, 'name', t.name), 'email', i.email, 'role', i.role,"
	" 'expires_at', " TS("i.expires_at") ")::text"
	" FROM invitations i JOIN tenants t ON t.id = i.tenant_id"
	" WHERE i.token_hash = $1 AND " INVITATION_LIVE("i", "t"));

/*
 * $1 token hash, $2 the caller, $3 request id, $4 client address.  One
 * row: whether the token is a live invitation at all, and the membership
 * (NULL when the caller's address is not the invited one).
 */
static struct kb_stmt accept_invitation = KB_STMT(
	"WITH live AS (SELECT i.id FROM invitations i JOIN tenants t"
	"  ON t.id = i.tenant_id WHERE i.token_hash = $1 AND "
	INVITATION_LIVE("i", "t") "),"
	" i AS (UPDATE invitations i SET accepted_at = now(),"
	"  accepted_by = $2::uuid FROM live, users u WHERE i.id = live.id"
	"  AND u.id = $2::uuid AND u.email = i.email RETURNING i.*),"
	" m AS (INSERT INTO tenant_members (tenant_id, user_id, role)"
	"  SELECT tenant_id, $2::uuid, role FROM i"
	"  ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = CASE"
	"  WHEN tenant_members.role = 'admin' THEN 'admin'"
	"  ELSE EXCLUDED.role END RETURNING *),"
	" a AS (INSERT INTO audit_log (tenant_id, actor_id, action, target,"
	"  request_id, client_addr, details) SELECT i.tenant_id, $2::uuid,"
	"  'tenant.invite_accept', i.id::text, $3, $4,"
	"  jsonb_build_object('role', i.role) FROM i)"
	" SELECT EXISTS (SELECT 1 FROM live), (SELECT " MEMBER_JSON("m", "u")
	"::text FROM m JOIN users u ON u.id = m.user_id)");

/*
 * How a statement's single-row answer becomes a response: `status` with
 * column 0 as the JSON body (or empty for 204); no row, or NULL in column
 * 0, answers `missing` (404 or 409) `code`; a unique violation answers 409
 * `conflict`.
 */
struct reply {
	int		 status;
	int		 missing;
	const char	*code;
	const char	*message;
	const char	*conflict;
};

static const struct reply r_tenant = { 200, 404, "NOT_FOUND", "no such tenant",
	"TENANT_EXISTS" };
static const struct reply r_setting = { 200, 404, "NOT_FOUND",
	"the tenant has no such setting", NULL };
static const struct reply r_setting_gone = { 204, 404, "NOT_FOUND",
	"the tenant has no such setting", NULL };
static const struct reply r_json = { 200, 404, "NOT_FOUND", "not found",
	NULL };
static const struct reply r_member = { 200, 404, "USER_NOT_FOUND",
	"no user with this id or e-mail address", NULL };
static const struct reply r_invitation_gone = { 204, 404, "NOT_FOUND",
	"no pending invitation with this id in this tenant", NULL };
static const struct reply r_invalid_invitation = { 200, 404,
	"INVITATION_INVALID", "the invitation is unknown, expired, revoked "
	"or already used", NULL };

static void	reply_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	create_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	delete_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	remove_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	invite_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	accept_done(struct kb_ctx *, struct kb_db_result *, void *);

/* The common parameters; `v` has room for NCOMMON + the statement's own. */
static void
common(struct kb_ctx *ctx, const char **v)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);

	v[0] = c->tenant;
	v[1] = c->sub;
	v[2] = kb_ctx_request_id(ctx);
	v[3] = kb_ctx_client_addr(ctx);
	v[4] = c->key_id;
}

/* A list: common parameters, then $6 limit, $7 offset. */
static void
list(struct kb_ctx *ctx, struct kb_stmt *stmt, int has_limit, int64_t limit,
    int has_offset, int64_t offset, int has_prefer, const char *prefer)
{
	char		 lim[24], off[24];
	const char	*v[NCOMMON + 2];

	offset = has_offset ? offset : 0;
	(void)snprintf(lim, sizeof(lim), "%" PRId64, has_limit ? limit : 100);
	(void)snprintf(off, sizeof(off), "%" PRId64, offset);
	common(ctx, v);
	v[5] = lim;
	v[6] = off;
	kb_db_query_page(ctx, stmt, NCOMMON + 2, v, offset,
	    has_prefer ? prefer : NULL);
}

/* Run `stmt` with the common parameters and `n` more; answer by `how`. */
static void
run(struct kb_ctx *ctx, struct kb_stmt *stmt, const struct reply *how,
    int n, const char *a, const char *b, const char *c, const char *d)
{
	const char	*v[NCOMMON + 4];

	common(ctx, v);
	v[5] = a;
	v[6] = b;
	v[7] = c;
	v[8] = d;
	kb_db_query(ctx, stmt, NCOMMON + n, v, reply_done, (void *)how);
}

static void
reply_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct reply	*how = arg;

	if (!r->ok) {
		if (how->conflict != NULL && strcmp(r->sqlstate, "23505") == 0)
			kb_respond_error(ctx, 409, how->conflict,
			    "a tenant with this slug already exists");
		else
			kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) == 0 || PQgetisnull(r->res, 0, 0)) {
		kb_respond_error(ctx, how->missing, how->code, "%s",
		    how->message);
		return;
	}
	if (how->status == 204)
		kb_respond_empty(ctx, 204);
	else
		kb_respond_text(ctx, how->status, "application/json",
		    PQgetvalue(r->res, 0, 0),
		    (size_t)PQgetlength(r->res, 0, 0));
}

/* A JSON value as text for a jsonb parameter, kept until the request ends. */
static const char *
json_param(struct kb_ctx *ctx, json_t *v)
{
	char		*s, *copy;

	if (v == NULL)
		return (NULL);
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return (NULL);
	copy = kb_ctx_strdup(ctx, s);
	free(s);
	return (copy);
}

/* Tenants. */

void
kbh_listTenants(struct kb_ctx *ctx, const struct kbg_listTenants_in *in)
{
	list(ctx, &list_tenants, in->has_limit, in->limit, in->has_offset,
	    in->offset, in->has_Prefer, in->Prefer);
}

void
kbh_listDeletedTenants(struct kb_ctx *ctx,
    const struct kbg_listDeletedTenants_in *in)
{
	list(ctx, &list_deleted, in->has_limit, in->limit, in->has_offset,
	    in->offset, in->has_Prefer, in->Prefer);
}

void
kbh_listMyTenants(struct kb_ctx *ctx, const struct kbg_listMyTenants_in *in)
{
	if (kb_ctx_caller(ctx)->sub == NULL) {
		kb_respond_error(ctx, 403, "FORBIDDEN",
		    "only a user has tenants of their own");
		return;
	}
	list(ctx, &list_mine, in->has_limit, in->limit, in->has_offset,
	    in->offset, in->has_Prefer, in->Prefer);
}

void
kbh_createTenant(struct kb_ctx *ctx, const struct kbg_createTenant_in *in)
{
	const char	*v[NCOMMON + 4];

	common(ctx, v);
	v[0] = NULL;		/* a new tenant: no resolved one */
	v[5] = in->body->slug;
	v[6] = in->body->name;
	v[7] = in->body->has_metadata ?
	    json_param(ctx, in->body->metadata) : NULL;
	v[8] = in->body->has_admin_user_id ? in->body->admin_user_id : NULL;
	kb_db_query(ctx, &create_tenant, NCOMMON + 4, v, create_done, NULL);
}

static void
create_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!r->ok) {
		if (strcmp(r->sqlstate, "23505") == 0)
			kb_respond_error(ctx, 409, "TENANT_EXISTS",
			    "a tenant with this slug already exists");
		else
			kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "t") != 0) {
		kb_respond_error(ctx, 400, "USER_NOT_FOUND",
		    "admin_user_id is not the id of a user");
		return;
	}
	if (PQgetisnull(r->res, 0, 1)) {
		kb_respond_error(ctx, 409, "TENANT_EXISTS",
		    "a tenant with this slug already exists");
		return;
	}
	kb_respond_text(ctx, 201, "application/json", PQgetvalue(r->res, 0, 1),
	    (size_t)PQgetlength(r->res, 0, 1));
}

void
kbh_getTenant(struct kb_ctx *ctx, const struct kbg_getTenant_in *in)
{
	run(ctx, &get_tenant, &r_tenant, 0, NULL, NULL, NULL, NULL);
}

void
kbh_updateTenant(struct kb_ctx *ctx, const struct kbg_updateTenant_in *in)
{
	const struct kbg_TenantUpdateRequest	*b = in->body;

	run(ctx, &update_tenant, &r_tenant, 3, b->has_slug ? b->slug : NULL,
	    b->has_name ? b->name : NULL,
	    b->has_metadata ? json_param(ctx, b->metadata) : NULL, NULL);
}

void
kbh_deleteTenant(struct kb_ctx *ctx, const struct kbg_deleteTenant_in *in)
{
	const char	*v[NCOMMON];
	int		 hard = in->has_hard && in->hard;

	if (hard && !kb_caller_is_instance_admin(kb_ctx_caller(ctx))) {
		kb_respond_error(ctx, 403, "FORBIDDEN", "only an instance "
		    "administrator may delete a tenant for good (hard=true)");
		return;
	}
	common(ctx, v);
	kb_db_query(ctx, hard ? &hard_delete_tenant : &soft_delete_tenant,
	    NCOMMON, v, delete_done, NULL);
}

static void
delete_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) == 0) {
		/* Only an instance admin reaches a soft-deleted tenant. */
		kb_respond_error(ctx, 409, "TENANT_DELETED",
		    "the tenant is already deleted; recover it or delete it "
		    "with hard=true");
		return;
	}
	kb_respond_empty(ctx, 204);
}

void
kbh_recoverTenant(struct kb_ctx *ctx, const struct kbg_recoverTenant_in *in)
{
	static const struct reply r_recover = { 200, 409, "TENANT_NOT_DELETED",
		"the tenant is not deleted", NULL };

	run(ctx, &recover_tenant, &r_recover, 0, NULL, NULL, NULL, NULL);
}

/* Members and admins. */

void
kbh_listTenantMembers(struct kb_ctx *ctx,
    const struct kbg_listTenantMembers_in *in)
{
	list(ctx, &list_members, in->has_limit, in->limit, in->has_offset,
	    in->offset, in->has_Prefer, in->Prefer);
}

void
kbh_listTenantAdmins(struct kb_ctx *ctx,
    const struct kbg_listTenantAdmins_in *in)
{
	list(ctx, &list_admins, in->has_limit, in->limit, in->has_offset,
	    in->offset, in->has_Prefer, in->Prefer);
}

/* Exactly one of user_id and email; 0 when it answered 400. */
static int
one_user(struct kb_ctx *ctx, int has_id, int has_email)
{
	if (has_id == has_email) {
		kb_respond_error(ctx, 400, "VALIDATION_FAILED",
		    "give exactly one of user_id and email");
		return (0);
	}
	return (1);
}

void
kbh_addTenantMember(struct kb_ctx *ctx,
    const struct kbg_addTenantMember_in *in)
{
	const struct kbg_TenantMemberRequest	*b = in->body;

	if (!one_user(ctx, b->has_user_id, b->has_email))
		return;
	run(ctx, &add_member, &r_member, 3, b->has_user_id ? b->user_id : NULL,
	    b->has_email ? b->email : NULL, b->has_role ? b->role : NULL,
	    NULL);
}

void
kbh_addTenantAdmin(struct kb_ctx *ctx, const struct kbg_addTenantAdmin_in *in)
{
	const struct kbg_TenantAdminRequest	*b = in->body;

	if (!one_user(ctx, b->has_user_id, b->has_email))
		return;
	run(ctx, &add_member, &r_member, 3, b->has_user_id ? b->user_id : NULL,
	    b->has_email ? b->email : NULL, "admin", NULL);
}

static void
remove_user(struct kb_ctx *ctx, struct kb_stmt *stmt, const char *user_id,
    const char *what)
{
	const char	*v[NCOMMON + 1];

	common(ctx, v);
	v[5] = user_id;
	kb_db_query(ctx, stmt, NCOMMON + 1, v, remove_done, (void *)what);
}

void
kbh_removeTenantMember(struct kb_ctx *ctx,
    const struct kbg_removeTenantMember_in *in)
{
	remove_user(ctx, &remove_member, in->user_id, "a member");
}

void
kbh_removeTenantAdmin(struct kb_ctx *ctx,
    const struct kbg_removeTenantAdmin_in *in)
{
	remove_user(ctx, &remove_admin, in->user_id, "an admin");
}

static void
remove_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetisnull(r->res, 0, 0)) {
		kb_respond_error(ctx, 404, "NOT_FOUND",
		    "the user is not %s of this tenant", (const char *)arg);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 1), "0") == 0) {
		kb_respond_error(ctx, 409, "LAST_TENANT_ADMIN",
		    "the tenant's last administrator cannot be removed; "
		    "assign another one first");
		return;
	}
	kb_respond_empty(ctx, 204);
}

/* Settings. */

void
kbh_listTenantSettings(struct kb_ctx *ctx,
    const struct kbg_listTenantSettings_in *in)
{
	run(ctx, &list_settings, &r_json, 0, NULL, NULL, NULL, NULL);
}

void
kbh_updateTenantSettings(struct kb_ctx *ctx,
    const struct kbg_updateTenantSettings_in *in)
{
	struct kb_errors	 errs;
	const char		*key, *p;
	json_t			*value;
	char			 ptr[300];

	/* The keys follow the SettingKey pattern; report every bad one. */
	kb_errors_init(&errs);
	json_object_foreach(in->body_json, key, value) {
		for (p = key; *p != '\0'; p++) {
			if (strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-", *p) ==
			    NULL)
				break;
		}
		if (*p != '\0' || p == key || p - key > 255) {
			(void)snprintf(ptr, sizeof(ptr), "/body/%.255s", key);
			kb_errors_add(&errs, ptr, "a setting key is 1 to 255 "
			    "letters, digits and _ . : -");
		}
	}
	if (errs.count > 0) {
		kb_respond_errors(ctx, 400, "VALIDATION_FAILED",
		    errs.items[0].message, &errs);
		kb_errors_clear(&errs);
		return;
	}
	kb_errors_clear(&errs);
	run(ctx, &patch_settings, &r_json, 1, json_param(ctx, in->body_json),
	    NULL, NULL, NULL);
}

void
kbh_getTenantSetting(struct kb_ctx *ctx,
    const struct kbg_getTenantSetting_in *in)
{
	run(ctx, &get_setting, &r_setting, 1, in->key, NULL, NULL, NULL);
}

void
kbh_deleteTenantSetting(struct kb_ctx *ctx,
    const struct kbg_deleteTenantSetting_in *in)
{
	run(ctx, &delete_setting, &r_setting_gone, 1, in->key, NULL, NULL,
	    NULL);
}

/* Invitations. */

#define INVITATION_PREFIX	"kbiv_"
#define INVITATION_TTL		604800		/* 7 days */

void
kbh_listTenantInvitations(struct kb_ctx *ctx,
    const struct kbg_listTenantInvitations_in *in)
{
	list(ctx, &list_invitations, in->has_limit, in->limit, in->has_offset,
	    in->offset, in->has_Prefer, in->Prefer);
}

void
kbh_createTenantInvitation(struct kb_ctx *ctx,
    const struct kbg_createTenantInvitation_in *in)
{
	const struct kbg_InvitationCreateRequest	*b = in->body;
	char		 hash[KB_TOKEN_HASH_LEN], ttl[24], *token, *mail;
	char		*sealed;
	const char	*v[NCOMMON + 6];
	size_t		 len = KB_TOKEN_LEN(32);
	int64_t		 secs;

	token = kb_ctx_alloc(ctx, len);
	if (kb_token_new("kbiv_", 32, token, len) != KB_TOKEN_OK ||
	    kb_token_hash(token, strlen(token), hash, sizeof(hash)) !=
	    KB_TOKEN_OK) {
		kb_respond_error(ctx, 500, "INTERNAL", "no randomness");
		return;
	}
	secs = b->has_expires_in ? b->expires_in : (int64_t)INVITATION_TTL;
	(void)snprintf(ttl, sizeof(ttl), "%" PRId64, secs);
	if (asprintf(&mail, "Hello,\r\n\r\nYou are invited to join a "
	    "tenant as %s.\r\n\r\nSee the invitation:\r\n%s/api/v1/"
	    "invitations/%s/validate\r\n\r\nAccept it while signed in "
	    "with this address (POST .../accept). It works once and expires "
	    "in %" PRId64 " hours.\r\nIf you did not expect it, ignore this "
	    "mail.\r\n", b->has_role ? b->role : "member",
	    kb_config.public_url, token, (secs + 3599) / 3600) == -1)
		abort();
	if ((sealed = email_seal(b->email, mail)) == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "cannot seal a mail");
		return;
	}
	common(ctx, v);
	v[5] = b->email;
	v[6] = b->has_role ? b->role : "member";
	v[7] = hash;
	v[8] = ttl;
	v[9] = "You are invited";
	v[10] = sealed;
	kb_db_query(ctx, &create_invitation, NCOMMON + 6, v, invite_done,
	    token);
	free(sealed);
}

/* The invitation with its token, which is shown this once. */
static void
invite_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	json_t		*o;

	if (!r->ok || PQntuples(r->res) != 1) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if ((o = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL)) == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "bad invitation row");
		return;
	}
	json_object_set_new(o, "token", json_string(arg));
	kb_respond_json(ctx, 201, o);
}

void
kbh_revokeTenantInvitation(struct kb_ctx *ctx,
    const struct kbg_revokeTenantInvitation_in *in)
{
	run(ctx, &revoke_invitation, &r_invitation_gone, 1, in->invitation_id,
	    NULL, NULL, NULL);
}

/* The SHA-256 of a path token into `hash`. */
static int
token_hash(struct kb_ctx *ctx, const char *token, char *hash, size_t len)
{
	if (kb_token_hash(token, strlen(token), hash, len) != KB_TOKEN_OK) {
		kb_respond_error(ctx, 500, "INTERNAL", "hash failed");
		return (0);
	}
	return (1);
}

void
kbh_validateInvitation(struct kb_ctx *ctx,
    const struct kbg_validateInvitation_in *in)
{
	char		 hash[KB_TOKEN_HASH_LEN];
	const char	*v[1] = { hash };

	if (!token_hash(ctx, in->token, hash, sizeof(hash)))
		return;
	kb_db_query(ctx, &validate_invitation, 1, v, reply_done,
	    (void *)&r_invalid_invitation);
}

void
kbh_acceptInvitation(struct kb_ctx *ctx,
    const struct kbg_acceptInvitation_in *in)
{
	char		 hash[KB_TOKEN_HASH_LEN];
	const char	*v[4];

	if (kb_ctx_caller(ctx)->sub == NULL) {
		kb_respond_error(ctx, 403, "FORBIDDEN",
		    "only a signed-in user can accept an invitation");
		return;
	}
	if (!token_hash(ctx, in->token, hash, sizeof(hash)))
		return;
	v[0] = hash;
	v[1] = kb_ctx_caller(ctx)->sub;
	v[2] = kb_ctx_request_id(ctx);
	v[3] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &accept_invitation, 4, v, accept_done, NULL);
}

static void
accept_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "t") != 0) {
		kb_respond_error(ctx, 404, r_invalid_invitation.code, "%s",
		    r_invalid_invitation.message);
		return;
	}
	if (PQgetisnull(r->res, 0, 1)) {
		kb_respond_error(ctx, 403, "INVITATION_EMAIL_MISMATCH",
		    "the invitation is for another e-mail address; sign in "
		    "with the invited address");
		return;
	}
	kb_respond_text(ctx, 200, "application/json", PQgetvalue(r->res, 0, 1),
	    (size_t)PQgetlength(r->res, 0, 1));
}
