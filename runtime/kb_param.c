/*
 * korebase runtime: parameter coercion.
 *
 * Path, query, header and cookie parameters arrive as strings (already
 * percent-decoded by the caller).  kb_param_coerce() turns one into the
 * JSON value its schema asks for, so that kb_validate() can then check it
 * like any body value.  Objects are out of scope: they stay strings.
 */

#include <errno.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_rt.h"

static json_t	*kb_param_scalar(const struct kb_schema *, const char *,
		    size_t, const char *, struct kb_errors *);
static int	kb_param_integer(const char *, size_t, json_int_t *, int *);
static int	kb_param_number(const char *, size_t, double *);
static char	kb_param_delim(const struct kb_param *);
static json_t	*kb_param_item(const struct kb_schema *, const char *,
		    size_t, const char *, size_t, struct kb_errors *);

/*
 * See kb_rt.h.  On failure returns NULL and adds exactly one failure per
 * bad value; for an exploded array `into` keeps the good items so every
 * bad occurrence is reported.
 */
json_t *
kb_param_coerce(const struct kb_param *p, const char *raw, size_t len,
    json_t *into, const char *pointer, struct kb_errors *errs)
{
	const struct kb_schema	*s, *items;
	json_t			*arr, *v;
	const char		*start, *end, *d;
	char			delim;
	size_t			idx;
	json_error_t		jerr;
	int			bad;

	s = p->schema;

	if (p->content_json) {
		v = json_loadb(raw, len, JSON_DECODE_ANY, &jerr);
		if (v == NULL)
			kb_errors_add(errs, pointer, "must be valid JSON");
		return (v);
	}

	if (s == NULL || !(s->types & KB_T_ARRAY) ||
	    (s->types & KB_T_STRING))
		return (kb_param_scalar(s, raw, len, pointer, errs));

	items = s->items;

	if (p->explode && p->style == KB_STYLE_FORM) {
		arr = into != NULL ? json_incref(into) : json_array();
		if (arr == NULL)
			abort();
		v = kb_param_item(items, raw, len, pointer,
		    json_array_size(arr), errs);
		if (v == NULL) {
			json_decref(arr);
			return (NULL);
		}
		json_array_append_new(arr, v);
		return (arr);
	}

	if ((arr = json_array()) == NULL)
		abort();
	if (len == 0)
		return (arr);

	delim = kb_param_delim(p);
	bad = 0;
	idx = 0;
	start = raw;
	end = raw + len;
	for (;;) {
		d = memchr(start, delim, (size_t)(end - start));
		if (d == NULL)
			d = end;
		v = kb_param_item(items, start, (size_t)(d - start), pointer,
		    idx, errs);
		if (v == NULL)
			bad = 1;
		else
			json_array_append_new(arr, v);
		idx++;
		if (d == end)
			break;
		start = d + 1;
	}

	if (bad) {
		json_decref(arr);
		return (NULL);
	}
	return (arr);
}

static char
kb_param_delim(const struct kb_param *p)
{
	switch (p->style) {
	case KB_STYLE_SPACE:
		return (' ');
	case KB_STYLE_PIPE:
		return ('|');
	default:
		return (',');
	}
}

/* One array item, failures reported at "<pointer>/<idx>". */
static json_t *
kb_param_item(const struct kb_schema *items, const char *raw, size_t len,
    const char *pointer, size_t idx, struct kb_errors *errs)
{
	char		*path;
	size_t		plen;
	json_t		*v;

	plen = strlen(pointer) + 32;
	if ((path = malloc(plen)) == NULL)
		abort();
	(void)snprintf(path, plen, "%s/%zu", pointer, idx);
	v = kb_param_scalar(items, raw, len, path, errs);
	free(path);

	return (v);
}

/*
 * One scalar: boolean, integer or number when the schema allows it, else
 * the string itself.  With `errs` NULL, failures are silent.
 */
