/*
 * Streamed responses: large exports in constant memory.
 *
 * kb_stream_copy formats rows itself (or relays a COPY); kb_stream_rows
 * writes a query's first column as it is, between a head, separators
 * and a tail (the Tables planner's export plans: plan->stream_*).
 *
 * kb_stream_copy runs one query on a connection of its own (not the
 * pool's: a long export must not hold up a pipeline), non-blocking on
 * Kore's event loop, and writes what PostgreSQL sends to the client as
 * it comes, as a chunked response (HTTP/1.1) or one delimited by closing
 * the connection (HTTP/1.0).  At most STREAM_INFLIGHT chunks of
 * STREAM_CHUNK bytes wait in the client connection's send queue; while
 * they do, the stream stops reading from PostgreSQL, whose backend then
 * blocks on its socket (wait event ClientWrite), so neither side buffers
 * more than that however slow the client.  Each chunk is handed to Kore
 * with net_send_stream and freed by its netbuf callback once written;
 * that callback also resumes reading.
 *
 * The request sleeps while it streams; the connection is marked
 * CONN_IS_BUSY, so Kore reads no next request from it until the stream
 * ends.  A client that goes away frees the request, which frees the
 * stream and closes its PostgreSQL connection.  Failures before the
 * first byte answer 503 (database unavailable) or go to the error
 * callback (kb_stream_on_error), else 500; after it, the client
 * connection is closed without the last chunk, so the client sees a
 * truncated transfer, never a complete-looking one.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"
#include "kb_server_int.h"

#define STREAM_EVENT_TYPE	101
#define STREAM_CHUNK		(32 * 1024)	/* payload per chunk */
#define STREAM_INFLIGHT		4		/* chunks in the send queue */
#define STREAM_CONNECT_MS	5000
#define STREAM_TICK_MS		100
#define STREAM_HEAD		12		/* "ffffffff\r\n" */

enum stream_fmt {
	FMT_RAW = 0,		/* COPY ... TO STDOUT: its bytes as they are */
	FMT_CSV,
	FMT_NDJSON,
	FMT_JSON,
	FMT_TEXT		/* kb_stream_rows: column 1 as it is */
};

enum stream_state {
	ST_CONNECTING = 0,
	ST_PROLOGUE,		/* BEGIN READ ONLY + set_config */
	ST_QUERY,		/* the query sent, no result yet */
	ST_ROWS,		/* single-row results */
	ST_COPY,		/* COPY OUT data */
	ST_DONE
};

struct chunk {
	struct kb_stream	*st;		/* NULL: the stream is gone */
	TAILQ_ENTRY(chunk)	 list;
	size_t			 off;		/* where the payload starts */
	size_t			 len;		/* payload bytes */
	char			 data[STREAM_HEAD + STREAM_CHUNK + 2];
};

struct kb_stream {
	struct kore_event	 evt;		/* must be first */
	struct kb_ctx		*ctx;
	PGconn			*pg;
	int			 fd;
	int			 watching;	/* 0 none, 1 read, 2 all */
	enum stream_state	 state;
	enum stream_fmt		 fmt;
	int			 status;
	char			*ctype;
	char			*sql;
	char			**values;
	int			 nparams;
	char			*role;
	char			*claims;
	char			*head;		/* FMT_TEXT */
	char			*sep;
	char			*tail;
	kb_db_cb		 on_error;
	void			*on_error_arg;
	int			 headers;	/* sent */
	int			 chunked;
	int			 close_at_end;
	int			 paused;
	int			 failed;	/* after the headers */
	int			 complete;	/* every row went out */
	int			 dbfail;	/* PostgreSQL failed it */
	u_int64_t		 rows;
	u_int64_t		 bytes;
	u_int64_t		 started;
	PGresult		*err;		/* a failure before the headers */
	struct chunk		*cur;
	TAILQ_HEAD(, chunk)	 queued;	/* in Kore's send queue */
	int			 nqueued;
	TAILQ_ENTRY(kb_stream)	 list;
};

