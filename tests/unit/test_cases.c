/*
 * Data-driven tests: every tests/cases/NAME.yaml is one cmocka test.
 *
 * A case is loaded with kbgen's own front end (so its YAML positions and
 * $refs behave exactly as in a spec), compiled to live kb_schema graphs or
 * a live kb_api, and checked against the runtime.  Kinds:
 *
 *   kind: schema (default)  `schema` (refs resolve against the case file,
 *                           so a case may carry `components/schemas`),
 *                           `openapi` picks 3.0 or 3.1 rules, `base` the
 *                           pointer prefix; each test has `value` and the
 *                           exact `errors` list of {path, message}.
 *   kind: param             `param` (name, in, schema, style, explode);
 *                           tests have `raw` or `raws` and either `value`
 *                           (the coerced JSON) or `errors`.
 *   kind: router            `paths` (templates); tests have `path` and
 *                           `match` (a template or null) and `captures`.
 *   kind: generate          `files` (name -> text, the first one is the
 *                           root) written to a temporary directory and
 *                           run through the whole front end; `errors`
 *                           is the exact list of error lines, `warnings`
 *                           optional; on success `ops` checks operations
 *                           and `tests` may validate `target` schemas.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kbc.h"

struct kb_ctx {
	int	unused;
};

static char	*cases_dir;

/* Unit tests' kb_ctx_alloc: leak-free via a simple list. */
static void	**ctx_blocks;
static size_t	nctx_blocks;

void *
kb_ctx_alloc(struct kb_ctx *ctx, size_t len)
{
	void	*p;

	(void)ctx;
	p = calloc(1, len ? len : 1);
	ctx_blocks = realloc(ctx_blocks, (nctx_blocks + 1) * sizeof(void *));
	ctx_blocks[nctx_blocks++] = p;
	return (p);
}

static char	*failures;
static size_t	failures_len;

static void
failf(const char *fmt, ...)
{
	va_list		ap;
	char		buf[4096];
	int		n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	failures = realloc(failures, failures_len + (size_t)n + 2);
	memcpy(failures + failures_len, buf, (size_t)n);
	failures_len += (size_t)n;
	failures[failures_len++] = '\n';
	failures[failures_len] = '\0';
}

static char *
dump(json_t *v)
{
	char	*s;

	if (v == NULL)
		return (strdup("(none)"));
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return (s ? s : strdup("?"));
}

/* Compare collected errors with the expected [{path, message}] list. */
static void
check_errors(const char *what, struct kb_errors *errs, json_t *expect)
{
	json_t	*got, *e;
	char	*g, *x;
	size_t	i;

	got = kb_errors_json(errs);
	if (expect == NULL)
		expect = json_array();
	else
		json_incref(expect);

	for (i = 0; i < json_array_size(expect); i++) {
		e = json_array_get(expect, i);
		if (json_is_string(e)) {
			/* shorthand "path: message" */
			const char *s = json_string_value(e);
			const char *c = strstr(s, ": ");
			json_array_set_new(expect, i, json_pack("{s:s%, s:s}",
			    "path", s, c ? (size_t)(c - s) : strlen(s),
			    "message", c ? c + 2 : ""));
		}
	}

	if (!json_equal(got, expect)) {
		g = json_dumps(got, JSON_INDENT(1));
		x = json_dumps(expect, JSON_INDENT(1));
		failf("%s:\n  expected %s\n  got      %s", what, x, g);
		free(g);
		free(x);
	}
	json_decref(got);
	json_decref(expect);
}

static int
version31(json_t *c)
{
	const char	*v;

	v = json_string_value(json_object_get(c, "openapi"));
	return (v != NULL && strncmp(v, "3.1", 3) == 0);
}

static void
run_value_tests(const char *name, const struct kb_schema *s, json_t *tests,
    const char *base)
{
	struct kb_errors	errs;
	json_t			*t;
	size_t			i;
	char			*v, *what;

	for (i = 0; i < json_array_size(tests); i++) {
		t = json_array_get(tests, i);
		kb_errors_init(&errs);
		(void)kb_validate(s, json_object_get(t, "value"), base, &errs);
		v = dump(json_object_get(t, "value"));
		if (asprintf(&what, "%s: test %zu (value %s)", name, i, v) < 0)
			abort();
		check_errors(what, &errs, json_object_get(t, "errors"));
		free(what);
		free(v);
		kb_errors_clear(&errs);
	}
}