static json_t *
kb_param_scalar(const struct kb_schema *s, const char *raw, size_t len,
    const char *pointer, struct kb_errors *errs)
{
	unsigned int	t;
	json_int_t	i;
	double		d;
	int		range = 0;
	json_t		*v;

	t = s != NULL ? s->types : 0;

	/* Other types first: with [integer, string], "12" is 12. */
	if (t == 0 || t == KB_T_STRING || t == (KB_T_STRING | KB_T_NULL))
		v = json_stringn(raw, len);
	else if ((t & KB_T_BOOLEAN) && len == 4 && memcmp(raw, "true", 4) == 0)
		v = json_true();
	else if ((t & KB_T_BOOLEAN) && len == 5 &&
	    memcmp(raw, "false", 5) == 0)
		v = json_false();
	else if ((t & (KB_T_INTEGER | KB_T_NUMBER)) &&
	    kb_param_integer(raw, len, &i, &range))
		v = json_integer(i);
	else if ((t & KB_T_NUMBER) && kb_param_number(raw, len, &d))
		v = json_real(d);
	else if (t & KB_T_STRING)
		v = json_stringn(raw, len);
	else if ((t & KB_T_NULL) && len == 4 && memcmp(raw, "null", 4) == 0)
		v = json_null();
	else {
		if (errs != NULL) {
			if ((t & KB_T_INTEGER) && range)
				kb_errors_add(errs, pointer, "must be an "
				    "integer between -9223372036854775808 and "
				    "9223372036854775807");
			else if (t & KB_T_INTEGER)
				kb_errors_add(errs, pointer,
				    "must be an integer");
			else if (t & KB_T_NUMBER)
				kb_errors_add(errs, pointer,
				    "must be a number");
			else if (t & KB_T_BOOLEAN)
				kb_errors_add(errs, pointer,
				    "must be true or false");
			else
				kb_errors_add(errs, pointer,
				    "has the wrong type");
		}
		return (NULL);
	}

	if (v == NULL) {
		/* json_stringn() refuses invalid UTF-8. */
		if (errs != NULL)
			kb_errors_add(errs, pointer, "must be valid UTF-8");
		return (NULL);
	}
	return (v);
}

/* Strict: optional sign, digits, nothing else; `range` set on overflow. */
static int
kb_param_integer(const char *raw, size_t len, json_int_t *out, int *range)
{
	char		buf[32], *ep;
	size_t		i;
	long long	v;

	*range = 0;
	if (len == 0)
		return (0);
	i = (raw[0] == '-' || raw[0] == '+') ? 1 : 0;
	if (i == len)
		return (0);
	for (; i < len; i++) {
		if (!isdigit((unsigned char)raw[i]))
			return (0);
	}
	if (len >= sizeof(buf)) {
		*range = 1;
		return (0);
	}
	memcpy(buf, raw, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoll(buf, &ep, 10);
	if (errno == ERANGE) {
		*range = 1;
		return (0);
	}
	*out = (json_int_t)v;
	return (1);
}

/* [sign] digits [. digits] [e [sign] digits]: no hex, inf or nan. */
static int
kb_param_number(const char *raw, size_t len, double *out)
{
	char		buf[64];
	size_t		i;
	int		digits;

	i = 0;
	if (i < len && (raw[i] == '-' || raw[i] == '+'))
		i++;
	digits = 0;
	while (i < len && isdigit((unsigned char)raw[i])) {
		i++;
		digits++;
	}
	if (i < len && raw[i] == '.') {
		i++;
		while (i < len && isdigit((unsigned char)raw[i])) {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return (0);
	if (i < len && (raw[i] == 'e' || raw[i] == 'E')) {
		i++;
		if (i < len && (raw[i] == '-' || raw[i] == '+'))
			i++;
		digits = 0;
		while (i < len && isdigit((unsigned char)raw[i])) {
			i++;
			digits++;
		}
		if (digits == 0)
			return (0);
	}
	if (i != len || len >= sizeof(buf))
		return (0);

	memcpy(buf, raw, len);
	buf[len] = '\0';
	*out = strtod(buf, NULL);
	return (isfinite(*out));
}