static void	stream_event(void *, int);
static void	stream_connect_poll(struct kb_stream *);
static void	stream_watch(struct kb_stream *, int);
static void	stream_prologue(struct kb_stream *);
static void	stream_query(struct kb_stream *);
static void	stream_read(struct kb_stream *);
static void	stream_row(struct kb_stream *, const PGresult *);
static int	stream_copy(struct kb_stream *);
static void	stream_result(struct kb_stream *, PGresult *);
static int	stream_headers(struct kb_stream *, const PGresult *);
static void	csv_field(struct kb_stream *, const char *, size_t, int);
static int	sqlstate_unavailable(const PGresult *);
static void	stream_put(struct kb_stream *, const char *, size_t);
static void	stream_emit(struct kb_stream *);
static int	stream_chunk_sent(struct netbuf *);
static void	stream_finish(struct kb_stream *);
static void	stream_fail(struct kb_stream *, int, const char *);
static void	stream_close_pg(struct kb_stream *);
static void	stream_tick(void *, u_int64_t);
static struct connection *stream_conn(struct kb_stream *);

static TAILQ_HEAD(, kb_stream)	streams = TAILQ_HEAD_INITIALIZER(streams);
static struct kore_timer	*tick;

void
kb_stream_on_error(struct kb_ctx *ctx, kb_db_cb cb, void *arg)
{
	ctx->stream_on_error = cb;
	ctx->stream_on_error_arg = arg;
}

static struct kb_stream	*stream_new(struct kb_ctx *, int, const char *,
			    int, const char *const *, const char *,
			    const char *);
static void		 stream_start(struct kb_stream *);
static void		 stream_verified(struct kb_ctx *, int, void *);
static void		 stream_free(struct kb_stream *);

void
kb_stream_copy(struct kb_ctx *ctx, int status, const char *content_type,
    const char *sql, int nparams, const char *const *values,
    const char *role, const char *claims_json)
{
	struct kb_stream	*st;
	size_t			 n;

	if ((st = stream_new(ctx, status, content_type, nparams, values,
	    role, claims_json)) == NULL)
		return;
	n = strspn(sql, " \t\r\n");
	if (strncasecmp(sql + n, "COPY", 4) == 0 &&
	    !isalnum((unsigned char)sql[n + 4]) && sql[n + 4] != '_') {
		if (nparams != 0)
			fatal("kb_stream_copy: COPY takes no parameters");
		st->fmt = FMT_RAW;
		st->sql = kore_strdup(sql);
	} else if (strncasecmp(content_type, "text/csv", 8) == 0) {
		st->fmt = FMT_CSV;
		st->sql = kore_strdup(sql);
	} else {
		st->fmt = strncasecmp(content_type, "application/json",
		    16) == 0 ? FMT_JSON : FMT_NDJSON;
		/* PostgreSQL writes each row as a JSON object. */
		n = strlen(sql) + 64;
		st->sql = kore_malloc(n);
		(void)snprintf(st->sql, n, "SELECT "
		    "pg_catalog.to_json(kb_r)::text FROM (%s\n) kb_r", sql);
	}
	kb_ctx_verify(ctx, stream_verified, st);
}

void
kb_stream_rows(struct kb_ctx *ctx, int status, const char *content_type,
    const char *sql, int nparams, const char *const *values,
    const char *role, const char *claims_json, const char *head,
    const char *sep, const char *tail)
{
	struct kb_stream	*st;

	if ((st = stream_new(ctx, status, content_type, nparams, values,
	    role, claims_json)) == NULL)
		return;
	st->fmt = FMT_TEXT;
	st->sql = kore_strdup(sql);
	st->head = kore_strdup(head ? head : "");
	st->sep = kore_strdup(sep ? sep : "");
	st->tail = kore_strdup(tail ? tail : "");
	kb_ctx_verify(ctx, stream_verified, st);
}