static void
case_schema(struct kbc *kbc, const char *name, json_t *c)
{
	const struct kb_schema	*s;
	const char		*base;

	kbc->oas31 = version31(c);
	kbc_schema_names(kbc, c);
	s = kbc_schema_compile(kbc, c, json_object_get(c, "schema"), c);
	if (s != NULL && kbc_schema_check_cycles(kbc) == -1)
		s = NULL;
	if (json_object_get(c, "errors") != NULL) {
		/* a schema that must be refused */
		json_t *want = json_object_get(c, "errors");
		json_t *got = json_array();
		size_t i;

		for (i = 0; i < kbc->ndiags; i++) {
			if (strstr(kbc->diags[i], ": warning: ") == NULL)
				json_array_append_new(got,
				    json_string(kbc->diags[i]));
		}
		if (!json_equal(got, want)) {
			char *g = dump(got), *w = dump(want);
			failf("%s: compile errors\n  expected %s\n  got      %s",
			    name, w, g);
			free(g);
			free(w);
		}
		json_decref(got);
		return;
	}
	if (s == NULL) {
		failf("%s: schema did not compile: %s", name,
		    kbc->ndiags ? kbc->diags[0] : "?");
		return;
	}
	base = json_string_value(json_object_get(c, "base"));
	run_value_tests(name, s, json_object_get(c, "tests"),
	    base ? base : "/body");
}

static void
case_param(struct kbc *kbc, const char *name, json_t *c)
{
	struct kb_param		p;
	struct kb_errors	errs;
	json_t			*pj, *t, *raws, *v, *want;
	const char		*style, *in;
	char			pointer[256], *what, *g, *w;
	size_t			i, j;

	kbc->oas31 = version31(c);
	pj = json_object_get(c, "param");
	memset(&p, 0, sizeof(p));
	p.name = json_string_value(json_object_get(pj, "name"));
	in = json_string_value(json_object_get(pj, "in"));
	p.in = strcmp(in, "path") == 0 ? KB_IN_PATH :
	    strcmp(in, "header") == 0 ? KB_IN_HEADER :
	    strcmp(in, "cookie") == 0 ? KB_IN_COOKIE : KB_IN_QUERY;
	style = json_string_value(json_object_get(pj, "style"));
	if (style == NULL)
		style = p.in == KB_IN_QUERY ? "form" : "simple";
	p.style = strcmp(style, "form") == 0 ? KB_STYLE_FORM :
	    strcmp(style, "spaceDelimited") == 0 ? KB_STYLE_SPACE :
	    strcmp(style, "pipeDelimited") == 0 ? KB_STYLE_PIPE :
	    KB_STYLE_SIMPLE;
	v = json_object_get(pj, "explode");
	p.explode = v ? json_is_true(v) : p.style == KB_STYLE_FORM;
	p.content_json = json_is_true(json_object_get(pj, "content_json"));
	if (json_object_get(pj, "schema") != NULL) {
		p.schema = kbc_schema_compile(kbc, c,
		    json_object_get(pj, "schema"), pj);
		if (p.schema == NULL) {
			failf("%s: param schema did not compile", name);
			return;
		}
	}
	(void)snprintf(pointer, sizeof(pointer), "/%s/%s", in, p.name);

	json_array_foreach(json_object_get(c, "tests"), i, t) {
		kb_errors_init(&errs);
		raws = json_object_get(t, "raws");
		v = NULL;
		if (raws == NULL) {
			const char *r = json_string_value(json_object_get(t,
			    "raw"));
			v = kb_param_coerce(&p, r, strlen(r), NULL, pointer,
			    &errs);
		} else {
			for (j = 0; j < json_array_size(raws); j++) {
				const char *r = json_string_value(
				    json_array_get(raws, j));
				json_t *nv = kb_param_coerce(&p, r, strlen(r),
				    v, pointer, &errs);
				if (nv != NULL) {
					json_decref(v);
					v = nv;
				}
			}
		}
		if (v != NULL && p.schema != NULL)
			(void)kb_validate(p.schema, v, pointer, &errs);
		if (asprintf(&what, "%s: test %zu", name, i) < 0)
			abort();
		if ((want = json_object_get(t, "value")) != NULL &&
		    (v == NULL || !json_equal(v, want) ||
		    json_typeof(v) != json_typeof(want))) {
			g = dump(v);
			w = dump(want);
			failf("%s: expected value %s, got %s", what, w, g);
			free(g);
			free(w);
		}
		check_errors(what, &errs, json_object_get(t, "errors"));
		free(what);
		json_decref(v);
		kb_errors_clear(&errs);
	}
}

