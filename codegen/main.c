/*
 * kbgen: generate the C server tables for an OpenAPI document.
 *
 *	kbgen [-q] SPEC -o OUTDIR
 *
 * Exit status: 0 on success, 1 when the document has errors (each printed
 * as "file:line:col: message"), 2 on usage errors.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kbc.h"

static void	usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: kbgen [-q] SPEC -o OUTDIR\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct kbc	*kbc;
	struct kbc_api	*api;
	const char	*out, *spec;
	int		ch, quiet, rc;

	out = NULL;
	quiet = 0;
	spec = NULL;
	/* glibc's getopt() permutes, so "SPEC -o OUTDIR" works too. */
	while ((ch = getopt(argc, argv, "o:qh")) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1 || out == NULL)
		usage();
	spec = argv[optind];

	kbc = kbc_new();
	rc = 1;
	if ((api = kbc_api_load(kbc, spec)) != NULL &&
	    kbc_emit_all(kbc, api, out) == 0)
		rc = 0;
	if (rc != 0)
		fprintf(stderr, "kbgen: %s: %zu error(s), nothing generated\n",
		    spec, kbc->nerrors);
	else if (!quiet)
		fprintf(stderr, "kbgen: %s: %zu paths, %zu operations -> %s\n",
		    spec, api->api.npaths, api->nops, out);
	kbc_free(kbc);
	return (rc);
}
