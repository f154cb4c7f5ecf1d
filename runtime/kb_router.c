/*
 * korebase runtime: the path router.
 *
 * kbgen emits the router as a trie of kb_route_node over '/'-separated
 * segments.  Matching walks it segment by segment: a static child (binary
 * search) first, then the parameter children, most specific first.  A
 * branch that dead-ends falls back to the next candidate at its level, so
 * the result does not depend on the order paths were declared in.
 */

/* memmem() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <string.h>

#include "kb_rt.h"

struct kb_route_walker {
	const struct kb_api	*api;
	const char		*end;
	struct kb_route_match	*m;
};

static int	kb_route_walk(struct kb_route_walker *,
		    const struct kb_route_node *, const char *);
static int	kb_route_param(struct kb_route_walker *,
		    const struct kb_route_node *, const char *, const char *,
		    const char *const *, size_t, const char *, const char *);
static const struct kb_route_node *kb_route_static(
		    const struct kb_route_node *, const char *, size_t);

int
kb_route_match(const struct kb_api *api, const char *path, size_t len,
    struct kb_route_match *m)
{
	struct kb_route_walker	w;

	memset(m, 0, sizeof(*m));
	if (api->root == NULL || len == 0 || path[0] != '/')
		return (0);

	w.api = api;
	w.end = path + len;
	w.m = m;
	if (!kb_route_walk(&w, api->root, path)) {
		m->item = NULL;
		m->ncaptures = 0;
		return (0);
	}
	return (1);
}

/* `p` points at the '/' that starts the next segment, or at `end`. */
static int
kb_route_walk(struct kb_route_walker *w, const struct kb_route_node *node,
    const char *p)
{
	const struct kb_route_node	*next;
	const char			*seg, *send, *end;
	size_t				i;

	end = w->end;
	if (p == end) {
		if (node->path_index < 0 ||
		    (size_t)node->path_index >= w->api->npaths)
			return (0);
		w->m->item = &w->api->paths[node->path_index];
		return (1);
	}

	if (*p != '/')
		return (0);
	seg = p + 1;
	if ((send = memchr(seg, '/', (size_t)(end - seg))) == NULL)
		send = end;

	if ((next = kb_route_static(node, seg, (size_t)(send - seg))) != NULL &&
	    kb_route_walk(w, next, send))
		return (1);

	if (node->param != NULL && kb_route_param(w, node->param,
	    node->param_prefix, node->param_suffix, NULL, 0, seg, send))
		return (1);

	for (i = 0; i < node->nmore_params; i++) {
		if (kb_route_param(w, node->more_params[i].node,
		    node->more_params[i].prefix, node->more_params[i].suffix,
		    node->more_params[i].seps, node->more_params[i].nseps,
		    seg, send))
			return (1);
	}

	return (0);
}

/*
 * Capture [seg, send) minus the literal prefix/suffix, split at the
 * separators when the segment holds several parameters.  Captures are
 * never empty.
 */
static int
kb_route_param(struct kb_route_walker *w, const struct kb_route_node *next,
    const char *prefix, const char *suffix, const char *const *seps,
    size_t nseps, const char *seg, const char *send)
{
	struct kb_route_match	*m = w->m;
	size_t			plen, slen, len, i, saved, seplen;
	const char		*p, *end, *hit;

	plen = prefix != NULL ? strlen(prefix) : 0;
	slen = suffix != NULL ? strlen(suffix) : 0;
	len = (size_t)(send - seg);

	if (len <= plen + slen)
		return (0);
	if (plen > 0 && memcmp(seg, prefix, plen) != 0)
		return (0);
	if (slen > 0 && memcmp(send - slen, suffix, slen) != 0)
		return (0);
	if (m->ncaptures + nseps + 1 > KB_MAX_CAPTURES)
		return (0);

	saved = m->ncaptures;
	p = seg + plen;
	end = send - slen;
	for (i = 0; i < nseps; i++) {
		seplen = strlen(seps[i]);
		hit = NULL;
		if (p + 1 + seplen < end)
			hit = memmem(p + 1, (size_t)(end - p - 1), seps[i],
			    seplen);
		if (hit == NULL) {
			m->ncaptures = saved;
			return (0);
		}
		m->captures[m->ncaptures].ptr = p;
		m->captures[m->ncaptures].len = (size_t)(hit - p);
		m->ncaptures++;
		p = hit + seplen;
	}
	if (p >= end) {
		m->ncaptures = saved;
		return (0);
	}
	m->captures[m->ncaptures].ptr = p;
	m->captures[m->ncaptures].len = (size_t)(end - p);
	m->ncaptures++;

	if (kb_route_walk(w, next, send))
		return (1);

	m->ncaptures = saved;
	return (0);
}

/* Edges are sorted bytewise, a shorter segment before its extensions. */
static const struct kb_route_node *
kb_route_static(const struct kb_route_node *node, const char *seg,
    size_t len)
{
	size_t		lo, hi, mid, n;
	int		c;

	lo = 0;
	hi = node->nedges;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		n = node->edges[mid].len < len ? node->edges[mid].len : len;
		c = memcmp(node->edges[mid].seg, seg, n);
		if (c == 0) {
			if (node->edges[mid].len == len)
				return (node->edges[mid].node);
			c = node->edges[mid].len < len ? -1 : 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}

	return (NULL);
}

int
kb_method_index(const char *name, size_t len)
{
	static const char	*names[KB_M_COUNT] = {
		[KB_M_GET] = "GET",
		[KB_M_PUT] = "PUT",
		[KB_M_POST] = "POST",
		[KB_M_DELETE] = "DELETE",
		[KB_M_OPTIONS] = "OPTIONS",
		[KB_M_HEAD] = "HEAD",
		[KB_M_PATCH] = "PATCH",
		[KB_M_TRACE] = "TRACE",
	};
	int			i;

	for (i = 0; i < KB_M_COUNT; i++) {
		if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			return (i);
	}
	return (-1);
}