static struct kbc_api *
load_doc(struct kbc *kbc, json_t *doc)
{
	char	*text;
	int	idx;

	text = json_dumps(doc, JSON_INDENT(1));
	idx = kbc_load_string(kbc, "doc.json", text, strlen(text));
	free(text);
	if (idx != 0)
		return (NULL);
	return (kbc_api_build(kbc));
}

static void
check_routes(const char *name, struct kbc_api *api, json_t *tests)
{
	struct kb_route_match	m;
	json_t			*t, *want, *caps, *got;
	const char		*path;
	char			*what, *g, *w;
	size_t			i, j;
	int			ok;

	json_array_foreach(tests, i, t) {
		path = json_string_value(json_object_get(t, "path"));
		want = json_object_get(t, "match");
		ok = kb_route_match(&api->api, path, strlen(path), &m);
		if (asprintf(&what, "%s: route %s", name, path) < 0)
			abort();
		if (json_is_null(want) || want == NULL) {
			if (ok)
				failf("%s: expected no match, got %s", what,
				    m.item->path);
		} else if (!ok) {
			failf("%s: expected %s, got no match", what,
			    json_string_value(want));
		} else if (strcmp(m.item->path, json_string_value(want))) {
			failf("%s: expected %s, got %s", what,
			    json_string_value(want), m.item->path);
		} else if ((caps = json_object_get(t, "captures")) != NULL) {
			got = json_array();
			for (j = 0; j < m.ncaptures; j++)
				json_array_append_new(got, json_stringn(
				    m.captures[j].ptr, m.captures[j].len));
			if (!json_equal(got, caps)) {
				g = dump(got);
				w = dump(caps);
				failf("%s: captures expected %s, got %s", what,
				    w, g);
				free(g);
				free(w);
			}
			json_decref(got);
		}
		if (ok && (want = json_object_get(t, "allow")) != NULL &&
		    strcmp(m.item->allow, json_string_value(want)) != 0)
			failf("%s: allow expected %s, got %s", what,
			    json_string_value(want), m.item->allow);
		free(what);
	}
}

static void
case_router(struct kbc *kbc, const char *name, json_t *c)
{
	struct kbc_api	*api;
	json_t		*doc, *paths, *p, *op, *params;
	const char	*tmpl, *q, *e;
	size_t		i;

	doc = json_pack("{s:s, s:{s:s, s:s}, s:{}}", "openapi", "3.0.3",
	    "info", "title", "t", "version", "1", "paths");
	paths = json_object_get(doc, "paths");
	json_array_foreach(json_object_get(c, "paths"), i, p) {
		tmpl = json_string_value(json_is_object(p) ?
		    json_object_get(p, "path") : p);
		params = json_array();
		for (q = tmpl; (q = strchr(q, '{')) != NULL; q = e) {
			e = strchr(q, '}');
			json_array_append_new(params, json_pack("{s:s%, s:s, "
			    "s:b, s:{s:s}}", "name", q + 1, (size_t)(e - q - 1),
			    "in", "path", "required", 1, "schema", "type",
			    "string"));
		}
		op = json_pack("{s:o, s:{}}", "parameters", params,
		    "responses");
		if (json_is_object(p) && json_object_get(p, "methods")) {
			json_t *ms = json_object_get(p, "methods"), *mv;
			json_t *item = json_object();
			size_t k;

			json_array_foreach(ms, k, mv)
				json_object_set(item, json_string_value(mv),
				    op);
			json_decref(op);
			json_object_set_new(paths, tmpl, item);
		} else {
			json_object_set_new(paths, tmpl,
			    json_pack("{s:o}", "get", op));
		}
	}
	api = load_doc(kbc, doc);
	json_decref(doc);
	if (api == NULL) {
		failf("%s: paths did not build: %s", name,
		    kbc->ndiags ? kbc->diags[0] : "?");
		return;
	}
	check_routes(name, api, json_object_get(c, "tests"));
}

