/*
 * korebase tables: arena and string builder.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_arena.h"

static void	sbuf_grow(struct kb_sbuf *, size_t);
static void	sbuf_vprintf(struct kb_sbuf *, const char *, va_list);

#define ARENA_BLOCK	8192
#define ARENA_ALIGN	16

struct arena_block {
	struct arena_block	*next;
	size_t			 size;
	size_t			 used;
	/* data follows, aligned */
};

struct kb_arena {
	struct arena_block	*head;
};

#define BLOCK_HDR	((sizeof(struct arena_block) + ARENA_ALIGN - 1) & \
			    ~(size_t)(ARENA_ALIGN - 1))

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n)) == NULL)
		abort();
	return (p);
}

struct kb_arena *
kb_arena_new(void)
{
	struct kb_arena	*a;

	a = xmalloc(sizeof(*a));
	a->head = NULL;
	return (a);
}

void
kb_arena_free(struct kb_arena *a)
{
	struct arena_block	*b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void *
kb_arena_alloc(struct kb_arena *a, size_t n)
{
	struct arena_block	*b;
	size_t			 size;
	void			*p;

	if (n > SIZE_MAX / 2)
		abort();
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	b = a->head;
	if (b == NULL || b->size - b->used < n) {
		size = n > ARENA_BLOCK / 2 ? n : ARENA_BLOCK;
		b = xmalloc(BLOCK_HDR + size);
		b->size = size;
		b->used = 0;
		/* A big one-off goes behind the current block, which stays. */
		if (n > ARENA_BLOCK / 2 && a->head != NULL) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b + BLOCK_HDR + b->used;
	b->used += n;
	memset(p, 0, n);
	return (p);
}

char *
kb_arena_strndup(struct kb_arena *a, const char *s, size_t n)
{
	char	*p;

	p = kb_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

char *
kb_arena_strdup(struct kb_arena *a, const char *s)
{
	return (kb_arena_strndup(a, s, strlen(s)));
}

char *
kb_arena_printf(struct kb_arena *a, const char *fmt, ...)
{
	struct kb_sbuf	sb;
	va_list		ap;

	kb_sbuf_init(&sb, a);
	va_start(ap, fmt);
	sbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	return ((char *)kb_sbuf_str(&sb));
}

void *
kb_arena_grow(struct kb_arena *a, void *arr, size_t n, size_t sz)
{
	void	*p;
	size_t	 cap;

	/* The capacity is implied by n: 4, then powers of two. */
	if (arr != NULL && (n < 4 || (n & (n - 1)) != 0))
		return (arr);
	cap = n < 4 ? 4 : n * 2;
	if (cap > SIZE_MAX / sz)
		abort();
	p = kb_arena_alloc(a, cap * sz);
	if (n > 0)
		memcpy(p, arr, n * sz);
	return (p);
}

void
kb_sbuf_init(struct kb_sbuf *sb, struct kb_arena *a)
{
	sb->arena = a;
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
}

static void
sbuf_grow(struct kb_sbuf *sb, size_t more)
{
	size_t	cap;
	char	*p;

	if (sb->len + more + 1 <= sb->cap)
		return;
	/* A statement's text is some hundreds of bytes: start there. */
	cap = sb->cap ? sb->cap : 512;
	while (cap < sb->len + more + 1) {
		if (cap > SIZE_MAX / 4)
			abort();
		cap *= 2;
	}
	p = kb_arena_alloc(sb->arena, cap);
	if (sb->len)
		memcpy(p, sb->data, sb->len);
	sb->data = p;
	sb->cap = cap;
}

void
kb_sbuf_add(struct kb_sbuf *sb, const char *s, size_t n)
{
	sbuf_grow(sb, n);
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void
kb_sbuf_puts(struct kb_sbuf *sb, const char *s)
{
	kb_sbuf_add(sb, s, strlen(s));
}

void
kb_sbuf_putc(struct kb_sbuf *sb, char c)
{
	kb_sbuf_add(sb, &c, 1);
}

void
kb_sbuf_putuint(struct kb_sbuf *sb, unsigned long long v)
{
	char	buf[24], *p = buf + sizeof(buf);

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v > 0);
	kb_sbuf_add(sb, p, (size_t)(buf + sizeof(buf) - p));
}

void
kb_sbuf_printf(struct kb_sbuf *sb, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

static void
sbuf_vprintf(struct kb_sbuf *sb, const char *fmt, va_list ap)
{
	va_list	aq;
	char	tmp[256];
	int	n;

	/* Formatted once when it fits in tmp, as it nearly always does. */
	va_copy(aq, ap);
	n = vsnprintf(tmp, sizeof(tmp), fmt, aq);
	va_end(aq);
	if (n < 0)
		abort();
	if ((size_t)n < sizeof(tmp)) {
		kb_sbuf_add(sb, tmp, (size_t)n);
		return;
	}
	sbuf_grow(sb, (size_t)n);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

const char *
kb_sbuf_str(struct kb_sbuf *sb)
{
	if (sb->data == NULL)
		sbuf_grow(sb, 0), sb->data[0] = '\0';
	return (sb->data);
}

/*
 * `s` between `q`s; each `q` (and backslash, if `backslash`) in it is
 * doubled, or preceded by `esc` when that is not 0.
 */
static void
sql_quoted(struct kb_sbuf *sb, const char *s, char q, int backslash,
    char esc)
{
	const char	 stop[3] = { q, backslash ? '\\' : '\0', '\0' };
	size_t		 n;

	kb_sbuf_putc(sb, q);
	while (*s != '\0') {
		/* A run that needs no doubling goes in at once. */
		n = strcspn(s, stop);
		kb_sbuf_add(sb, s, n);
		s += n;
		if (*s == '\0')
			break;
		kb_sbuf_putc(sb, esc != 0 ? esc : *s);
		kb_sbuf_putc(sb, *s);
		s++;
	}
	kb_sbuf_putc(sb, q);
}

void
kb_sql_ident(struct kb_sbuf *sb, const char *name)
{
	sql_quoted(sb, name, '"', 0, 0);
}

void
kb_sql_literal(struct kb_sbuf *sb, const char *s)
{
	/* E'' whatever standard_conforming_strings says */
	kb_sbuf_putc(sb, 'E');
	sql_quoted(sb, s, '\'', 1, 0);
}

void
kb_sql_array_elem(struct kb_sbuf *sb, const char *s)
{
	sql_quoted(sb, s, '"', 1, '\\');
}
