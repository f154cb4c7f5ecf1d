/*
 * korebase runtime: collected validation failures.
 *
 * A kb_errors list owns its items: paths and messages are heap copies,
 * released by kb_errors_clear().  Allocation failure aborts: the runtime,
 * like Kore's allocation wrappers, never hands NULL back to its callers.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_rt.h"

static void	*kb_errors_xrealloc(void *, size_t);
static char	*kb_errors_xstrdup(const char *);

void
kb_errors_init(struct kb_errors *errs)
{
	errs->items = NULL;
	errs->count = 0;
	errs->cap = 0;
}

/*
 * Append one failure.  `path` is copied; the message is formatted from
 * `fmt` and copied.
 */
void
kb_errors_add(struct kb_errors *errs, const char *path, const char *fmt, ...)
{
	va_list		ap;
	int		len;
	char		*msg, small[256];

	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();

	msg = kb_errors_xrealloc(NULL, (size_t)len + 1);
	va_start(ap, fmt);
	(void)vsnprintf(msg, (size_t)len + 1, fmt, ap);
	va_end(ap);

	if (errs->count == errs->cap) {
		errs->cap = errs->cap ? errs->cap * 2 : 8;
		errs->items = kb_errors_xrealloc(errs->items,
		    errs->cap * sizeof(*errs->items));
	}

	errs->items[errs->count].path = kb_errors_xstrdup(path);
	errs->items[errs->count].message = msg;
	errs->count++;
}

/* Frees every item and leaves `errs` empty and reusable. */
void
kb_errors_clear(struct kb_errors *errs)
{
	size_t		i;

	for (i = 0; i < errs->count; i++) {
		free(errs->items[i].path);
		free(errs->items[i].message);
	}
	free(errs->items);
	kb_errors_init(errs);
}

json_t *
kb_errors_json(const struct kb_errors *errs)
{
	json_t		*arr, *item;
	size_t		i;

	if ((arr = json_array()) == NULL)
		abort();

	/* Invalid UTF-8 (never expected) degrades to "?", never to abort. */
	for (i = 0; i < errs->count; i++) {
		if ((item = json_pack("{s:s, s:s}", "path", errs->items[i].path,
		    "message", errs->items[i].message)) == NULL)
			item = json_pack("{s:s, s:s}", "path", "?",
			    "message", "?");
		if (json_array_append_new(arr, item) == -1)
			abort();
	}

	return (arr);
}

static void *
kb_errors_xrealloc(void *ptr, size_t len)
{
	void	*p;

	if ((p = realloc(ptr, len)) == NULL)
		abort();
	return (p);
}

static char *
kb_errors_xstrdup(const char *s)
{
	size_t	len;
	char	*p;

	len = strlen(s) + 1;
	p = kb_errors_xrealloc(NULL, len);
	memcpy(p, s, len);
	return (p);
}