static void
rmtree(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		path[4096];
	struct stat	st;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rmtree(path);
		else
			(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(dir);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char	path[4096], *slash;
	FILE	*fp;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)mkdir(path, 0755);
		*slash = '/';
	}
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	fputs(text, fp);
	fclose(fp);
}

static void
case_generate(struct kbc *kbc, const char *name, json_t *c)
{
	struct kbc_api		*api;
	json_t			*files, *v, *want, *got, *gotw, *t, *o;
	const char		*k, *root;
	char			dir[] = "/tmp/kbcase.XXXXXX", *g, *w, cwd[4096];
	size_t			i, j;
	const struct kb_op	*op;

	if (mkdtemp(dir) == NULL)
		abort();
	files = json_object_get(c, "files");
	root = NULL;
	json_object_foreach(files, k, v) {
		if (root == NULL)
			root = k;
		write_file(dir, k, json_string_value(v));
	}

	/* Messages name files relative to the case directory. */
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(dir) == -1)
		abort();
	api = kbc_api_load(kbc, root);
	if (chdir(cwd) == -1)
		abort();

	got = json_array();
	gotw = json_array();
	for (i = 0; i < kbc->ndiags; i++) {
		if (strstr(kbc->diags[i], ": warning: ") != NULL)
			json_array_append_new(gotw, json_string(kbc->diags[i]));
		else
			json_array_append_new(got, json_string(kbc->diags[i]));
	}
	want = json_object_get(c, "errors");
	if (want == NULL)
		want = json_array();
	else
		json_incref(want);
	if (!json_equal(got, want)) {
		g = json_dumps(got, JSON_INDENT(1));
		w = json_dumps(want, JSON_INDENT(1));
		failf("%s: errors\n  expected %s\n  got      %s", name, w, g);
		free(g);
		free(w);
	}
	if ((v = json_object_get(c, "warnings")) != NULL &&
	    !json_equal(gotw, v)) {
		g = json_dumps(gotw, JSON_INDENT(1));
		w = json_dumps(v, JSON_INDENT(1));
		failf("%s: warnings\n  expected %s\n  got      %s", name, w, g);
		free(g);
		free(w);
	}
	json_decref(got);
	json_decref(gotw);
	json_decref(want);

	if (api != NULL) {
		/* ops: [{operation_id, method, path, secured, roles, ...}] */
		json_array_foreach(json_object_get(c, "ops"), i, o) {
			if (i >= api->api.nops) {
				failf("%s: only %zu operations", name,
				    api->api.nops);
				break;
			}
			op = api->api.ops[i];
			got = json_pack("{s:s, s:s, s:s, s:b}",
			    "operation_id", op->operation_id,
			    "method", op->method, "path", op->path,
			    "secured", op->secured);
			if (op->roles != NULL) {
				t = json_array();
				for (j = 0; op->roles[j] != NULL; j++)
					json_array_append_new(t,
					    json_string(op->roles[j]));
				json_object_set_new(got, "roles", t);
			}
			if (op->scopes != NULL) {
				t = json_array();
				for (j = 0; op->scopes[j] != NULL; j++)
					json_array_append_new(t,
					    json_string(op->scopes[j]));
				json_object_set_new(got, "scopes", t);
			}
			t = json_array();
			for (j = 0; j < op->nparams; j++)
				json_array_append_new(t, json_sprintf("%s:%s",
				    op->params[j].in == KB_IN_PATH ? "path" :
				    op->params[j].in == KB_IN_QUERY ? "query" :
				    op->params[j].in == KB_IN_HEADER ?
				    "header" : "cookie", op->params[j].name));
			json_object_set_new(got, "params", t);
			if (op->body != NULL) {
				t = json_array();
				for (j = 0; j < op->body->nmedia_types; j++)
					json_array_append_new(t, json_string(
					    op->body->media_types[j]));
				json_object_set_new(got, "body", t);
				json_object_set_new(got, "body_required",
				    json_boolean(op->body->required));
			}
			/* Only compare the keys the case lists. */
			json_object_foreach(o, k, v) {
				if (!json_equal(v, json_object_get(got, k))) {
					g = dump(json_object_get(got, k));
					w = dump(v);
					failf("%s: op %zu %s: expected %s, got "
					    "%s", name, i, k, w, g);
					free(g);
					free(w);
				}
			}
			json_decref(got);
		}
		if ((v = json_object_get(c, "nops")) != NULL &&
		    (size_t)json_integer_value(v) != api->api.nops)
			failf("%s: expected %lld operations, got %zu", name,
			    json_integer_value(v), api->api.nops);

		/* bundle: {pointer: expected value} in the bundled doc */
		json_object_foreach(json_object_get(c, "bundle"), k, v) {
			t = kbc_pointer_get(kbc, kbc->bundle, k, NULL, 0);
			if (t == NULL || !json_equal(t, v)) {
				g = dump(t);
				w = dump(v);
				failf("%s: bundle %s: expected %s, got %s",
				    name, k, w, g);
				free(g);
				free(w);
			}
		}

		/* validation against a schema of the bundled doc */
		if ((k = json_string_value(json_object_get(c, "target")))) {
			const struct kb_schema *s;

			t = kbc_pointer_get(kbc, kbc->bundle, k + 1, NULL, 1);
			s = t ? kbc_schema_compile(kbc, kbc->bundle, t, NULL) :
			    NULL;
			if (s == NULL)
				failf("%s: target %s did not compile", name, k);
			else
				run_value_tests(name, s,
				    json_object_get(c, "tests"), "/body");
		}
		check_routes(name, api, json_object_get(c, "routes"));
	}

	rmtree(dir);
}

