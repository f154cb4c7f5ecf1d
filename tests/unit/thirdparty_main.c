/*
 * Routes every path template of a generated third-party API back to
 * itself: each {param} is replaced by a value and the match must be the
 * path item holding an operation with that template.  Also checks the
 * embedded spec parses.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kbg_api.h"

struct kb_ctx {
	int	unused;
};

void *
kb_ctx_alloc(struct kb_ctx *ctx, size_t len)
{
	(void)ctx;
	return (calloc(1, len));
}

int
main(int argc, char **argv)
{
	struct kb_route_match	m;
	const struct kb_op	*op;
	char			buf[4096], *w;
	const char		*t;
	size_t			i, j, bad, implemented;
	int			n, found;
	json_t			*spec;
	clock_t			c;

	(void)argc;
	(void)argv;
	bad = 0;
	c = clock();
	for (i = 0; i < kbg_api.nops; i++) {
		op = kbg_api.ops[i];
		w = buf;
		n = 0;
		for (t = op->path; *t != '\0'; t++) {
			if (*t == '{') {
				w += sprintf(w, "v%d", n++);
				t = strchr(t, '}');
			} else {
				*w++ = *t;
			}
		}
		*w = '\0';
		found = 0;
		if (kb_route_match(&kbg_api, buf, strlen(buf), &m)) {
			for (j = 0; j < KB_M_COUNT; j++) {
				if (m.item->ops[j] != NULL &&
				    strcmp(m.item->ops[j]->path, op->path) == 0)
					found = 1;
			}
		}
		if (!found) {
			printf("MISROUTED %s %s (%s)\n", op->method, op->path,
			    buf);
			bad++;
		}
	}
	implemented = 0;
	for (i = 0; i < kbg_api.nops; i++)
		implemented += kbg_api.ops[i]->implemented();

	spec = json_loadb(kbg_api.spec_json, kbg_api.spec_json_len, 0, NULL);
	printf("thirdparty: %zu paths, %zu operations routed in %.3fs, "
	    "%zu misrouted, spec %zu bytes %s, %zu handlers linked\n",
	    kbg_api.npaths, kbg_api.nops,
	    (double)(clock() - c) / CLOCKS_PER_SEC, bad,
	    kbg_api.spec_json_len, spec ? "parses" : "DOES NOT PARSE",
	    implemented);
	json_decref(spec);
	return (bad == 0 && spec != NULL ? 0 : 1);
}
