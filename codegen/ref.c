/*
 * kbgen: $ref resolution.
 *
 * A reference is "[file][#pointer]".  The file part is relative to the
 * file the reference is written in; the pointer is a JSON pointer whose
 * tokens may be %-encoded (URI fragment) and use ~0/~1 escapes.  Files are
 * loaded on first use and cached by real path.
 */

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "kbc.h"

static char	*kbc_ref_join(struct kbc *, const char *, const char *);
static char	*kbc_pct_decode(struct kbc *, const char *, size_t, int *);

static int
kbc_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* %XX decoding; *bad set on a malformed escape. */
static char *
kbc_pct_decode(struct kbc *kbc, const char *s, size_t len, int *bad)
{
	char		*out;
	size_t		i, o;
	int		h, l;

	out = kbc_alloc(kbc, len + 1);
	for (i = 0, o = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len) {
				*bad = 1;
				break;
			}
			h = kbc_hexval((unsigned char)s[i + 1]);
			l = kbc_hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0) {
				*bad = 1;
				break;
			}
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return (out);
}

json_t *
kbc_pointer_get(struct kbc *kbc, json_t *root, const char *ptr,
    json_t *refnode, int report)
{
	const char	*p, *end;
	char		*tok, *t;
	json_t		*node;
	size_t		i, o;
	int		bad;
	char		*idxend;
	long		idx;

	node = root;
	if (*ptr == '\0')
		return (node);
	if (*ptr != '/') {
		if (report)
			kbc_error(kbc, refnode, NULL, "invalid JSON pointer "
			    "\"%s\": must start with '/'", ptr);
		return (NULL);
	}

	p = ptr + 1;
	for (;;) {
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		bad = 0;
		tok = kbc_pct_decode(kbc, p, (size_t)(end - p), &bad);
		if (bad) {
			if (report)
				kbc_error(kbc, refnode, NULL, "invalid "
				    "%%-escape in JSON pointer \"%s\"", ptr);
			return (NULL);
		}
		/* ~1 -> '/', ~0 -> '~'; any other '~' is an error. */
		t = tok;
		for (i = 0, o = 0; tok[i] != '\0'; i++) {
			if (tok[i] == '~') {
				if (tok[i + 1] == '0')
					t[o++] = '~';
				else if (tok[i + 1] == '1')
					t[o++] = '/';
				else {
					if (report)
						kbc_error(kbc, refnode, NULL,
						    "invalid ~ escape in JSON "
						    "pointer \"%s\"", ptr);
					return (NULL);
				}
				i++;
			} else {
				t[o++] = tok[i];
			}
		}
		t[o] = '\0';

		if (json_is_object(node)) {
			node = json_object_get(node, t);
		} else if (json_is_array(node)) {
			idx = -1;
			if (isdigit((unsigned char)t[0]) &&
			    (t[0] != '0' || t[1] == '\0')) {
				idx = strtol(t, &idxend, 10);
				if (*idxend != '\0')
					idx = -1;
			}
			node = idx >= 0 ? json_array_get(node, (size_t)idx) :
			    NULL;
		} else {
			node = NULL;
		}
		if (node == NULL) {
			if (report)
				kbc_error(kbc, refnode, NULL, "$ref target "
				    "\"%s\" not found: no \"%s\"", ptr, t);
			return (NULL);
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}

	return (node);
}

char *
kbc_pointer_escape(struct kbc *kbc, const char *s)
{
	char		*out;
	size_t		i, o;

	out = kbc_alloc(kbc, strlen(s) * 3 + 1);
	for (i = 0, o = 0; s[i] != '\0'; i++) {
		if (s[i] == '~') {
			out[o++] = '~';
			out[o++] = '0';
		} else if (s[i] == '/') {
			out[o++] = '~';
			out[o++] = '1';
		} else if (s[i] == '%' || s[i] == '#' || s[i] == ' ' ||
		    s[i] == '"' || (unsigned char)s[i] < 0x20) {
			(void)sprintf(out + o, "%%%02X", (unsigned char)s[i]);
			o += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return (out);
}

/* The file named `rel` next to file `base` (display and real forms). */
static char *
kbc_ref_join(struct kbc *kbc, const char *base, const char *rel)
{
	const char	*slash;

	if (rel[0] == '/' || (slash = strrchr(base, '/')) == NULL)
		return (kbc_strdup(kbc, rel));
	return (kbc_sprintf(kbc, "%.*s/%s", (int)(slash - base), base, rel));
}

json_t *
kbc_ref_resolve(struct kbc *kbc, int file, const char *ref, json_t *refnode,
    int *tfile, const char **tptr)
{
	const char	*hash;
	char		*fpart, *disp, *real, *frag;
	int		idx, bad;
	json_t		*node;

	hash = strchr(ref, '#');
	fpart = kbc_strndup(kbc, ref, hash ? (size_t)(hash - ref) :
	    strlen(ref));
	frag = (char *)(hash ? hash + 1 : "");

	if (strncmp(fpart, "http://", 7) == 0 ||
	    strncmp(fpart, "https://", 8) == 0) {
		kbc_error(kbc, refnode, NULL, "remote $ref \"%s\" is not "
		    "supported: only local files", ref);
		return (NULL);
	}
	if (frag[0] != '\0' && frag[0] != '/') {
		kbc_error(kbc, refnode, NULL, "$ref \"%s\": only JSON pointer "
		    "fragments are supported (no anchors)", ref);
		return (NULL);
	}

	if (fpart[0] == '\0') {
		idx = file;
	} else {
		bad = 0;
		fpart = kbc_pct_decode(kbc, fpart, strlen(fpart), &bad);
		if (bad) {
			kbc_error(kbc, refnode, NULL, "invalid %%-escape in "
			    "$ref \"%s\"", ref);
			return (NULL);
		}
		disp = kbc_ref_join(kbc, kbc->files[file].display, fpart);
		real = kbc->files[file].real != NULL ?
		    kbc_ref_join(kbc, kbc->files[file].real, fpart) : disp;
		idx = kbc_load_file(kbc, disp, real);
		if (idx < 0) {
			kbc_error(kbc, refnode, NULL, "cannot resolve $ref "
			    "\"%s\"", ref);
			return (NULL);
		}
	}

	node = kbc_pointer_get(kbc, kbc->files[idx].root, frag, refnode, 1);
	if (node == NULL)
		return (NULL);
	*tfile = idx;
	*tptr = frag;
	return (node);
}