static void
run_case(void **state)
{
	const char	*file = *state;
	struct kbc	*kbc, *ckbc;
	json_t		*c;
	const char	*kind;
	char		path[4096];
	int		idx;

	(void)snprintf(path, sizeof(path), "%s/%s", cases_dir, file);
	ckbc = kbc_new();
	ckbc->quiet = 1;
	if ((idx = kbc_load_file(ckbc, file, path)) < 0) {
		fail_msg("%s: %s", file, ckbc->ndiags ? ckbc->diags[0] : "?");
		return;
	}
	c = ckbc->files[idx].root;
	kind = json_string_value(json_object_get(c, "kind"));
	if (kind == NULL)
		kind = "schema";

	/* Schema and param cases compile inside the case file's kbc. */
	kbc = ckbc;
	if (strcmp(kind, "schema") == 0)
		case_schema(kbc, file, c);
	else if (strcmp(kind, "param") == 0)
		case_param(kbc, file, c);
	else if (strcmp(kind, "router") == 0 || strcmp(kind, "generate") == 0) {
		kbc = kbc_new();
		kbc->quiet = 1;
		if (strcmp(kind, "router") == 0)
			case_router(kbc, file, c);
		else
			case_generate(kbc, file, c);
		kbc_free(kbc);
	} else
		failf("%s: unknown kind %s", file, kind);

	kbc_free(ckbc);
	while (nctx_blocks > 0)
		free(ctx_blocks[--nctx_blocks]);

	if (failures != NULL) {
		char *f = failures;

		failures = NULL;
		failures_len = 0;
		fprintf(stderr, "%s", f);
		free(f);
		fail();
	}
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest	*tests;
	DIR			*d;
	struct dirent		*de;
	char			**names;
	size_t			n, i, len;
	int			rc;

	cases_dir = argc > 1 ? argv[1] : "tests/cases";
	if ((d = opendir(cases_dir)) == NULL) {
		perror(cases_dir);
		return (1);
	}
	names = NULL;
	n = 0;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		if (argc > 2 && strstr(de->d_name, argv[2]) == NULL)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);

	tests = calloc(n + 1, sizeof(*tests));
	for (i = 0; i < n; i++) {
		tests[i].name = names[i];
		tests[i].test_func = run_case;
		tests[i].initial_state = names[i];
	}
	rc = _cmocka_run_group_tests("cases", tests, n, NULL, NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	free(ctx_blocks);
	return (rc);
}