/*
 * The stream's connection runs no check of a cached caller (kb_auth.c):
 * it starts once the caller is verified.  If the caller no longer holds,
 * the request was answered and the stream is dropped.
 */
static void
stream_verified(struct kb_ctx *ctx, int ok, void *arg)
{
	struct kb_stream	*st = arg;

	if (ok)
		stream_start(st);
	else
		stream_free(st);
}

/* A stream for the request, or NULL when HEAD was answered at once. */
static struct kb_stream *
stream_new(struct kb_ctx *ctx, int status, const char *content_type,
    int nparams, const char *const *values, const char *role,
    const char *claims_json)
{
	struct kb_stream	*st;
	int			 i;

	if (ctx->stream != NULL || ctx->responded)
		fatal("kb_stream: the request already answered");

	if (ctx->req->method == HTTP_METHOD_HEAD) {
		/* The headers only: no query runs for them. */
		kb_respond_text(ctx, status, content_type, "", 0);
		return (NULL);
	}

	st = kore_calloc(1, sizeof(*st));
	st->evt.type = STREAM_EVENT_TYPE;
	st->evt.handle = stream_event;
	st->fd = -1;
	st->ctx = ctx;
	st->status = status;
	st->ctype = kore_strdup(content_type);
	st->on_error = ctx->stream_on_error;
	st->on_error_arg = ctx->stream_on_error_arg;
	st->started = kore_time_ms();
	TAILQ_INIT(&st->queued);
	st->nparams = nparams;
	if (nparams > 0) {
		st->values = kore_calloc(nparams, sizeof(char *));
		for (i = 0; i < nparams; i++) {
			if (values[i] != NULL)
				st->values[i] = kore_strdup(values[i]);
		}
	}
	if (role != NULL) {
		st->role = kore_strdup(role);
		st->claims = kore_strdup(claims_json ? claims_json : "");
	}
	return (st);
}

/* Attach the stream to its request and connect. */
static void
stream_start(struct kb_stream *st)
{
	static const char *const keys[] = {
		"dbname", "application_name", "options", NULL
	};
	const char		*vals[4];

	st->ctx->stream = st;
	TAILQ_INSERT_TAIL(&streams, st, list);
	if (tick == NULL)
		tick = kore_timer_add(stream_tick, STREAM_TICK_MS, NULL, 0);

	/* No statement_timeout: a slow client may keep it running long. */
	vals[0] = kb_config.database_url;
	vals[1] = "korebase-export";
	vals[2] = "-c statement_timeout=0";
	vals[3] = NULL;
	st->state = ST_CONNECTING;
	st->pg = PQconnectStartParams(keys, vals, 1);
	if (st->pg == NULL || PQstatus(st->pg) == CONNECTION_BAD ||
	    PQsetnonblocking(st->pg, 1) == -1) {
		stream_fail(st, 1, st->pg ? PQerrorMessage(st->pg) :
		    "out of memory");
		return;
	}
	stream_connect_poll(st);
}

int
kb_stream_pending(struct kb_ctx *ctx)
{
	return (ctx->stream != NULL && ctx->stream->state != ST_DONE);
}

/*
 * The request ends after a stream.  Returns 1 if the stream wrote the
 * response itself (the dispatcher must not), 0 if the request answered
 * the usual way (the stream failed before its first byte).
 */
int
kb_stream_end(struct kb_ctx *ctx)
{
	struct kb_stream	*st = ctx->stream;
	struct connection	*c;

	if (st == NULL || !st->headers)
		return (0);
	ctx->status = st->status;
	ctx->resp_len = st->bytes;
	if ((c = stream_conn(st)) == NULL || st->failed)
		return (1);
	c->flags &= ~CONN_IS_BUSY;
	if (st->close_at_end)
		c->flags |= CONN_CLOSE_EMPTY;
	else
		http_start_recv(c);
	return (1);
}

