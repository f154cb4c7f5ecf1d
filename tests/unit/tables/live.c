/*
 * korebase tables: plans run on a real PostgreSQL (catalog.sh).
 *
 *	live CATALOG.json CONNINFO < cases
 *
 * Each case is one line of tab-separated fields:
 *	method table id flags query prefer accept range body tenant role
 * ("-" for none; flags: b bulk, e export as JSON, c export as CSV;
 * role: service_role (the default, no SET ROLE) or role[:sub], run as
 * that role with request.jwt.claims {"role", "sub"}).
 * For each case it prints the plan's response: status, headers, body,
 * or the error, after running the statement in a transaction that is
 * rolled back (every case sees the same data) unless the line starts
 * with '!' (committed).  Lines starting with '#' are echoed.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "kb_tables.h"

static const char *
field(char **p)
{
	char	*s = *p, *tab;

	if (s == NULL)
		return (NULL);
	if ((tab = strchr(s, '\t')) != NULL) {
		*tab = '\0';
		*p = tab + 1;
	} else {
		*p = NULL;
	}
	return (strcmp(s, "-") == 0 ? NULL : s);
}

static enum kb_tables_method
method(const char *m)
{
	static const char *names[] = { "GET", "HEAD", "POST", "PATCH", "PUT",
	    "DELETE" };
	int	i;

	for (i = 0; i < 6; i++) {
		if (m != NULL && strcmp(m, names[i]) == 0)
			return ((enum kb_tables_method)i);
	}
	fprintf(stderr, "bad method %s\n", m ? m : "(null)");
	exit(2);
}

static void
print_error(const struct kb_tables_error *e)
{
	json_t	*j;
	char	*s;

	j = kb_tables_error_json(e);
	json_object_del(j, "error");
	s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	printf("%d %s\n", e->status, s);
	free(s);
	json_decref(j);
}

/*
 * A read by id's statement for many keys (kb_db.c coalesces reads with
 * it), given this key twice: each row must be what the plan's own
 * statement answers.
 */
static void
batch_check(PGconn *db, const struct kb_tables_plan *plan, PGresult *one)
{
	PGresult	*r;
	const char	**params;
	char		 keys[256];
	int		 i, c, row, same;

	snprintf(keys, sizeof(keys), "{\"%s\",\"%s\"}", plan->params[0],
	    plan->params[0]);
	params = calloc((size_t)plan->nparams, sizeof(*params));
	for (i = 0; i < plan->nparams; i++)
		params[i] = plan->params[i];
	params[0] = keys;
	r = PQexecParams(db, plan->batch_sql, plan->nparams, NULL, params,
	    NULL, NULL, 0);
	free(params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 2 ||
	    PQnfields(r) != PQnfields(one)) {
		printf("   batch: failed: %s", PQresultStatus(r) ==
		    PGRES_TUPLES_OK ? "wrong shape\n" : PQerrorMessage(db));
		PQclear(r);
		return;
	}
	same = 1;
	for (row = 0; row < 2; row++) {
		for (c = 0; c < PQnfields(one); c++) {
			if (PQgetisnull(r, row, c) != PQgetisnull(one, 0, c) ||
			    strcmp(PQgetvalue(r, row, c),
			    PQgetvalue(one, 0, c)) != 0)
				same = 0;
		}
	}
	printf("   batch: %s\n", same ? "the same rows" : "DIFFERENT rows");
	PQclear(r);
}

