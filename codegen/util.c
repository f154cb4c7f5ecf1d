/*
 * kbgen: arena, maps, buffers, diagnostics and C identifiers.
 *
 * Allocation failure aborts (the generator has nothing useful to do
 * without memory); every kbc_alloc() block is owned by the kbc and freed
 * by kbc_free().
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

static size_t	kbc_pmap_hash(const void *, size_t);
static void	kbc_diag(struct kbc *, int, const char *, const char *,
		    va_list);

struct kbc *
kbc_new(void)
{
	struct kbc	*kbc;

	if ((kbc = calloc(1, sizeof(*kbc))) == NULL)
		abort();
	return (kbc);
}

void
kbc_free(struct kbc *kbc)
{
	size_t		i;

	if (kbc == NULL)
		return;

	for (i = 0; i < kbc->nschemas; i++) {
		if (kbc->schemas[i]->cache.pattern != NULL) {
			/* Compiled by the runtime in tests. */
			kbc_pattern_free(kbc->schemas[i]->cache.pattern);
		}
		json_decref(kbc->schemas[i]->cache.enum_values);
		json_decref(kbc->schemas[i]->cache.const_value);
	}

	if (kbc->api != NULL) {
		for (i = 0; i < kbc->api->nnodes; i++) {
			free(kbc->api->nodes[i]->edges);
			free(kbc->api->nodes[i]->more);
		}
		free(kbc->api->nodes);
		free(kbc->api->ops);
	}
	for (i = 0; i < kbc->nfiles; i++)
		json_decref(kbc->files[i].root);
	for (i = 0; i < kbc->ndiags; i++)
		free(kbc->diags[i]);
	for (i = 0; i < kbc->nblocks; i++)
		free(kbc->blocks[i]);

	/* Location records are arena blocks; only the maps remain. */
	kbc_pmap_free(&kbc->locs);
	kbc_pmap_free(&kbc->schema_memo);
	kbc_pmap_free(&kbc->schema_names);
	free(kbc->files);
	free(kbc->diags);
	free(kbc->blocks);
	free(kbc->schemas);
	free(kbc);
}

void *
kbc_xrealloc(void *p, size_t len)
{
	if ((p = realloc(p, len)) == NULL)
		abort();
	return (p);
}

void *
kbc_alloc(struct kbc *kbc, size_t len)
{
	void	*p;

	if ((p = calloc(1, len ? len : 1)) == NULL)
		abort();
	if (kbc->nblocks == kbc->blocks_cap) {
		kbc->blocks_cap = kbc->blocks_cap ? kbc->blocks_cap * 2 : 256;
		kbc->blocks = kbc_xrealloc(kbc->blocks,
		    kbc->blocks_cap * sizeof(*kbc->blocks));
	}
	kbc->blocks[kbc->nblocks++] = p;
	return (p);
}