/* The request is freed: drop everything, whatever state it was in. */
void
kb_stream_detach(struct kb_ctx *ctx)
{
	struct kb_stream	*st;

	if ((st = ctx->stream) == NULL)
		return;
	ctx->stream = NULL;
	if (!st->complete && !st->dbfail && st->headers)
		kb_log("info", "export %s: the client went away after %llu "
		    "rows, %llu bytes", ctx->request_id,
		    (unsigned long long)st->rows,
		    (unsigned long long)st->bytes);
	TAILQ_REMOVE(&streams, st, list);
	if (TAILQ_EMPTY(&streams) && tick != NULL) {
		kore_timer_remove(tick);
		tick = NULL;
	}
	stream_free(st);
}

/* A stream's connection and memory (it is on no list any more). */
static void
stream_free(struct kb_stream *st)
{
	struct chunk	*ch;
	int		 i;

	stream_close_pg(st);
	/* Chunks still queued belong to Kore now; they free themselves. */
	while ((ch = TAILQ_FIRST(&st->queued)) != NULL) {
		TAILQ_REMOVE(&st->queued, ch, list);
		ch->st = NULL;
	}
	kore_free(st->cur);
	if (st->err != NULL)
		PQclear(st->err);
	for (i = 0; i < st->nparams; i++)
		kore_free(st->values[i]);
	kore_free(st->values);
	kore_free(st->sql);
	kore_free(st->ctype);
	kore_free(st->role);
	kore_free(st->claims);
	kore_free(st->head);
	kore_free(st->sep);
	kore_free(st->tail);
	kore_free(st);
}

/* The client connection, while it is there to write to. */
static struct connection *
stream_conn(struct kb_stream *st)
{
	struct connection	*c;

	c = st->ctx->req->owner;
	if (c == NULL || c->state != CONN_STATE_ESTABLISHED)
		return (NULL);
	return (c);
}

static void
stream_watch(struct kb_stream *st, int how)
{
	int		fd;

	if (st->pg == NULL || (fd = PQsocket(st->pg)) < 0)
		return;
	if (fd != st->fd)
		st->watching = 0;	/* a new socket (connecting) */
	st->fd = fd;
	if (how == st->watching)
		return;
	if (how == 0)
		kore_platform_disable_read(fd);
	else if (how == 1)
		kore_platform_event_level_read(fd, st);
	else
		kore_platform_event_level_all(fd, st);
	st->watching = how;
}

static void
stream_close_pg(struct kb_stream *st)
{
	if (st->pg != NULL) {
		/* PQfinish closes the socket, which leaves the epoll set. */
		PQfinish(st->pg);
		st->pg = NULL;
	}
	st->fd = -1;
	st->watching = 0;
}

static void
stream_tick(void *arg, u_int64_t now)
{
	struct kb_stream	*st, *next;

	(void)arg;
	for (st = TAILQ_FIRST(&streams); st != NULL; st = next) {
		next = TAILQ_NEXT(st, list);
		if (st->state == ST_CONNECTING &&
		    now - st->started > STREAM_CONNECT_MS)
			stream_fail(st, 1, "connection attempt timed out");
	}
}

static void
stream_event(void *arg, int error)
{
	struct kb_stream	*st = arg;

	st->evt.flags = 0;
	switch (st->state) {
	case ST_CONNECTING:
		stream_connect_poll(st);
		break;
	case ST_DONE:
		break;
	default:
		if (st->paused) {
			/* Woken to look at what libpq holds; read-only again. */
			st->paused = 0;
			stream_watch(st, 1);
		}
		if (PQflush(st->pg) == -1) {
			stream_fail(st, 1, PQerrorMessage(st->pg));
			break;
		}
		stream_read(st);
		if (error && st->state != ST_DONE && !st->paused)
			stream_fail(st, 1, "connection closed by the server");
		break;
	}
}