static void
run(PGconn *db, struct kb_catalog *schema, char *line)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*plan;
	struct kb_tables_error		 err;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	PGresult			*r, *rc = NULL;
	const char			*flags, *body, *sqlstate;
	char				*p = line, nrows[24];
	int				 commit = 0, i, ok;
	long long			 notone;
	size_t				 h;

	if (*p == '!') {
		commit = 1;
		p++;
	}
	memset(&req, 0, sizeof(req));
	req.method = method(field(&p));
	req.table = field(&p);
	req.id = field(&p);
	flags = field(&p);
	req.query = field(&p);
	req.prefer = field(&p);
	req.accept = field(&p);
	req.range = field(&p);
	body = field(&p);
	req.tenant_id = field(&p);
	req.role = field(&p);
	if (req.role == NULL)
		req.role = "service_role";
	if (flags != NULL) {
		req.bulk = strchr(flags, 'b') != NULL;
		req.export = strchr(flags, 'e') || strchr(flags, 'c');
		req.export_format = strchr(flags, 'c') ? "csv" : "json";
	}
	if (body != NULL && (req.body = json_loads(body, JSON_DECODE_ANY,
	    NULL)) == NULL) {
		printf("bad test body\n");
		exit(2);
	}
	plan = kb_tables_plan(schema, &req, &err);
	json_decref(req.body);
	if (plan == NULL) {
		print_error(&err);
		return;
	}
	PQclear(PQexec(db, "BEGIN"));
	if (strcmp(req.role, "service_role") != 0) {
		/* role[:sub]: run as the role, with the JWT claims. */
		char		 role[64], claims[128];
		const char	*sub, *vals[2];

		snprintf(role, sizeof(role), "%s", req.role);
		if ((sub = strchr(req.role, ':')) != NULL)
			role[sub - req.role] = '\0';
		snprintf(claims, sizeof(claims), "{\"role\":\"%s\",\"sub\":"
		    "\"%s\"}", role, sub ? sub + 1 : "");
		vals[0] = role;
		vals[1] = claims;
		PQclear(PQexecParams(db, "SELECT set_config('role', $1, true), "
		    "set_config('request.jwt.claims', $2, true)", 2, NULL,
		    vals, NULL, NULL, 0));
	}
	if (plan->count_sql != NULL) {
		rc = PQexecParams(db, plan->count_sql, plan->count_nparams,
		    NULL, plan->params, NULL, NULL, 0);
		if (PQresultStatus(rc) != PGRES_TUPLES_OK) {
			printf("count_sql failed: %s", PQerrorMessage(db));
			PQclear(rc);
			PQclear(PQexec(db, "ROLLBACK"));
			kb_tables_plan_free(plan);
			return;
		}
	}
	r = PQexecParams(db, plan->sql, plan->nparams, NULL, plan->params,
	    NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	/* A one-row write that was not: answered as the handler does. */
	notone = -1;
	if (!ok && plan->needs_one_row)
		notone = kb_tables_not_one_row(PQresultErrorField(r,
		    PG_DIAG_SQLSTATE), PQresultErrorField(r,
		    PG_DIAG_MESSAGE_PRIMARY));
	if (!ok && notone < 0) {
		sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (plan->max_affected >= 0 && (notone = kb_tables_max_affected(
		    sqlstate, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)))
		    >= 0)
			kb_tables_max_affected_error(&err, notone);
		else
			kb_tables_pg_error(&err, sqlstate,
			    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
			    PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL),
			    PQresultErrorField(r, PG_DIAG_MESSAGE_HINT),
			    strcmp(req.role, "anon") == 0);
		print_error(&err);
		if (err.status >= 500)
			printf("   sql: %s\n", plan->sql);
	} else if (plan->stream) {
		printf("200 %s\n%s", plan->stream_type, plan->stream_head);
		for (i = 0; i < PQntuples(r); i++)
			printf("%s%s", i ? plan->stream_sep : "",
			    PQgetvalue(r, i, 0));
		printf("%s\n", plan->stream_tail);
	} else {
		memset(&res, 0, sizeof(res));
#define V(c)	(PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c))
		if (notone >= 0) {
			snprintf(nrows, sizeof(nrows), "%lld", notone);
			res.page_total = nrows;
		} else {
			res.total = V(0);
			res.page_total = V(1);
			res.body = V(2);
			res.location = V(3);
		}
		if (rc != NULL)
			res.plan = PQgetvalue(rc, 0, 0);
		kb_tables_respond(plan, &res, &resp);
		if (resp.is_error)
			print_error(&resp.error);
		else
			printf("%d\n", resp.status);
		for (h = 0; h < resp.nheaders; h++) {
			/* Planned counts vary: keep the golden stable. */
			if (plan->count == KB_COUNT_PLANNED &&
			    strcmp(resp.headers[h].name, "Content-Range") == 0)
				printf("   %s: (planned)\n",
				    resp.headers[h].name);
			else
				printf("   %s: %s\n", resp.headers[h].name,
				    resp.headers[h].value);
		}
		if (resp.body != NULL)
			printf("   %.*s\n", (int)resp.body_len, resp.body);
		if (plan->needs_one_row && (resp.is_error || !commit))
			commit = 0;
		if (plan->batch_sql != NULL)
			batch_check(db, plan, r);
	}
	PQclear(r);
	PQclear(rc);
	PQclear(PQexec(db, commit && ok ? "COMMIT" : "ROLLBACK"));
	kb_tables_plan_free(plan);
}

int
main(int argc, char *argv[])
{
	struct kb_catalog	*schema;
	json_t			*doc;
	PGconn			*db;
	char			 line[8192], err[256];
	size_t			 len;

	if (argc != 3) {
		fprintf(stderr, "usage: live CATALOG.json CONNINFO < cases\n");
		return (2);
	}
	if ((doc = json_load_file(argv[1], 0, NULL)) == NULL ||
	    (schema = kb_schema_from_json(doc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "live: bad catalog\n");
		return (2);
	}
	json_decref(doc);
	db = PQconnectdb(argv[2]);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "live: %s", PQerrorMessage(db));
		return (2);
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		printf("%s\n", line);
		if (line[0] == '#')
			continue;
		run(db, schema, line);
		fflush(stdout);
	}
	PQfinish(db);
	kb_schema_free(schema);
	return (0);
}
