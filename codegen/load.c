/*
 * kbgen: loading YAML and JSON files into jansson values.
 *
 * Both go through libyaml's event parser (JSON is a subset of the YAML
 * flow style), so every node gets a source position: the position of its
 * key in a mapping, or of itself in a sequence.  Plain scalars are typed
 * by the YAML 1.2 core schema (null, true/false, integers, floats); quoted
 * scalars are strings.  Anchors and aliases are supported (an alias shares
 * the anchored node), as are merge keys ("<<").  The loaded tree is owned
 * by the kbc (kbc->files[i].root).
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kbc.h"

struct kbc_frame {
	json_t		*node;		/* object or array being filled */
	char		*key;		/* pending mapping key, or NULL */
	uint32_t	kline;
	uint32_t	kcol;
	int		key_plain;	/* key was a plain scalar (for "<<") */
	int		merged;		/* had a merge key: no dup checks */
};

struct kbc_loader {
	struct kbc		*kbc;
	uint32_t		file;
	const char		*name;
	struct kbc_frame	*stack;
	size_t			depth;
	size_t			cap;
	json_t			*anchors;	/* anchor name -> node */
	json_t			*result;
	int			failed;
};

static int	kbc_load_parse(struct kbc *, uint32_t, const char *,
		    const unsigned char *, size_t);
static int	kbc_load_value(struct kbc_loader *, json_t *, uint32_t,
		    uint32_t);
static json_t	*kbc_load_scalar(struct kbc_loader *, yaml_event_t *);
static json_t	*kbc_load_plain(const char *, size_t);
static int	kbc_load_merge(struct kbc_loader *, json_t *, json_t *);
static int	kbc_load_add_file(struct kbc *, const char *, const char *);