char *
kbc_strndup(struct kbc *kbc, const char *s, size_t len)
{
	char	*p;

	p = kbc_alloc(kbc, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

char *
kbc_strdup(struct kbc *kbc, const char *s)
{
	return (kbc_strndup(kbc, s, strlen(s)));
}

char *
kbc_sprintf(struct kbc *kbc, const char *fmt, ...)
{
	va_list		ap;
	int		len;
	char		*p, small[256];

	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();
	p = kbc_alloc(kbc, (size_t)len + 1);
	va_start(ap, fmt);
	(void)vsnprintf(p, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return (p);
}

static size_t
kbc_pmap_hash(const void *p, size_t cap)
{
	uint64_t	h;

	h = (uint64_t)(uintptr_t)p;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return ((size_t)h & (cap - 1));
}

void
kbc_pmap_put(struct kbc_pmap *m, const void *key, void *val)
{
	struct kbc_pmap		old;
	size_t			i, h;

	if ((m->count + 1) * 2 > m->cap) {
		old = *m;
		m->cap = old.cap ? old.cap * 2 : 1024;
		m->keys = calloc(m->cap, sizeof(*m->keys));
		m->vals = calloc(m->cap, sizeof(*m->vals));
		if (m->keys == NULL || m->vals == NULL)
			abort();
		m->count = 0;
		for (i = 0; i < old.cap; i++) {
			if (old.keys[i] != NULL)
				kbc_pmap_put(m, old.keys[i], old.vals[i]);
		}
		free(old.keys);
		free(old.vals);
	}

	h = kbc_pmap_hash(key, m->cap);
	while (m->keys[h] != NULL && m->keys[h] != key)
		h = (h + 1) & (m->cap - 1);
	if (m->keys[h] == NULL) {
		m->keys[h] = key;
		m->count++;
	}
	m->vals[h] = val;
}

void *
kbc_pmap_get(const struct kbc_pmap *m, const void *key)
{
	size_t		h;

	if (m->cap == 0 || key == NULL)
		return (NULL);
	h = kbc_pmap_hash(key, m->cap);
	while (m->keys[h] != NULL) {
		if (m->keys[h] == key)
			return (m->vals[h]);
		h = (h + 1) & (m->cap - 1);
	}
	return (NULL);
}

void
kbc_pmap_free(struct kbc_pmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

void
kbc_buf_init(struct kbc_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
kbc_buf_add(struct kbc_buf *b, const void *p, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		if (b->cap < 4096)
			b->cap = 4096;
		b->data = kbc_xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
kbc_buf_str(struct kbc_buf *b, const char *s)
{
	kbc_buf_add(b, s, strlen(s));
}

void
kbc_buf_printf(struct kbc_buf *b, const char *fmt, ...)
{
	va_list		ap;
	int		len;
	char		small[512], *p;

	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();
	if ((size_t)len < sizeof(small)) {
		kbc_buf_add(b, small, (size_t)len);
		return;
	}
	if ((p = malloc((size_t)len + 1)) == NULL)
		abort();
	va_start(ap, fmt);
	(void)vsnprintf(p, (size_t)len + 1, fmt, ap);
	va_end(ap);
	kbc_buf_add(b, p, (size_t)len);
	free(p);
}

/*
 * A C string literal of `s`: printable ASCII verbatim, the rest as
 * three-digit octal escapes (never greedy), '?' escaped against trigraphs.
 */
void
kbc_buf_cstring(struct kbc_buf *b, const char *s)
{
	char		tmp[8];
	unsigned char	c;

	if (s == NULL) {
		kbc_buf_str(b, "NULL");
		return;
	}
	kbc_buf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\' || c == '?') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			kbc_buf_add(b, tmp, 2);
		} else if (c >= 0x20 && c < 0x7f) {
			kbc_buf_add(b, s, 1);
		} else {
			(void)snprintf(tmp, sizeof(tmp), "\\%03o", c);
			kbc_buf_add(b, tmp, 4);
		}
	}
	kbc_buf_add(b, "\"", 1);
}

void
kbc_buf_free(struct kbc_buf *b)
{
	free(b->data);
	kbc_buf_init(b);
}

void
kbc_set_loc(struct kbc *kbc, json_t *node, uint32_t file, uint32_t line,
    uint32_t col)
{
	struct kbc_loc	*loc;

	/* true/false/null are shared singletons: they have no place. */
	if (node == NULL || json_is_true(node) || json_is_false(node) ||
	    json_is_null(node))
		return;
	if (kbc_pmap_get(&kbc->locs, node) != NULL)
		return;
	loc = kbc_alloc(kbc, sizeof(*loc));
	loc->file = file;
	loc->line = line;
	loc->col = col;
	kbc_pmap_put(&kbc->locs, node, loc);
}

const struct kbc_loc *
kbc_get_loc(struct kbc *kbc, json_t *node)
{
	return (kbc_pmap_get(&kbc->locs, node));
}

const char *
kbc_where(struct kbc *kbc, json_t *node, json_t *fallback)
{
	static char		buf[4][1024];
	static int		slot;
	const struct kbc_loc	*loc;
	char			*p;

	if ((loc = kbc_get_loc(kbc, node)) == NULL)
		loc = kbc_get_loc(kbc, fallback);

	p = buf[slot];
	slot = (slot + 1) % 4;
	if (loc == NULL || loc->file >= kbc->nfiles) {
		(void)snprintf(p, sizeof(buf[0]), "%s",
		    kbc->nfiles ? kbc->files[0].display : "?");
	} else {
		(void)snprintf(p, sizeof(buf[0]), "%s:%u:%u",
		    kbc->files[loc->file].display, loc->line, loc->col);
	}
	return (p);
}

static void
kbc_diag(struct kbc *kbc, int error, const char *where, const char *fmt,
    va_list ap)
{
	char	msg[2048];
	char	*line;
	int	len;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	len = snprintf(NULL, 0, "%s: %s%s", where, error ? "" : "warning: ",
	    msg);
	line = kbc_xrealloc(NULL, (size_t)len + 1);
	(void)snprintf(line, (size_t)len + 1, "%s: %s%s", where,
	    error ? "" : "warning: ", msg);

	kbc->diags = kbc_xrealloc(kbc->diags,
	    (kbc->ndiags + 1) * sizeof(*kbc->diags));
	kbc->diags[kbc->ndiags++] = line;
	if (error)
		kbc->nerrors++;
	if (!kbc->quiet)
		fprintf(stderr, "%s\n", line);
}

void
kbc_error(struct kbc *kbc, json_t *node, json_t *fallback,
    const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	kbc_diag(kbc, 1, kbc_where(kbc, node, fallback), fmt, ap);
	va_end(ap);
}

void
kbc_warn(struct kbc *kbc, json_t *node, json_t *fallback,
    const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	kbc_diag(kbc, 0, kbc_where(kbc, node, fallback), fmt, ap);
	va_end(ap);
}

void
kbc_error_file(struct kbc *kbc, const char *file, uint32_t line,
    uint32_t col, const char *fmt, ...)
{
	va_list		ap;
	char		where[1024];

	if (line > 0)
		(void)snprintf(where, sizeof(where), "%s:%u:%u", file, line,
		    col);
	else
		(void)snprintf(where, sizeof(where), "%s", file);
	va_start(ap, fmt);
	kbc_diag(kbc, 1, where, fmt, ap);
	va_end(ap);
}

char *
kbc_cident(struct kbc *kbc, const char *s)
{
	static const char	*keywords[] = {
		"auto", "break", "case", "char", "const", "continue",
		"default", "do", "double", "else", "enum", "extern", "float",
		"for", "goto", "if", "inline", "int", "long", "register",
		"restrict", "return", "short", "signed", "sizeof", "static",
		"struct", "switch", "typedef", "union", "unsigned", "void",
		"volatile", "while", "_Alignas", "_Alignof", "_Atomic",
		"_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
		"_Static_assert", "_Thread_local", "bool", "true", "false",
		"errno", "NULL", "asm", "typeof", "main", NULL
	};
	size_t			i, len;
	char			*p;

	len = strlen(s);
	p = kbc_alloc(kbc, len + 3);
	i = 0;
	if (len == 0 || isdigit((unsigned char)s[0]))
		p[i++] = '_';
	for (; *s != '\0'; s++) {
		if (isalnum((unsigned char)*s) || *s == '_')
			p[i++] = *s;
		else if (i == 0 || p[i - 1] != '_')
			p[i++] = '_';
	}
	p[i] = '\0';

	for (i = 0; keywords[i] != NULL; i++) {
		if (strcmp(p, keywords[i]) == 0) {
			strcat(p, "_");
			break;
		}
	}
	return (p);
}

char *
kbc_unique(struct kbc *kbc, json_t *set, const char *base)
{
	char	*name;
	int	n;

	name = kbc_strdup(kbc, base);
	for (n = 2; json_object_get(set, name) != NULL; n++)
		name = kbc_sprintf(kbc, "%s_%d", base, n);
	json_object_set_new(set, name, json_true());
	return (name);
}
