/*
 * kbmigrate: apply migrations/NNNN_name.sql in order, each once.
 *
 *	kbmigrate [-d DATABASE_URL] [-n] [DIR]
 *
 * Every applied file is recorded in kb_schema_migrations with the SHA-256
 * of its contents.  A file that changed after it was applied is refused
 * (exit 2) before anything runs, as is a gap or a duplicate version.  Each
 * file runs in its own transaction together with its record, under an
 * advisory lock, so concurrent runners apply each migration exactly once.
 * -n lists what would run and changes nothing.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "kb_migrate.h"

struct migration {
	int		 version;
	char		*file;
	char		*name;
	char		*sql;
	char		 sum[65];
};

static void	 die(int, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
static int	 cmp_migration(const void *, const void *);
static char	*slurp(const char *, size_t *);
static PGresult	*exec_ok(PGconn *, const char *, int, const char *const *);

static void
die(int code, const char *fmt, ...)
{
	va_list		ap;

	fprintf(stderr, "kbmigrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static int
cmp_migration(const void *a, const void *b)
{
	const struct migration	*x = a, *y = b;

	return ((x->version > y->version) - (x->version < y->version));
}

static char *
slurp(const char *path, size_t *len)
{
	FILE		*f;
	char		*buf;
	long		 n;

	if ((f = fopen(path, "rb")) == NULL)
		die(1, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die(1, "%s: cannot size the file", path);
	if ((buf = malloc((size_t)n + 1)) == NULL)
		die(1, "out of memory");
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		die(1, "%s: short read", path);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return (buf);
}

static PGresult *
exec_ok(PGconn *pg, const char *sql, int n, const char *const *vals)
{
	PGresult	*r;

	r = n ? PQexecParams(pg, sql, n, NULL, vals, NULL, NULL, 0) :
	    PQexec(pg, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		die(1, "%s", PQresultErrorMessage(r));
	return (r);
}

/* NNNN_name.sql: four or more digits, an underscore, [a-z0-9_]+. */
static int
parse_name(const char *f, int *version)
{
	size_t		i, len;

	len = strlen(f);
	if (len < 10 || strcmp(f + len - 4, ".sql") != 0)
		return (0);
	for (i = 0; isdigit((unsigned char)f[i]); i++)
		;
	if (i < 4 || i > 9 || f[i] != '_' || i + 1 == len - 4)
		return (0);
	for (i = i + 1; i < len - 4; i++) {
		if (!islower((unsigned char)f[i]) &&
		    !isdigit((unsigned char)f[i]) && f[i] != '_')
			return (0);
	}
	*version = atoi(f);
	return (1);
}

int
main(int argc, char **argv)
{
	struct kb_migrate_err	 err;
	struct migration	*m;
	struct dirent		*de;
	PGresult		*r;
	PGconn			*pg;
	DIR			*d;
	const char		*dir, *url, *vals[3];
	char			 path[4096], ver[16];
	size_t			 n, cap, i, len, applied;
	int			 ch, dry, v, row;

	url = getenv("DATABASE_URL");
	dry = 0;
	while ((ch = getopt(argc, argv, "d:n")) != -1) {
		switch (ch) {
		case 'd':
			url = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		default:
			die(64, "usage: kbmigrate [-d DATABASE_URL] [-n] [DIR]");
		}
	}
	dir = optind < argc ? argv[optind] : "migrations";
	if (url == NULL || *url == '\0')
		die(64, "set DATABASE_URL or pass -d");

	if ((d = opendir(dir)) == NULL)
		die(1, "%s: %s", dir, strerror(errno));
	m = NULL;
	n = cap = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!parse_name(de->d_name, &v)) {
			if (strlen(de->d_name) > 4 && strcmp(de->d_name +
			    strlen(de->d_name) - 4, ".sql") == 0)
				die(2, "%s/%s: not named NNNN_name.sql",
				    dir, de->d_name);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((m = realloc(m, cap * sizeof(*m))) == NULL)
				die(1, "out of memory");
		}
		m[n].version = v;
		m[n].file = strdup(de->d_name);
		m[n].name = strndup(de->d_name, strlen(de->d_name) - 4);
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		m[n].sql = slurp(path, &len);
		if (kb_migrate_checksum(m[n].sql, len, m[n].sum) == -1)
			die(1, "sha256 failed");
		n++;
	}
	closedir(d);
	qsort(m, n, sizeof(*m), cmp_migration);
	for (i = 1; i < n; i++) {
		if (m[i].version == m[i - 1].version)
			die(2, "%s and %s share version %d", m[i - 1].file,
			    m[i].file, m[i].version);
	}

	pg = PQconnectdb(url);
	if (PQstatus(pg) != CONNECTION_OK)
		die(1, "cannot connect: %s", PQerrorMessage(pg));
	PQclear(exec_ok(pg, "SET client_min_messages = warning", 0, NULL));
	if (kb_migrate_lock(pg, &err) == -1)
		die(1, "%s", err.message);
	PQclear(exec_ok(pg,
	    "CREATE TABLE IF NOT EXISTS kb_schema_migrations ("
	    " version integer PRIMARY KEY, name text NOT NULL,"
	    " checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL));

	/* Verify every recorded migration before running anything. */
	r = exec_ok(pg, "SELECT version, name, checksum FROM "
	    "kb_schema_migrations ORDER BY version", 0, NULL);
	for (row = 0; row < PQntuples(r); row++) {
		v = atoi(PQgetvalue(r, row, 0));
		for (i = 0; i < n && m[i].version != v; i++)
			;
		if (i == n) {
			fprintf(stderr, "kbmigrate: warning: %s was applied "
			    "but its file is gone\n", PQgetvalue(r, row, 1));
			continue;
		}
		if (strcmp(m[i].sum, PQgetvalue(r, row, 2)) != 0)
			die(2, "%s/%s was changed after it was applied "
			    "(recorded sha256 %.12s, file %.12s); add a new "
			    "migration instead of editing an applied one",
			    dir, m[i].file, PQgetvalue(r, row, 2), m[i].sum);
		m[i].version = -m[i].version - 1;	/* mark applied */
	}
	PQclear(r);

	applied = 0;
	for (i = 0; i < n; i++) {
		if (m[i].version < 0)
			continue;
		if (dry) {
			printf("pending %s\n", m[i].file);
			continue;
		}
		(void)snprintf(ver, sizeof(ver), "%d", m[i].version);
		vals[0] = ver;
		vals[1] = m[i].name;
		vals[2] = m[i].sum;
		if (kb_migrate_step(pg, m[i].sql, "INSERT INTO "
		    "kb_schema_migrations (version, name, checksum) VALUES "
		    "($1, $2, $3)", 3, vals, &err) == -1)
			die(1, "%s/%s failed, nothing of it was applied: %s",
			    dir, m[i].file, err.message);
		printf("applied %s\n", m[i].file);
		applied++;
	}
	if (!dry)
		printf("kbmigrate: %zu applied, %zu already up to date\n",
		    applied, n - applied);
	PQfinish(pg);
	for (i = 0; i < n; i++) {
		free(m[i].file);
		free(m[i].name);
		free(m[i].sql);
	}
	free(m);
	return (0);
}
