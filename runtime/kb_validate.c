/*
 * korebase runtime: JSON Schema validation of request values.
 *
 * kb_validate() walks a value against a compiled kb_schema (emitted by
 * kbgen, or built live by the codegen library in tests) and appends every
 * failure, each with a JSON pointer, to a kb_errors list.  It validates
 * requests: a readOnly property is never required.  Keywords only apply
 * to the JSON types they are about; when the type is wrong, only the type
 * failure is reported for that value.
 *
 * Schema caches (compiled patterns, parsed enum/const) are filled lazily
 * and live for the life of the process.
 */

/* inet_pton(), strncasecmp() under -std=c11. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <arpa/inet.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH	8
#include <pcre2.h>

#include "kb_rt.h"

/* Deeper than this, a value is refused rather than risking the stack. */
#define KB_VALIDATE_MAX_DEPTH	256

struct kb_vstate {
	struct kb_errors	*errs;
	char			*path;
	size_t			len;
	size_t			cap;
	int			depth;
};

static void	kb_v_value(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static int	kb_v_types(const struct kb_schema *, json_t *);
static void	kb_v_type_error(struct kb_vstate *, unsigned int);
static void	kb_v_enum(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static void	kb_v_number(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static void	kb_v_string(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static void	kb_v_array(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static void	kb_v_object(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static void	kb_v_combine(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static int	kb_v_discriminator(struct kb_vstate *,
		    const struct kb_schema *, json_t *);
static size_t	kb_v_trial(struct kb_vstate *, const struct kb_schema *,
		    json_t *);
static size_t	kb_v_push(struct kb_vstate *, const char *, size_t);
static size_t	kb_v_push_index(struct kb_vstate *, size_t);
static void	kb_v_pop(struct kb_vstate *, size_t);
static void	kb_v_fail(struct kb_vstate *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	kb_v_num_str(double, char *, size_t);
static char	*kb_v_values_str(json_t *);
static json_t	*kb_v_cached_json(json_t **, const char *);
static int	kb_v_json_equal(json_t *, json_t *);
static size_t	kb_v_utf8_len(const char *, size_t);
static int	kb_v_format(enum kb_format, const char *, size_t);
static int	kb_v_date(const char *, size_t);
static int	kb_v_time(const char *, size_t);
static int	kb_v_email(const char *, size_t);
static int	kb_v_uuid(const char *, size_t);
static int	kb_v_uri(const char *, size_t);
static int	kb_v_ip(int, const char *, size_t);
static int	kb_v_base64(const char *, size_t);

size_t
kb_validate(const struct kb_schema *schema, json_t *value, const char *base,
    struct kb_errors *errs)
{
	struct kb_vstate	st;
	size_t			before;

	before = errs->count;
	memset(&st, 0, sizeof(st));
	st.errs = errs;
	st.len = strlen(base);
	st.cap = st.len + 64;
	if ((st.path = malloc(st.cap)) == NULL)
		abort();
	memcpy(st.path, base, st.len + 1);

	if (schema != NULL && value != NULL)
		kb_v_value(&st, schema, value);
	else if (schema != NULL && value == NULL)
		kb_v_fail(&st, "is required");

	free(st.path);
	return (errs->count - before);
}

static void
kb_v_value(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	if (s->flags & KB_S_FALSE) {
		kb_v_fail(st, "is not allowed");
		return;
	}

	if (st->depth >= KB_VALIDATE_MAX_DEPTH) {
		kb_v_fail(st, "is nested too deeply");
		return;
	}
	st->depth++;

	if (!kb_v_types(s, v)) {
		kb_v_type_error(st, s->types);
		st->depth--;
		return;
	}

	if (s->enum_json != NULL || (s->flags & KB_S_HAS_CONST))
		kb_v_enum(st, s, v);

	if (json_is_number(v))
		kb_v_number(st, s, v);
	else if (json_is_string(v))
		kb_v_string(st, s, v);
	else if (json_is_array(v))
		kb_v_array(st, s, v);
	else if (json_is_object(v))
		kb_v_object(st, s, v);

	kb_v_combine(st, s, v);
	st->depth--;
}

/* An integral real (1.0) counts as an integer, as JSON Schema says. */
static int
kb_v_types(const struct kb_schema *s, json_t *v)
{
	unsigned int	t;
	double		d;

	if (s->types == 0)
		return (1);

	switch (json_typeof(v)) {
	case JSON_NULL:
		t = KB_T_NULL;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		t = KB_T_BOOLEAN;
		break;
	case JSON_INTEGER:
		t = KB_T_INTEGER | KB_T_NUMBER;
		break;
	case JSON_REAL:
		t = KB_T_NUMBER;
		d = json_real_value(v);
		if (isfinite(d) && d == floor(d))
			t |= KB_T_INTEGER;
		break;
	case JSON_STRING:
		t = KB_T_STRING;
		break;
	case JSON_ARRAY:
		t = KB_T_ARRAY;
		break;
	case JSON_OBJECT:
		t = KB_T_OBJECT;
		break;
	default:
		return (0);
	}

	return ((s->types & t) != 0);
}

static void
kb_v_type_error(struct kb_vstate *st, unsigned int types)
{
	static const struct {
		unsigned int	bit;
		const char	*name;
	} names[] = {
		{ KB_T_STRING,	"string" },
		{ KB_T_INTEGER,	"integer" },
		{ KB_T_NUMBER,	"number" },
		{ KB_T_BOOLEAN,	"boolean" },
		{ KB_T_OBJECT,	"object" },
		{ KB_T_ARRAY,	"array" },
		{ KB_T_NULL,	"null" },
	};
	const char	*list[8];
	size_t		i, n;
	char		buf[128];

	/* "number" already admits integers. */
	if (types & KB_T_NUMBER)
		types &= ~KB_T_INTEGER;

	n = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (types & names[i].bit)
			list[n++] = names[i].name;
	}

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(buf, i == n - 1 ? " or " : ", ");
		strcat(buf, list[i]);
	}

	kb_v_fail(st, "must be of type %s", buf);
}

static void
kb_v_enum(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	json_t		*vals, *c;
	size_t		i;
	char		*text;

	if (s->enum_json != NULL) {
		vals = kb_v_cached_json(&s->cache->enum_values, s->enum_json);
		if (json_is_array(vals)) {
			for (i = 0; i < json_array_size(vals); i++) {
				if (kb_v_json_equal(json_array_get(vals, i), v))
					break;
			}
			if (i == json_array_size(vals)) {
				text = kb_v_values_str(vals);
				kb_v_fail(st, "must be one of: %s", text);
				free(text);
			}
		}
	}

	if ((s->flags & KB_S_HAS_CONST) && s->const_json != NULL) {
		c = kb_v_cached_json(&s->cache->const_value, s->const_json);
		if (c != NULL && !kb_v_json_equal(c, v)) {
			if ((vals = json_pack("[O]", c)) == NULL)
				abort();
			text = kb_v_values_str(vals);
			kb_v_fail(st, "must be equal to %s", text);
			free(text);
			json_decref(vals);
		}
	}
}

static void
kb_v_number(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	double		d, q;
	json_int_t	i, m;
	char		buf[64];
	int		ok;

	d = json_number_value(v);

	if (s->flags & KB_S_HAS_MIN) {
		kb_v_num_str(s->minimum, buf, sizeof(buf));
		if (s->flags & KB_S_EXCL_MIN) {
			if (!(d > s->minimum))
				kb_v_fail(st, "must be > %s", buf);
		} else if (!(d >= s->minimum)) {
			kb_v_fail(st, "must be >= %s", buf);
		}
	}

	if (s->flags & KB_S_HAS_MAX) {
		kb_v_num_str(s->maximum, buf, sizeof(buf));
		if (s->flags & KB_S_EXCL_MAX) {
			if (!(d < s->maximum))
				kb_v_fail(st, "must be < %s", buf);
		} else if (!(d <= s->maximum)) {
			kb_v_fail(st, "must be <= %s", buf);
		}
	}

	if ((s->flags & KB_S_HAS_MULTIPLE) && s->multiple_of > 0) {
		if (json_is_integer(v) && s->multiple_of == floor(s->multiple_of) &&
		    s->multiple_of < 9.2e18) {
			i = json_integer_value(v);
			m = (json_int_t)s->multiple_of;
			ok = (i % m) == 0;
		} else {
			q = d / s->multiple_of;
			ok = isfinite(q) &&
			    fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
		}
		if (!ok) {
			kb_v_num_str(s->multiple_of, buf, sizeof(buf));
			kb_v_fail(st, "must be a multiple of %s", buf);
		}
	}
}

static void
kb_v_string(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	const char		*str;
	size_t			len, chars;
	pcre2_code		*re;
	pcre2_match_data	*md;
	int			rc, errcode;
	PCRE2_SIZE		erroff;
	static const char	*fnames[] = {
		[KB_F_DATE_TIME] = "must be a valid date-time (RFC 3339)",
		[KB_F_DATE] = "must be a valid date (YYYY-MM-DD)",
		[KB_F_TIME] = "must be a valid time (RFC 3339)",
		[KB_F_EMAIL] = "must be a valid e-mail address",
		[KB_F_UUID] = "must be a valid UUID",
		[KB_F_URI] = "must be a valid URI",
		[KB_F_IPV4] = "must be a valid IPv4 address",
		[KB_F_IPV6] = "must be a valid IPv6 address",
		[KB_F_BYTE] = "must be valid base64",
	};

	str = json_string_value(v);
	len = json_string_length(v);

	if (s->min_length >= 0 || s->max_length >= 0) {
		chars = kb_v_utf8_len(str, len);
		if (s->min_length >= 0 && chars < (size_t)s->min_length) {
			kb_v_fail(st, "must be at least %lld character%s",
			    (long long)s->min_length,
			    s->min_length == 1 ? "" : "s");
		}
		if (s->max_length >= 0 && chars > (size_t)s->max_length) {
			kb_v_fail(st, "must be at most %lld character%s",
			    (long long)s->max_length,
			    s->max_length == 1 ? "" : "s");
		}
	}

	if (s->pattern != NULL) {
		if (s->cache->pattern == NULL) {
			re = pcre2_compile((PCRE2_SPTR)s->pattern,
			    PCRE2_ZERO_TERMINATED, KB_PATTERN_OPTIONS,
			    &errcode, &erroff, NULL);
			if (re != NULL)
				(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
			s->cache->pattern = re;
		}
		re = s->cache->pattern;
		if (re == NULL) {
			kb_v_fail(st, "cannot be checked against pattern %s",
			    s->pattern);
		} else {
			md = pcre2_match_data_create_from_pattern(re, NULL);
			if (md == NULL)
				abort();
			rc = pcre2_match(re, (PCRE2_SPTR)str, len, 0, 0, md,
			    NULL);
			pcre2_match_data_free(md);
			if (rc < 0)
				kb_v_fail(st, "must match pattern %s",
				    s->pattern);
		}
	}

	if (s->format >= KB_F_DATE_TIME && s->format <= KB_F_BYTE &&
	    !kb_v_format(s->format, str, len))
		kb_v_fail(st, "%s", fnames[s->format]);
}

static void
kb_v_array(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	size_t		i, j, n, mark;

	n = json_array_size(v);

	if (s->min_items >= 0 && n < (size_t)s->min_items) {
		kb_v_fail(st, "must have at least %lld item%s",
		    (long long)s->min_items, s->min_items == 1 ? "" : "s");
	}
	if (s->max_items >= 0 && n > (size_t)s->max_items) {
		kb_v_fail(st, "must have at most %lld item%s",
		    (long long)s->max_items, s->max_items == 1 ? "" : "s");
	}

	if (s->flags & KB_S_UNIQUE_ITEMS) {
		for (i = 1; i < n; i++) {
			for (j = 0; j < i; j++) {
				if (kb_v_json_equal(json_array_get(v, i),
				    json_array_get(v, j)))
					break;
			}
			if (j < i) {
				mark = kb_v_push_index(st, i);
				kb_v_fail(st, "duplicates item %zu; items must "
				    "be unique", j);
				kb_v_pop(st, mark);
			}
		}
	}

	if (s->items != NULL) {
		for (i = 0; i < n; i++) {
			mark = kb_v_push_index(st, i);
			kb_v_value(st, s->items, json_array_get(v, i));
			kb_v_pop(st, mark);
		}
	}
}

static void
kb_v_object(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	const char	*key;
	json_t		*val;
	size_t		i, n, mark;
	int		ro;

	n = json_object_size(v);

	if (s->min_props >= 0 && n < (size_t)s->min_props) {
		kb_v_fail(st, "must have at least %lld propert%s",
		    (long long)s->min_props, s->min_props == 1 ? "y" : "ies");
	}
	if (s->max_props >= 0 && n > (size_t)s->max_props) {
		kb_v_fail(st, "must have at most %lld propert%s",
		    (long long)s->max_props, s->max_props == 1 ? "y" : "ies");
	}

	for (i = 0; i < s->nrequired; i++) {
		if (json_object_get(v, s->required[i]) != NULL)
			continue;
		ro = 0;
		for (n = 0; n < s->nprops; n++) {
			if (strcmp(s->props[n].name, s->required[i]) == 0) {
				ro = (s->props[n].schema->flags &
				    KB_S_READ_ONLY) != 0;
				break;
			}
		}
		if (ro)
			continue;
		mark = kb_v_push(st, s->required[i], strlen(s->required[i]));
		kb_v_fail(st, "is required");
		kb_v_pop(st, mark);
	}

	for (i = 0; i < s->nprops; i++) {
		if ((val = json_object_get(v, s->props[i].name)) == NULL)
			continue;
		mark = kb_v_push(st, s->props[i].name,
		    strlen(s->props[i].name));
		kb_v_value(st, s->props[i].schema, val);
		kb_v_pop(st, mark);
	}

	if (s->additional == NULL && !(s->flags & KB_S_NO_ADDITIONAL))
		return;

	json_object_foreach(v, key, val) {
		for (i = 0; i < s->nprops; i++) {
			if (strcmp(s->props[i].name, key) == 0)
				break;
		}
		if (i < s->nprops)
			continue;
		mark = kb_v_push(st, key, strlen(key));
		if (s->additional != NULL)
			kb_v_value(st, s->additional, val);
		else
			kb_v_fail(st, "is not allowed");
		kb_v_pop(st, mark);
	}
}

static void
kb_v_combine(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	size_t		i, matched;

	for (i = 0; i < s->nall_of; i++)
		kb_v_value(st, s->all_of[i], v);

	if (s->discriminator != NULL && (s->none_of > 0 || s->nany_of > 0) &&
	    kb_v_discriminator(st, s, v)) {
		/* The discriminator picked (or refused) the branch. */
	} else {
		if (s->nany_of > 0) {
			for (i = 0; i < s->nany_of; i++) {
				if (kb_v_trial(st, s->any_of[i], v) == 0)
					break;
			}
			if (i == s->nany_of)
				kb_v_fail(st, "must match at least one of the "
				    "allowed schemas");
		}

		if (s->none_of > 0) {
			matched = 0;
			for (i = 0; i < s->none_of; i++) {
				if (kb_v_trial(st, s->one_of[i], v) == 0)
					matched++;
			}
			if (matched == 0) {
				kb_v_fail(st, "must match exactly one of the "
				    "allowed schemas");
			} else if (matched > 1) {
				kb_v_fail(st, "must match exactly one of the "
				    "allowed schemas, but matches %zu", matched);
			}
		}
	}

	if (s->not_schema != NULL && kb_v_trial(st, s->not_schema, v) == 0)
		kb_v_fail(st, "must not match the disallowed schema");
}

/*
 * Select a oneOf/anyOf branch by the discriminator property.  Returns 1
 * when it decided (errors of the chosen branch, or of the property, were
 * reported), 0 when the value is not an object and the plain rules apply.
 */
static int
kb_v_discriminator(struct kb_vstate *st, const struct kb_schema *s,
    json_t *v)
{
	json_t		*p;
	const char	*val;
	size_t		i, mark;
	char		*list, *w;
	size_t		len;

	if (!json_is_object(v))
		return (0);

	mark = kb_v_push(st, s->discriminator, strlen(s->discriminator));
	if ((p = json_object_get(v, s->discriminator)) == NULL) {
		kb_v_fail(st, "is required");
		kb_v_pop(st, mark);
		return (1);
	}
	if (!json_is_string(p)) {
		kb_v_fail(st, "must be of type string");
		kb_v_pop(st, mark);
		return (1);
	}

	val = json_string_value(p);
	for (i = 0; i < s->nmapping; i++) {
		if (strcmp(s->mapping[i].value, val) == 0)
			break;
	}
	if (i == s->nmapping) {
		len = 1;
		for (i = 0; i < s->nmapping; i++)
			len += strlen(s->mapping[i].value) + 2;
		if ((list = malloc(len)) == NULL)
			abort();
		w = list;
		*w = '\0';
		for (i = 0; i < s->nmapping; i++) {
			w += sprintf(w, "%s%s", i ? ", " : "",
			    s->mapping[i].value);
		}
		kb_v_fail(st, "unknown discriminator value, must be one of: %s",
		    list);
		free(list);
		kb_v_pop(st, mark);
		return (1);
	}
	kb_v_pop(st, mark);

	kb_v_value(st, s->mapping[i].schema, v);
	return (1);
}

/* Validate into a scratch list; returns how many failures it had. */
static size_t
kb_v_trial(struct kb_vstate *st, const struct kb_schema *s, json_t *v)
{
	struct kb_errors	scratch, *saved;
	size_t			n;

	kb_errors_init(&scratch);
	saved = st->errs;
	st->errs = &scratch;
	kb_v_value(st, s, v);
	st->errs = saved;
	n = scratch.count;
	kb_errors_clear(&scratch);

	return (n);
}

/*
 * Path handling: push a JSON-pointer token (escaping ~ and /), returning
 * the length to restore with kb_v_pop().
 */
static size_t
kb_v_push(struct kb_vstate *st, const char *tok, size_t len)
{
	size_t		mark, i;

	mark = st->len;
	if (st->len + 2 * len + 2 > st->cap) {
		st->cap = (st->len + 2 * len + 2) * 2;
		if ((st->path = realloc(st->path, st->cap)) == NULL)
			abort();
	}

	st->path[st->len++] = '/';
	for (i = 0; i < len; i++) {
		if (tok[i] == '~') {
			st->path[st->len++] = '~';
			st->path[st->len++] = '0';
		} else if (tok[i] == '/') {
			st->path[st->len++] = '~';
			st->path[st->len++] = '1';
		} else {
			st->path[st->len++] = tok[i];
		}
	}
	st->path[st->len] = '\0';

	return (mark);
}

static size_t
kb_v_push_index(struct kb_vstate *st, size_t idx)
{
	char	buf[32];
	int	len;

	len = snprintf(buf, sizeof(buf), "%zu", idx);
	return (kb_v_push(st, buf, (size_t)len));
}

static void
kb_v_pop(struct kb_vstate *st, size_t mark)
{
	st->len = mark;
	st->path[mark] = '\0';
}

/* Messages can quote long enums and patterns: no fixed-size buffer. */
static void
kb_v_fail(struct kb_vstate *st, const char *fmt, ...)
{
	va_list		ap;
	char		small[256], *buf;
	int		len;

	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();
	if ((size_t)len < sizeof(small)) {
		kb_errors_add(st->errs, st->path, "%s", small);
		return;
	}
	if ((buf = malloc((size_t)len + 1)) == NULL)
		abort();
	va_start(ap, fmt);
	(void)vsnprintf(buf, (size_t)len + 1, fmt, ap);
	va_end(ap);
	kb_errors_add(st->errs, st->path, "%s", buf);
	free(buf);
}

/* Integers print as integers, the rest with enough digits to round-trip. */
static void
kb_v_num_str(double d, char *buf, size_t len)
{
	if (d == floor(d) && fabs(d) < 1e15)
		(void)snprintf(buf, len, "%.0f", d);
	else
		(void)snprintf(buf, len, "%.15g", d);
}

/* "a, b, 3": strings bare, other values as JSON.  Caller frees. */
static char *
kb_v_values_str(json_t *vals)
{
	char		*out, *s;
	size_t		len, cap, n, i;
	json_t		*e;
	const char	*piece;

	cap = 64;
	len = 0;
	if ((out = malloc(cap)) == NULL)
		abort();
	out[0] = '\0';

	for (i = 0; i < json_array_size(vals); i++) {
		e = json_array_get(vals, i);
		s = NULL;
		if (json_is_string(e))
			piece = json_string_value(e);
		else if ((s = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT)))
			piece = s;
		else
			piece = "?";
		n = strlen(piece) + 2;
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			if ((out = realloc(out, cap)) == NULL)
				abort();
		}
		len += (size_t)sprintf(out + len, "%s%s", i ? ", " : "", piece);
		free(s);
	}

	return (out);
}

static json_t *
kb_v_cached_json(json_t **slot, const char *text)
{
	if (*slot == NULL)
		*slot = json_loads(text, JSON_DECODE_ANY, NULL);
	return (*slot);
}

/* JSON Schema equality: 1 and 1.0 are equal; objects ignore key order. */
static int
kb_v_json_equal(json_t *a, json_t *b)
{
	const char	*key;
	json_t		*val;
	size_t		i;

	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return (json_integer_value(a) == json_integer_value(b));
		return (json_number_value(a) == json_number_value(b));
	}

	if (json_typeof(a) != json_typeof(b))
		return (0);

	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return (0);
		for (i = 0; i < json_array_size(a); i++) {
			if (!kb_v_json_equal(json_array_get(a, i),
			    json_array_get(b, i)))
				return (0);
		}
		return (1);
	}

	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return (0);
		json_object_foreach(a, key, val) {
			if (json_object_get(b, key) == NULL ||
			    !kb_v_json_equal(val, json_object_get(b, key)))
				return (0);
		}
		return (1);
	}

	return (json_equal(a, b));
}

/* Code points in valid or invalid UTF-8: every non-continuation byte. */
static size_t
kb_v_utf8_len(const char *s, size_t len)
{
	size_t		i, n;

	n = 0;
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	}
	return (n);
}

int
kb_format_check(enum kb_format f, const char *s, size_t len)
{
	return (kb_v_format(f, s, len));
}

static int
kb_v_format(enum kb_format f, const char *s, size_t len)
{
	size_t		i;

	if (memchr(s, '\0', len) != NULL)
		return (0);

	switch (f) {
	case KB_F_DATE_TIME:
		for (i = 0; i < len; i++) {
			if (s[i] == 'T' || s[i] == 't')
				break;
		}
		if (i != 10)
			return (0);
		return (kb_v_date(s, 10) && kb_v_time(s + 11, len - 11));
	case KB_F_DATE:
		return (kb_v_date(s, len));
	case KB_F_TIME:
		return (kb_v_time(s, len));
	case KB_F_EMAIL:
		return (kb_v_email(s, len));
	case KB_F_UUID:
		return (kb_v_uuid(s, len));
	case KB_F_URI:
		return (kb_v_uri(s, len));
	case KB_F_IPV4:
		return (kb_v_ip(AF_INET, s, len));
	case KB_F_IPV6:
		return (kb_v_ip(AF_INET6, s, len));
	case KB_F_BYTE:
		return (kb_v_base64(s, len));
	default:
		return (1);
	}
}

static int
kb_v_digits(const char *s, size_t n, int *out)
{
	size_t		i;
	int		v;

	v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (0);
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return (1);
}

/* full-date = YYYY-MM-DD, with the real number of days in the month. */
static int
kb_v_date(const char *s, size_t len)
{
	static const int	mdays[] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int			y, m, d, leap;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return (0);
	if (!kb_v_digits(s, 4, &y) || !kb_v_digits(s + 5, 2, &m) ||
	    !kb_v_digits(s + 8, 2, &d))
		return (0);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return (0);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return (0);
	return (1);
}

/* full-time = HH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static int
kb_v_time(const char *s, size_t len)
{
	int		h, m, sec, oh, om;
	size_t		i;

	if (len < 9 || s[2] != ':' || s[5] != ':')
		return (0);
	if (!kb_v_digits(s, 2, &h) || !kb_v_digits(s + 3, 2, &m) ||
	    !kb_v_digits(s + 6, 2, &sec))
		return (0);
	if (h > 23 || m > 59 || sec > 60)
		return (0);

	i = 8;
	if (s[i] == '.') {
		i++;
		if (i >= len || !isdigit((unsigned char)s[i]))
			return (0);
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i >= len)
		return (0);

	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
		return (1);
	if (s[i] != '+' && s[i] != '-')
		return (0);
	if (len - i != 6 || s[i + 3] != ':')
		return (0);
	if (!kb_v_digits(s + i + 1, 2, &oh) || !kb_v_digits(s + i + 4, 2, &om))
		return (0);
	return (oh <= 23 && om <= 59);
}

/*
 * Pragmatic e-mail: dot-atom local part of at most 64 characters, '@',
 * a host name of letter/digit/hyphen labels (not starting or ending with a
 * hyphen) with at least one dot, or an IP literal in brackets.
 */
static int
kb_v_email(const char *s, size_t len)
{
	const char	*at, *d;
	size_t		i, llen, dlen, lab;
	char		ip[64];

	if ((at = memchr(s, '@', len)) == NULL)
		return (0);
	llen = (size_t)(at - s);
	d = at + 1;
	dlen = len - llen - 1;
	if (llen == 0 || llen > 64 || dlen == 0 || dlen > 253)
		return (0);

	for (i = 0; i < llen; i++) {
		if (s[i] == '.') {
			if (i == 0 || i == llen - 1 || s[i - 1] == '.')
				return (0);
			continue;
		}
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+/=?^_`{|}~-", s[i]) == NULL)
			return (0);
	}

	if (d[0] == '[') {
		if (d[dlen - 1] != ']' || dlen - 2 >= sizeof(ip))
			return (0);
		memcpy(ip, d + 1, dlen - 2);
		ip[dlen - 2] = '\0';
		if (strncasecmp(ip, "IPv6:", 5) == 0)
			return (kb_v_ip(AF_INET6, ip + 5, strlen(ip + 5)));
		return (kb_v_ip(AF_INET, ip, strlen(ip)));
	}

	if (memchr(d, '.', dlen) == NULL)
		return (0);

	lab = 0;
	for (i = 0; i < dlen; i++) {
		if (d[i] == '.') {
			if (lab == 0 || d[i - 1] == '-')
				return (0);
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)d[i]) && d[i] != '-')
			return (0);
		if (lab == 0 && d[i] == '-')
			return (0);
		if (++lab > 63)
			return (0);
	}
	return (lab > 0 && d[dlen - 1] != '-');
}

static int
kb_v_uuid(const char *s, size_t len)
{
	size_t		i;

	if (len != 36)
		return (0);
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!isxdigit((unsigned char)s[i])) {
			return (0);
		}
	}
	return (1);
}

/*
 * An absolute URI (RFC 3986): scheme ":" hier-part, made only of
 * unreserved, reserved and well-formed %HH characters.
 */
static int
kb_v_uri(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || !isalpha((unsigned char)s[0]))
		return (0);
	for (i = 1; i < len && s[i] != ':'; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' &&
		    s[i] != '-' && s[i] != '.')
			return (0);
	}
	if (i == len)
		return (0);

	for (i++; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return (0);
			i += 2;
			continue;
		}
		if (isalnum((unsigned char)s[i]))
			continue;
		if (strchr("-._~:/?#[]@!$&'()*+,;=", s[i]) == NULL)
			return (0);
	}
	return (1);
}

static int
kb_v_ip(int af, const char *s, size_t len)
{
	char			buf[64];
	unsigned char		out[16];

	if (len == 0 || len >= sizeof(buf))
		return (0);
	memcpy(buf, s, len);
	buf[len] = '\0';
	return (inet_pton(af, buf, out) == 1);
}

/* Standard alphabet, padded to a multiple of four. */
static int
kb_v_base64(const char *s, size_t len)
{
	size_t		i, pad;

	if (len % 4 != 0)
		return (0);
	pad = 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return (0);
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return (0);
	}
	return (pad <= 2);
}
