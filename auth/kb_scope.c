/*
 * Key scopes: what a service or client key may do ("tables:read").
 */

#include <string.h>

#include "kb_auth.h"

/* [a-z_]{1,32} from s up to end; 1 if it is one. */
static int
scope_word(const char *s, const char *end)
{
	const char	*p;

	if (end - s < 1 || end - s > 32)
		return (0);
	for (p = s; p < end; p++) {
		if ((*p < 'a' || *p > 'z') && *p != '_')
			return (0);
	}
	return (1);
}

int
kb_scope_valid(const char *scope)
{
	const char	*colon, *end;

	if (scope == NULL)
		return (0);
	if (strcmp(scope, "*") == 0)
		return (1);
	if ((colon = strchr(scope, ':')) == NULL)
		return (0);
	end = scope + strlen(scope);
	if (!scope_word(scope, colon))
		return (0);
	return (strcmp(colon + 1, "*") == 0 || scope_word(colon + 1, end));
}

int
kb_scope_covers(const char *have, const char *want)
{
	size_t		len;

	if (have == NULL || want == NULL || !kb_scope_valid(have) ||
	    !kb_scope_valid(want))
		return (0);
	if (strcmp(have, "*") == 0 || strcmp(have, want) == 0)
		return (1);
	len = strlen(have);
	/* "area:*" covers "area:<anything>", not "areas:..." */
	return (have[len - 1] == '*' && strncmp(have, want, len - 1) == 0);
}