static void
stream_connect_poll(struct kb_stream *st)
{
	switch (PQconnectPoll(st->pg)) {
	case PGRES_POLLING_READING:
		stream_watch(st, 1);
		break;
	case PGRES_POLLING_WRITING:
		stream_watch(st, 2);
		break;
	case PGRES_POLLING_OK:
		stream_watch(st, 1);
		stream_prologue(st);
		break;
	default:
		stream_fail(st, 1, PQerrorMessage(st->pg));
		break;
	}
}

/*
 * One transaction, read only, as the caller's role: BEGIN and the
 * set_config calls go out as one simple query with the values quoted by
 * libpq for this connection.
 */
static void
stream_prologue(struct kb_stream *st)
{
	struct kore_buf	 buf;
	char		*role, *claims;
	int		 ok;

	kore_buf_init(&buf, 256);
	kore_buf_appendf(&buf, "BEGIN READ ONLY");
	if (st->role != NULL) {
		role = PQescapeLiteral(st->pg, st->role, strlen(st->role));
		claims = PQescapeLiteral(st->pg, st->claims,
		    strlen(st->claims));
		if (role == NULL || claims == NULL) {
			PQfreemem(role);
			PQfreemem(claims);
			kore_buf_cleanup(&buf);
			stream_fail(st, 0, PQerrorMessage(st->pg));
			return;
		}
		kore_buf_appendf(&buf, "; SELECT pg_catalog.set_config('role', "
		    "%s, true), pg_catalog.set_config('request.jwt.claims', "
		    "%s, true)", role, claims);
		PQfreemem(role);
		PQfreemem(claims);
	}
	ok = PQsendQuery(st->pg, kore_buf_stringify(&buf, NULL));
	kore_buf_cleanup(&buf);
	if (!ok) {
		stream_fail(st, 1, PQerrorMessage(st->pg));
		return;
	}
	st->state = ST_PROLOGUE;
	if (PQflush(st->pg) == 1)
		stream_watch(st, 2);
}

static void
stream_query(struct kb_stream *st)
{
	if (!PQsendQueryParams(st->pg, st->sql, st->nparams, NULL,
	    (const char *const *)st->values, NULL, NULL, 0)) {
		stream_fail(st, 1, PQerrorMessage(st->pg));
		return;
	}
	if (st->fmt != FMT_RAW && !PQsetSingleRowMode(st->pg)) {
		stream_fail(st, 0, "cannot enter single-row mode");
		return;
	}
	st->state = ST_QUERY;
	if (PQflush(st->pg) == 1)
		stream_watch(st, 2);
}

/* Take in what PostgreSQL sent, as far as the client keeps up. */
static void
stream_read(struct kb_stream *st)
{
	PGresult	*r;

	if (!PQconsumeInput(st->pg)) {
		stream_fail(st, 1, PQerrorMessage(st->pg));
		return;
	}
	while (st->state != ST_DONE && !st->paused) {
		if (st->state == ST_COPY) {
			if (!stream_copy(st))
				break;
			continue;
		}
		if (PQisBusy(st->pg))
			break;
		r = PQgetResult(st->pg);
		if (r == NULL) {
			if (st->state == ST_PROLOGUE) {
				if (st->err != NULL) {
					stream_fail(st,
					    sqlstate_unavailable(st->err), NULL);
					return;
				}
				stream_query(st);
				continue;
			}
			/* The query's results are over. */
			stream_finish(st);
			return;
		}
		stream_result(st, r);
	}
	if (st->state != ST_DONE && !st->paused && st->cur != NULL &&
	    st->cur->len > 0 && st->nqueued == 0)
		stream_emit(st);	/* the client is idle: send what we have */
}

static int
sqlstate_unavailable(const PGresult *r)
{
	const char	*s;

	s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	return (s != NULL && (strncmp(s, "57P", 3) == 0 ||
	    strncmp(s, "08", 2) == 0));
}

