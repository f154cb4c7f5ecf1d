/*
 * korebase tables: one arena per schema or per plan, and the string
 * builder SQL is written with.
 *
 * Everything allocated from an arena lives until kb_arena_free(); nothing
 * is freed on its own.  Allocation failure aborts (as Kore's wrappers do),
 * so no function here returns NULL.
 */

#ifndef KB_ARENA_H
#define KB_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct kb_arena;

struct kb_arena	*kb_arena_new(void);
void		 kb_arena_free(struct kb_arena *);
/* Zeroed memory, aligned for any type. */
void		*kb_arena_alloc(struct kb_arena *, size_t);
char		*kb_arena_strdup(struct kb_arena *, const char *);
char		*kb_arena_strndup(struct kb_arena *, const char *, size_t);
char		*kb_arena_printf(struct kb_arena *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * Room for element n of an array that only ever grows one at a time
 * (n elements now, each sz bytes): the same array or a bigger copy.
 */
void		*kb_arena_grow(struct kb_arena *, void *arr, size_t n,
		    size_t sz);

/* A growing NUL-terminated string in an arena. */
struct kb_sbuf {
	struct kb_arena	*arena;
	char		*data;
	size_t		 len;
	size_t		 cap;
};

void	kb_sbuf_init(struct kb_sbuf *, struct kb_arena *);
void	kb_sbuf_add(struct kb_sbuf *, const char *, size_t);
void	kb_sbuf_puts(struct kb_sbuf *, const char *);
void	kb_sbuf_putc(struct kb_sbuf *, char);
/* A non-negative number in decimal, without printf. */
void	kb_sbuf_putuint(struct kb_sbuf *, unsigned long long);
void	kb_sbuf_printf(struct kb_sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* The string so far, NUL-terminated (never NULL). */
const char *kb_sbuf_str(struct kb_sbuf *);

/*
 * SQL quoting.  kb_sql_ident appends "name" with inner double quotes
 * doubled: the one way an identifier enters SQL.  kb_sql_literal appends
 * E'text' with quotes and backslashes doubled, for catalog-derived
 * strings only (column names as JSON keys); request values are always
 * $n parameters.  Neither refuses anything: a C string has no NUL.
 */
void	kb_sql_ident(struct kb_sbuf *, const char *);
void	kb_sql_literal(struct kb_sbuf *, const char *);
/*
 * One element of an array literal ({"a","b\\"c"}): "text" with quotes and
 * backslashes escaped by a backslash.  Request values may go in here:
 * the literal itself is always a $n parameter.
 */
void	kb_sql_array_elem(struct kb_sbuf *, const char *);

#endif /* !KB_ARENA_H */
