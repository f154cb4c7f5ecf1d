/*
 * Swagger UI, served by us from the swagger-ui-dist npm package (no CDN),
 * and the ETag of the served spec.  Files are read once per worker at
 * start-up, so serving them never touches the disk.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kb_server.h"
#include "kb_server_int.h"
#include "kbg_api.h"

struct asset {
	const char	*name;
	const char	*ctype;
	void		*data;
	size_t		 len;
};

static struct asset assets[] = {
	{ "swagger-ui.css", "text/css; charset=utf-8", NULL, 0 },
	{ "swagger-ui-bundle.js", "application/javascript; charset=utf-8",
	    NULL, 0 },
	{ "swagger-ui-standalone-preset.js",
	    "application/javascript; charset=utf-8", NULL, 0 },
	{ "favicon-32x32.png", "image/png", NULL, 0 },
	{ "favicon-16x16.png", "image/png", NULL, 0 },
	{ "oauth2-redirect.html", "text/html; charset=utf-8", NULL, 0 },
};

static const char docs_html[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\">\n"
"<head>\n"
"<meta charset=\"utf-8\">\n"
"<title>korebase API</title>\n"
"<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
"<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\">\n"
"</head>\n"
"<body>\n"
"<div id=\"swagger-ui\"></div>\n"
"<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
"<script src=\"/docs/swagger-ui-standalone-preset.js\"></script>\n"
"<script>\n"
"window.ui = SwaggerUIBundle({\n"
"  url: \"/openapi.json\",\n"
"  dom_id: \"#swagger-ui\",\n"
"  deepLinking: true,\n"
"  persistAuthorization: true,\n"
"  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],\n"
"  layout: \"StandaloneLayout\"\n"
"});\n"
"</script>\n"
"</body>\n"
"</html>\n";

static char	spec_etag[72];

static void	*read_file(const char *, size_t *);

static void *
read_file(const char *path, size_t *len)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 off;
	char		*buf;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return (NULL);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("read_file: out of memory");
	for (off = 0; off < (size_t)st.st_size; off += (size_t)n) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n <= 0)
			break;
	}
	close(fd);
	*len = off;
	return (buf);
}

void
kb_static_init(void)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	char		 path[4096];
	size_t		 k, missing;

	missing = 0;
	for (k = 0; k < sizeof(assets) / sizeof(assets[0]); k++) {
		if (assets[k].data != NULL)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s",
		    kb_config.swagger_dir, assets[k].name);
		assets[k].data = read_file(path, &assets[k].len);
		if (assets[k].data == NULL)
			missing++;
	}
	if (missing > 0)
		kb_log("warning", "Swagger UI assets missing in %s (run "
		    "`make` to install swagger-ui-dist); /docs will not work",
		    kb_config.swagger_dir);

	if (!EVP_Digest(kbg_api.spec_json, kbg_api.spec_json_len, md, &mdlen,
	    EVP_sha256(), NULL))
		fatal("kb_static_init: sha256 failed");
	spec_etag[0] = '"';
	for (i = 0; i < 16; i++)
		(void)snprintf(spec_etag + 1 + i * 2, 3, "%02x", md[i]);
	(void)strcat(spec_etag, "\"");
}

int
kb_static_asset(const char *name, const void **data, size_t *len,
    const char **ctype)
{
	size_t		k;

	for (k = 0; k < sizeof(assets) / sizeof(assets[0]); k++) {
		if (strcmp(assets[k].name, name) == 0 &&
		    assets[k].data != NULL) {
			*data = assets[k].data;
			*len = assets[k].len;
			*ctype = assets[k].ctype;
			return (1);
		}
	}
	return (0);
}

const char *
kb_static_docs_html(size_t *len)
{
	*len = sizeof(docs_html) - 1;
	return (docs_html);
}

const char *
kb_spec_etag(void)
{
	return (spec_etag);
}