static void
stream_result(struct kb_stream *st, PGresult *r)
{
	ExecStatusType	 rs;

	rs = PQresultStatus(r);
	if (st->state == ST_PROLOGUE &&
	    (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)) {
		PQclear(r);
		return;
	}
	switch (rs) {
	case PGRES_TUPLES_OK:		/* the end of the rows */
	case PGRES_COMMAND_OK:		/* the end of a COPY */
	case PGRES_SINGLE_TUPLE:
		if (!st->headers && !stream_headers(st, r)) {
			PQclear(r);
			return;
		}
		st->state = ST_ROWS;
		if (rs == PGRES_SINGLE_TUPLE)
			stream_row(st, r);
		PQclear(r);
		return;
	case PGRES_COPY_OUT:
		if (!st->headers && !stream_headers(st, NULL)) {
			PQclear(r);
			return;
		}
		PQclear(r);
		st->state = ST_COPY;
		return;
	default:
		break;
	}

	/* A failure. */
	st->dbfail = 1;
	if (st->headers) {
		kb_log("warning", "export %s failed after %llu rows: %s",
		    st->ctx->request_id, (unsigned long long)st->rows,
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
		    PQresStatus(rs));
		PQclear(r);
		stream_fail(st, 1, NULL);
		return;
	}
	if (st->err == NULL)
		st->err = r;
	else
		PQclear(r);
	/* The prologue's failure is reported once its results are over. */
	if (st->state != ST_PROLOGUE)
		stream_fail(st, sqlstate_unavailable(st->err), NULL);
}

/*
 * Start the response: status, headers, and the format's opening (the
 * CSV header line comes from the first result's field names).
 */
static int
stream_headers(struct kb_stream *st, const PGresult *r)
{
	struct kb_ctx		*ctx = st->ctx;
	struct http_request	*req = ctx->req;
	struct connection	*c;
	const char		*name;
	int			 i;

	if ((c = stream_conn(st)) == NULL) {
		stream_fail(st, 0, "the client went away");
		return (0);
	}
	st->headers = 1;
	ctx->responded = 1;
	ctx->status = st->status;
	st->chunked = !(req->flags & HTTP_VERSION_1_0);
	req->flags |= HTTP_REQUEST_NO_CONTENT_LENGTH;
	c->flags |= CONN_IS_BUSY;
	kb_ctx_write_headers(ctx, st->ctype);
	if (st->chunked)
		http_response_header(req, "transfer-encoding", "chunked");
	http_response(req, st->status, NULL, 0);
	/* Kore closes once the queue is empty: only at the very end. */
	st->close_at_end = (c->flags & CONN_CLOSE_EMPTY) != 0;
	c->flags &= ~CONN_CLOSE_EMPTY;

	if (st->fmt == FMT_JSON)
		stream_put(st, "[", 1);
	if (st->fmt == FMT_TEXT)
		stream_put(st, st->head, strlen(st->head));
	if (st->fmt == FMT_CSV && r != NULL) {
		for (i = 0; i < PQnfields(r); i++) {
			if (i > 0)
				stream_put(st, ",", 1);
			name = PQfname(r, i);
			csv_field(st, name, strlen(name), 0);
		}
		stream_put(st, "\n", 1);
	}
	if (net_send_flush(c) == KORE_RESULT_ERROR) {
		kore_connection_disconnect(c);
		return (0);
	}
	return (1);
}

/* Append `s` as CSV, quoted when COPY (FORMAT csv) would quote it. */
static void
csv_field(struct kb_stream *st, const char *s, size_t len, int null)
{
	size_t		 i, start;

	if (null)
		return;
	if (len > 0 && strcspn(s, ",\"\r\n") == len &&
	    !(len == 2 && s[0] == '\\' && s[1] == '.')) {
		stream_put(st, s, len);
		return;
	}
	stream_put(st, "\"", 1);
	for (start = 0, i = 0; i < len; i++) {
		if (s[i] == '"') {
			stream_put(st, s + start, i - start + 1);
			stream_put(st, "\"", 1);
			start = i + 1;
		}
	}
	stream_put(st, s + start, len - start);
	stream_put(st, "\"", 1);
}