int
kbc_load_file(struct kbc *kbc, const char *display, const char *path)
{
	FILE		*fp;
	unsigned char	*data;
	size_t		len, cap, n;
	int		idx;
	char		*real;

	if ((real = realpath(path, NULL)) == NULL) {
		kbc_error_file(kbc, display, 0, 0, "cannot open: %s",
		    strerror(errno));
		return (-1);
	}
	for (n = 0; n < kbc->nfiles; n++) {
		if (kbc->files[n].real != NULL &&
		    strcmp(kbc->files[n].real, real) == 0) {
			free(real);
			return (kbc->files[n].root != NULL ? (int)n : -1);
		}
	}

	if ((fp = fopen(path, "rb")) == NULL) {
		kbc_error_file(kbc, display, 0, 0, "cannot open: %s",
		    strerror(errno));
		free(real);
		return (-1);
	}
	cap = 65536;
	len = 0;
	data = kbc_xrealloc(NULL, cap);
	while ((n = fread(data + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			data = kbc_xrealloc(data, cap);
		}
	}
	if (ferror(fp)) {
		kbc_error_file(kbc, display, 0, 0, "cannot read: %s",
		    strerror(errno));
		fclose(fp);
		free(data);
		free(real);
		return (-1);
	}
	fclose(fp);

	idx = kbc_load_add_file(kbc, display, real);
	free(real);
	if (kbc_load_parse(kbc, (uint32_t)idx, display, data, len) == -1) {
		free(data);
		return (-1);
	}
	free(data);
	return (idx);
}

int
kbc_load_string(struct kbc *kbc, const char *name, const char *text,
    size_t len)
{
	int	idx;

	idx = kbc_load_add_file(kbc, name, NULL);
	if (kbc_load_parse(kbc, (uint32_t)idx, name,
	    (const unsigned char *)text, len) == -1)
		return (-1);
	return (idx);
}

static int
kbc_load_add_file(struct kbc *kbc, const char *display, const char *real)
{
	kbc->files = kbc_xrealloc(kbc->files,
	    (kbc->nfiles + 1) * sizeof(*kbc->files));
	kbc->files[kbc->nfiles].display = kbc_strdup(kbc, display);
	kbc->files[kbc->nfiles].real = real ? kbc_strdup(kbc, real) : NULL;
	kbc->files[kbc->nfiles].root = NULL;
	return ((int)kbc->nfiles++);
}

static int
kbc_load_parse(struct kbc *kbc, uint32_t file, const char *name,
    const unsigned char *data, size_t len)
{
	yaml_parser_t		parser;
	yaml_event_t		ev;
	struct kbc_loader	ld;
	struct kbc_frame	*fr;
	json_t			*node;
	int			done, docs;
	size_t			i;

	memset(&ld, 0, sizeof(ld));
	ld.kbc = kbc;
	ld.file = file;
	ld.name = name;
	ld.anchors = json_object();

	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, data, len);

	done = 0;
	docs = 0;
	while (!done && !ld.failed) {
		if (!yaml_parser_parse(&parser, &ev)) {
			kbc_error_file(kbc, name,
			    (uint32_t)parser.problem_mark.line + 1,
			    (uint32_t)parser.problem_mark.column + 1,
			    "invalid YAML: %s%s%s",
			    parser.problem ? parser.problem : "syntax error",
			    parser.context ? " " : "",
			    parser.context ? parser.context : "");
			ld.failed = 1;
			break;
		}

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				kbc_error_file(kbc, name,
				    (uint32_t)ev.start_mark.line + 1,
				    (uint32_t)ev.start_mark.column + 1,
				    "more than one YAML document");
				ld.failed = 1;
			}
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (ld.depth > 0 && json_is_object(
			    ld.stack[ld.depth - 1].node) &&
			    ld.stack[ld.depth - 1].key == NULL) {
				kbc_error_file(kbc, name,
				    (uint32_t)ev.start_mark.line + 1,
				    (uint32_t)ev.start_mark.column + 1,
				    "complex mapping keys are not supported");
				ld.failed = 1;
				break;
			}
			node = ev.type == YAML_MAPPING_START_EVENT ?
			    json_object() : json_array();
			if (ld.depth > 0 && json_is_object(
			    ld.stack[ld.depth - 1].node)) {
				fr = &ld.stack[ld.depth - 1];
				kbc_set_loc(kbc, node, file, fr->kline,
				    fr->kcol);
			} else {
				kbc_set_loc(kbc, node, file,
				    (uint32_t)ev.start_mark.line + 1,
				    (uint32_t)ev.start_mark.column + 1);
			}
			if (ev.type == YAML_MAPPING_START_EVENT &&
			    ev.data.mapping_start.anchor != NULL)
				json_object_set(ld.anchors, (const char *)
				    ev.data.mapping_start.anchor, node);
			if (ev.type == YAML_SEQUENCE_START_EVENT &&
			    ev.data.sequence_start.anchor != NULL)
				json_object_set(ld.anchors, (const char *)
				    ev.data.sequence_start.anchor, node);
			if (ld.depth == ld.cap) {
				ld.cap = ld.cap ? ld.cap * 2 : 32;
				ld.stack = kbc_xrealloc(ld.stack,
				    ld.cap * sizeof(*ld.stack));
			}
			fr = &ld.stack[ld.depth++];
			memset(fr, 0, sizeof(*fr));
			fr->node = node;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			fr = &ld.stack[--ld.depth];
			node = fr->node;
			free(fr->key);
			fr->key = NULL;
			if (kbc_load_value(&ld, node,
			    (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1) == -1)
				ld.failed = 1;
			json_decref(node);
			break;
		case YAML_SCALAR_EVENT:
			if (ld.depth > 0 &&
			    json_is_object(ld.stack[ld.depth - 1].node) &&
			    ld.stack[ld.depth - 1].key == NULL) {
				fr = &ld.stack[ld.depth - 1];
				fr->key = strndup((const char *)
				    ev.data.scalar.value, ev.data.scalar.length);
				if (fr->key == NULL)
					abort();
				fr->kline = (uint32_t)ev.start_mark.line + 1;
				fr->kcol = (uint32_t)ev.start_mark.column + 1;
				fr->key_plain = ev.data.scalar.style ==
				    YAML_PLAIN_SCALAR_STYLE;
				if (strlen(fr->key) != ev.data.scalar.length) {
					kbc_error_file(kbc, name, fr->kline,
					    fr->kcol, "mapping key contains "
					    "a NUL character");
					ld.failed = 1;
				}
				break;
			}
			if ((node = kbc_load_scalar(&ld, &ev)) == NULL) {
				ld.failed = 1;
				break;
			}
			if (ev.data.scalar.anchor != NULL)
				json_object_set(ld.anchors,
				    (const char *)ev.data.scalar.anchor, node);
			if (ld.depth > 0 &&
			    json_is_array(ld.stack[ld.depth - 1].node))
				kbc_set_loc(kbc, node, file,
				    (uint32_t)ev.start_mark.line + 1,
				    (uint32_t)ev.start_mark.column + 1);
			else if (ld.depth > 0)
				kbc_set_loc(kbc, node, file,
				    ld.stack[ld.depth - 1].kline,
				    ld.stack[ld.depth - 1].kcol);
			if (kbc_load_value(&ld, node,
			    (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1) == -1)
				ld.failed = 1;
			json_decref(node);
			break;
		case YAML_ALIAS_EVENT:
			node = json_object_get(ld.anchors,
			    (const char *)ev.data.alias.anchor);
			if (node == NULL) {
				kbc_error_file(kbc, name,
				    (uint32_t)ev.start_mark.line + 1,
				    (uint32_t)ev.start_mark.column + 1,
				    "unknown YAML alias *%s",
				    ev.data.alias.anchor);
				ld.failed = 1;
				break;
			}
			if (ld.depth > 0 &&
			    json_is_object(ld.stack[ld.depth - 1].node) &&
			    ld.stack[ld.depth - 1].key == NULL) {
				kbc_error_file(kbc, name,
				    (uint32_t)ev.start_mark.line + 1,
				    (uint32_t)ev.start_mark.column + 1,
				    "an alias cannot be a mapping key");
				ld.failed = 1;
				break;
			}
			json_incref(node);
			if (kbc_load_value(&ld, node,
			    (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1) == -1)
				ld.failed = 1;
			json_decref(node);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}

	yaml_parser_delete(&parser);
	/* Containers still open after an error hold their first reference. */
	for (i = 0; i < ld.depth; i++) {
		free(ld.stack[i].key);
		json_decref(ld.stack[i].node);
	}
	free(ld.stack);
	json_decref(ld.anchors);

	if (ld.failed) {
		json_decref(ld.result);
		return (-1);
	}
	if (ld.result == NULL) {
		kbc_error_file(kbc, name, 0, 0, "empty document");
		return (-1);
	}
	kbc->files[file].root = ld.result;
	return (0);
}

/* Attach a finished value to its parent (borrowed; the parent increfs). */
static int
kbc_load_value(struct kbc_loader *ld, json_t *node, uint32_t line,
    uint32_t col)
{
	struct kbc_frame	*fr;
	int			rc;

	if (ld->depth == 0) {
		ld->result = json_incref(node);
		return (0);
	}

	fr = &ld->stack[ld->depth - 1];
	if (json_is_array(fr->node)) {
		json_array_append(fr->node, node);
		return (0);
	}

	if (fr->key_plain && strcmp(fr->key, "<<") == 0) {
		rc = kbc_load_merge(ld, fr->node, node);
		fr->merged = 1;
		free(fr->key);
		fr->key = NULL;
		if (rc == -1)
			kbc_error_file(ld->kbc, ld->name, line, col,
			    "a merge key (<<) needs a mapping or a list of "
			    "mappings");
		return (rc);
	}

	if (!fr->merged && json_object_get(fr->node, fr->key) != NULL) {
		kbc_error_file(ld->kbc, ld->name, fr->kline, fr->kcol,
		    "duplicate key \"%s\"", fr->key);
		free(fr->key);
		fr->key = NULL;
		return (-1);
	}

	json_object_set(fr->node, fr->key, node);
	free(fr->key);
	fr->key = NULL;
	return (0);
}

/* "<<": copy keys the mapping does not have yet. */
static int
kbc_load_merge(struct kbc_loader *ld, json_t *into, json_t *src)
{
	const char	*k;
	json_t		*v;
	size_t		i;

	(void)ld;
	if (json_is_array(src)) {
		for (i = 0; i < json_array_size(src); i++) {
			if (!json_is_object(json_array_get(src, i)))
				return (-1);
			(void)kbc_load_merge(ld, into, json_array_get(src, i));
		}
		return (0);
	}
	if (!json_is_object(src))
		return (-1);
	json_object_foreach(src, k, v) {
		if (json_object_get(into, k) == NULL)
			json_object_set(into, k, v);
	}
	return (0);
}

static json_t *
kbc_load_scalar(struct kbc_loader *ld, yaml_event_t *ev)
{
	const char	*val, *tag;
	size_t		len;
	json_t		*node;

	val = (const char *)ev->data.scalar.value;
	len = ev->data.scalar.length;
	tag = (const char *)ev->data.scalar.tag;

	if (tag != NULL && strcmp(tag, "!") != 0 &&
	    strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, YAML_INT_TAG) != 0 &&
	    strcmp(tag, YAML_FLOAT_TAG) != 0 &&
	    strcmp(tag, YAML_BOOL_TAG) != 0 &&
	    strcmp(tag, YAML_NULL_TAG) != 0) {
		kbc_error_file(ld->kbc, ld->name,
		    (uint32_t)ev->start_mark.line + 1,
		    (uint32_t)ev->start_mark.column + 1,
		    "unsupported YAML tag %s", tag);
		return (NULL);
	}

	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (tag == NULL || strcmp(tag, YAML_STR_TAG) != 0) &&
	    (tag == NULL || strcmp(tag, "!") != 0)) {
		node = kbc_load_plain(val, len);
		if (node == NULL) {
			kbc_error_file(ld->kbc, ld->name,
			    (uint32_t)ev->start_mark.line + 1,
			    (uint32_t)ev->start_mark.column + 1,
			    "number \"%.*s\" cannot be represented in JSON",
			    (int)len, val);
		}
		return (node);
	}

	node = json_stringn(val, len);
	if (node == NULL) {
		kbc_error_file(ld->kbc, ld->name,
		    (uint32_t)ev->start_mark.line + 1,
		    (uint32_t)ev->start_mark.column + 1,
		    "string is not valid UTF-8");
	}
	return (node);
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static json_t *
kbc_load_plain(const char *s, size_t len)
{
	char		*end;
	long long	ll;
	double		d;
	size_t		i;
	int		digits, dot, exp;

	if (len == 0 || (len == 1 && s[0] == '~') ||
	    strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0)
		return (json_null());
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		return (json_true());
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		return (json_false());

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		errno = 0;
		ll = strtoll(s + 2, &end, s[1] == 'x' ? 16 : 8);
		if (*end == '\0' && errno == 0)
			return (json_integer(ll));
		return (json_stringn(s, len));
	}

	/* [-+]? ( digits | digits? . digits* ) ( [eE] [-+]? digits )? */
	i = 0;
	if (s[i] == '-' || s[i] == '+')
		i++;
	digits = dot = exp = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (i < len && s[i] == '.') {
		dot = 1;
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits > 0 && i < len && (s[i] == 'e' || s[i] == 'E')) {
		exp = 1;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == len || s[i] < '0' || s[i] > '9')
			return (json_stringn(s, len));
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}

	if (digits > 0 && i == len) {
		if (!dot && !exp) {
			errno = 0;
			ll = strtoll(s, &end, 10);
			if (errno == 0)
				return (json_integer(ll));
		}
		d = strtod(s, NULL);
		if (!isfinite(d))
			return (NULL);
		return (json_real(d));
	}

	if (strcmp(s, ".inf") == 0 || strcmp(s, "-.inf") == 0 ||
	    strcmp(s, "+.inf") == 0 || strcmp(s, ".nan") == 0 ||
	    strcmp(s, ".NaN") == 0 || strcmp(s, ".Inf") == 0)
		return (NULL);

	return (json_stringn(s, len));
}