/* One row of a single-row result, in the stream's format. */
static void
stream_row(struct kb_stream *st, const PGresult *r)
{
	int		 j, nf;

	nf = PQnfields(r);
	switch (st->fmt) {
	case FMT_CSV:
		for (j = 0; j < nf; j++) {
			if (j > 0)
				stream_put(st, ",", 1);
			csv_field(st, PQgetvalue(r, 0, j),
			    (size_t)PQgetlength(r, 0, j),
			    PQgetisnull(r, 0, j));
		}
		stream_put(st, "\n", 1);
		break;
	case FMT_JSON:
		if (st->rows > 0)
			stream_put(st, ",", 1);
		stream_put(st, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
		break;
	case FMT_TEXT:
		if (st->rows > 0)
			stream_put(st, st->sep, strlen(st->sep));
		stream_put(st, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
		break;
	default:
		stream_put(st, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
		stream_put(st, "\n", 1);
		break;
	}
	st->rows++;
}

/* COPY data: 1 to go on, 0 to wait for more input. */
static int
stream_copy(struct kb_stream *st)
{
	char		*buf;
	int		 n;

	n = PQgetCopyData(st->pg, &buf, 1);
	if (n > 0) {
		stream_put(st, buf, (size_t)n);
		PQfreemem(buf);
		st->rows++;
		return (1);
	}
	if (n == 0)
		return (0);
	/* -1: done, the COPY's own result follows; -2: an error, likewise. */
	st->state = ST_ROWS;
	return (1);
}

/* Add payload; a full chunk goes to the client. */
static void
stream_put(struct kb_stream *st, const char *s, size_t len)
{
	size_t		n;

	while (len > 0) {
		if (st->cur == NULL) {
			st->cur = kore_malloc(sizeof(*st->cur));
			st->cur->st = st;
			st->cur->len = 0;
		}
		n = MIN(len, STREAM_CHUNK - st->cur->len);
		memcpy(st->cur->data + STREAM_HEAD + st->cur->len, s, n);
		st->cur->len += n;
		s += n;
		len -= n;
		if (st->cur->len == STREAM_CHUNK)
			stream_emit(st);
	}
}

/*
 * Hand the current chunk to Kore (framed for chunked encoding) and push
 * what the socket takes.  With STREAM_INFLIGHT chunks queued, pause: stop
 * reading from PostgreSQL until one is written.
 */
static void
stream_emit(struct kb_stream *st)
{
	struct chunk		*ch = st->cur;
	struct connection	*c;
	struct netbuf		*nb;
	char			 head[STREAM_HEAD];
	int			 n;
	size_t			 total;

	if (ch == NULL || ch->len == 0)
		return;
	st->cur = NULL;
	if ((c = stream_conn(st)) == NULL) {
		kore_free(ch);
		stream_fail(st, 0, "the client went away");
		return;
	}
	if (st->chunked) {
		n = snprintf(head, sizeof(head), "%zx\r\n", ch->len);
		ch->off = STREAM_HEAD - (size_t)n;
		memcpy(ch->data + ch->off, head, (size_t)n);
		memcpy(ch->data + STREAM_HEAD + ch->len, "\r\n", 2);
		total = (size_t)n + ch->len + 2;
	} else {
		ch->off = STREAM_HEAD;
		total = ch->len;
	}
	st->bytes += ch->len;
	TAILQ_INSERT_TAIL(&st->queued, ch, list);
	st->nqueued++;
	net_send_stream(c, ch->data + ch->off, total, stream_chunk_sent, &nb);
	nb->extra = ch;
	if (st->nqueued >= STREAM_INFLIGHT && !st->paused) {
		st->paused = 1;
		stream_watch(st, 0);
	}
	if (net_send_flush(c) == KORE_RESULT_ERROR)
		kore_connection_disconnect(c);
}

/*
 * Kore wrote a chunk (or drops it with its connection).  The stream may
 * be gone already; if it is paused, look at PostgreSQL again from the
 * event loop (not from inside Kore's send loop): watching for writes
 * fires at once, and stream_event goes back to reads.
 */
static int
stream_chunk_sent(struct netbuf *nb)
{
	struct chunk		*ch = nb->extra;
	struct kb_stream	*st;

	if ((st = ch->st) != NULL) {
		TAILQ_REMOVE(&st->queued, ch, list);
		st->nqueued--;
		if (st->paused && st->nqueued < STREAM_INFLIGHT &&
		    st->state != ST_DONE && stream_conn(st) != NULL)
			stream_watch(st, 2);
	}
	kore_free(ch);
	return (KORE_RESULT_OK);
}

/* The query is over: close the format, the last chunk, wake the request. */
static void
stream_finish(struct kb_stream *st)
{
	struct connection	*c;

	if (!st->headers) {
		/* No result at all (an empty statement): nothing to send. */
		if (!stream_headers(st, NULL))
			return;
	}
	if (st->fmt == FMT_JSON)
		stream_put(st, "]", 1);
	if (st->fmt == FMT_TEXT)
		stream_put(st, st->tail, strlen(st->tail));
	stream_emit(st);
	stream_close_pg(st);
	st->state = ST_DONE;
	st->complete = 1;
	if ((c = stream_conn(st)) != NULL) {
		if (st->chunked)
			net_send_queue(c, "0\r\n\r\n", 5);
		if (net_send_flush(c) == KORE_RESULT_ERROR)
			kore_connection_disconnect(c);
	}
	kb_ctx_wakeup(st->ctx);
}

/*
 * The stream failed.  Before the headers: answer (503 when the database
 * is unavailable, else the error callback or 500) and let the request
 * end the usual way.  After: close the client connection mid-body.
 */
static void
stream_fail(struct kb_stream *st, int unavailable, const char *why)
{
	struct kb_db_result	 r;
	struct kb_ctx		*ctx = st->ctx;
	struct connection	*c;
	const char		*s;

	if (st->state == ST_DONE)
		return;
	st->state = ST_DONE;
	stream_close_pg(st);
	if (unavailable) {
		st->dbfail = 1;
		if (st->headers)
			kb_log("warning", "export %s cut off after %llu rows: "
			    "%s", ctx->request_id, (unsigned long long)st->rows,
			    why ? why : "the database went away");
	}
	if (st->headers) {
		st->failed = 1;
		if ((c = stream_conn(st)) != NULL)
			kore_connection_disconnect(c);
		return;
	}
	if (stream_conn(st) == NULL) {
		/* Nobody to answer: the request is on its way out. */
		kb_ctx_wakeup(ctx);
		return;
	}

	memset(&r, 0, sizeof(r));
	r.res = st->err;
	r.unavailable = unavailable;
	r.sqlstate = r.detail = r.hint = "";
	r.message = why != NULL ? why : "the query failed";
	if (st->err != NULL) {
		if ((s = PQresultErrorField(st->err, PG_DIAG_SQLSTATE)) != NULL)
			r.sqlstate = s;
		if ((s = PQresultErrorField(st->err,
		    PG_DIAG_MESSAGE_PRIMARY)) != NULL)
			r.message = s;
		if ((s = PQresultErrorField(st->err,
		    PG_DIAG_MESSAGE_DETAIL)) != NULL)
			r.detail = s;
		if ((s = PQresultErrorField(st->err,
		    PG_DIAG_MESSAGE_HINT)) != NULL)
			r.hint = s;
	}
	if (!r.unavailable && st->on_error != NULL)
		st->on_error(ctx, &r, st->on_error_arg);
	if (!ctx->responded)
		kb_db_respond_failure(ctx, &r);
	kb_ctx_wakeup(ctx);
}
