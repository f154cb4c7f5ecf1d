/*
 * The asynchronous PostgreSQL pool.
 *
 * Each worker owns `kb_config.db_pool` libpq connections in non-blocking,
 * pipeline mode, driven by Kore's event loop: a worker never waits on the
 * database.  Every query is sent as [Parse] + Bind/Execute + Sync, so many
 * requests share one connection without waiting for each other, each in
 * its own implicit transaction (an error aborts only its own query).
 * Statements are prepared lazily, once per connection.
 *
 * A transaction group (kb_db_run) is several steps sent back to back in
 * one implicit transaction: `set_config(..., true)` in the first step
 * governs the rest.  A group that writes is closed by a Sync of its own,
 * so nothing else shares its transaction.  A read-only group whose first
 * step sets the caller (kb_db_step_caller) joins the connection's batch
 * of reads instead (see conn_send).  Steps are prepared statements or
 * dynamic SQL, which goes out unnamed (PQsendQueryParams).
 *
 * When a connection dies (PostgreSQL restarted, network gone) its queries
 * fail with `unavailable` -- read-only ones are retried once elsewhere --
 * and the connection is re-established in the background with backoff.
 * While no connection is usable, queries wait briefly for one and then
 * fail, so callers answer 503 instead of hanging.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <openssl/rand.h>

#include "kb_server.h"
#include "kb_server_int.h"
#include "kb_arena.h"

#define DB_EVENT_TYPE		100
#define DB_MAX_INFLIGHT		128	/* queries per connection */
#define DB_RING			(DB_MAX_INFLIGHT * 3 + DB_MAX_STEPS * 2 + 2)
#define DB_WAIT_MS		1000	/* for a connection to come up */
#define DB_CONNECT_TIMEOUT_MS	5000
#define DB_BACKOFF_MIN_MS	100
#define DB_BACKOFF_MAX_MS	2000
#define DB_TICK_MS		100
#define DB_MAX_STMTS		1024
#define DB_BATCH_MAX		64	/* read-only queries per Sync */
#define DB_MAX_ABORTS		3	/* re-sends after a batch aborted */
#define DB_MAX_RECHECKS		3	/* re-sends after a caller changed */
#define DB_MAX_NULLS		8	/* NULLs in a row: libpq has no more */
#define DB_PING_MS		1000	/* ping an idle database this often */
#define DB_MAX_STEPS		32	/* steps in one transaction group */
#define DB_MAX_LISTEN		8	/* channels LISTENed to */
#define DB_HEALTH_MS		3000	/* least time a ping may take */
#define PREP_SENT		1	/* db_conn.prepared[] */
#define PREP_DONE		2

enum conn_state {
	CONN_DOWN = 0,
	CONN_CONNECTING,
	CONN_READY
};

enum expect_kind {
	EXPECT_PREPARE = 0,
	EXPECT_QUERY,
	EXPECT_SYNC
};

/* One statement of a query: a prepared one, or dynamic SQL. */
struct db_step {
	struct kb_stmt		*stmt;		/* NULL: sql */
	struct kb_stmt		*unchecked;	/* kb_db_step.unchecked */
	char			*sql;
	int			 nparams;
	char			**values;
	struct kb_stmt		*batch;		/* kb_db_step.batch_sql */
};

struct kb_db_query {
	struct kb_ctx			*ctx;	/* NULL: the client went away */
	struct db_step			*steps;
	int				 nsteps;
	struct db_step			 one;	/* steps of kb_db_query */
	int				 group;	/* kb_db_run */
	int				 readonly;	/* every step */
	int				 caller;	/* steps[0].caller */
	int				 check;		/* steps[0] checks */
	int				 prepended;	/* ... added here */
	int				 parked;	/* for kb_auth_recheck */
	int				 rechecks;
	int				 result_step;	/* whose result cb gets */
	kb_db_cb			 cb;
	kb_db_icb			 icb;	/* internal: no request */
	void				*arg;
	PGresult			*res;	/* result_step's result */
	PGresult			*err;	/* the first failure */
	int				 errstep;
	int				 retried;
	int				 aborts;	/* batch aborted, re-sent */
	u_int64_t			 deadline;	/* while waiting */
	int				 waiting;
	TAILQ_ENTRY(kb_db_query)	 clist;		/* ctx->queries */
	TAILQ_ENTRY(kb_db_query)	 wlist;		/* pool wait queue */
};

struct expect {
	enum expect_kind	 kind;
	int			 got;		/* a result arrived */
	int			 step;
	int			 stmt;		/* EXPECT_PREPARE: its id */
	struct kb_db_query	*q;
	/* A coalesced statement: the queries it answers, q first. */
	struct kb_db_query	**members;
	int			 nmembers;
};

struct db_conn {
	struct kore_event	 evt;		/* must be first */
	PGconn			*pg;
	int			 fd;
	int			 writing;	/* registered for EPOLLOUT */
	enum conn_state		 state;
	u_int64_t		 since;		/* state entered */
	u_int64_t		 retry_at;
	u_int64_t		 backoff;
	u_int64_t		 ping_at;	/* a ping is out since, or 0 */
	int			 inflight;	/* queries sent, not done */
	int			 unsynced;	/* read-only, awaiting Sync */
	int			 role_set;	/* a group set the batch's role */
	int			 read_due;	/* a read waits for the Sync */
	char			 epoch[24];	/* the batch checked this epoch */
	/* The caller step the batch ran last: statement, role, claims. */
	struct kb_stmt		*last_stmt;
	char			 last_role[32];
	char			 last_claims[1024];
	int			 listening;	/* carries the LISTENs */
	/*
	 * Reads by id waiting to go out as one statement (coal_flush): the
	 * same statement and values but the key, the same caller, one after
	 * the other in the open batch.
	 */
	struct kb_db_query	*coal[DB_BATCH_MAX];
	int			 ncoal;
	struct expect		 ring[DB_RING];
	size_t			 head;
	size_t			 count;
	/*
	 * Per statement: 0 not prepared, PREP_SENT its Parse is out (in
	 * batch parse_batch[id]), PREP_DONE confirmed.  Batches are counted
	 * by their Syncs.
	 */
	u_int8_t		 prepared[DB_MAX_STMTS];
	u_int32_t		 parse_batch[DB_MAX_STMTS];
	u_int32_t		 batchno;
};

static void	conn_event(void *, int);
static void	conn_connect(struct db_conn *);
static void	conn_notice(void *, const char *);
static void	conn_connect_poll(struct db_conn *);
static void	conn_fail(struct db_conn *, const char *);
static void	conn_read(struct db_conn *);
static void	conn_flush(struct db_conn *);
static int	conn_send(struct db_conn *, struct kb_db_query *);
static int	send_prepared(struct db_conn *, struct kb_db_query *, int, int,
		    const char *, int, char **);
static int	conn_sync(struct db_conn *);
static int	coal_flush(struct db_conn *);
static int	coal_joins(const struct db_conn *, const struct kb_db_query *);
static void	coal_results(struct expect *, PGresult *);
static void	query_ended(struct db_conn *, struct kb_db_query *);
static void	query_lost(struct kb_db_query *);
static void	batch_reset(struct db_conn *);
static int	batch_vouches(const struct db_conn *,
		    const struct kb_db_query *);
static int	batch_same_caller(struct db_conn *, const struct kb_db_query *,
		    int);
static void	conn_watch(struct db_conn *, int);
static void	query_complete(struct kb_db_query *, int, const char *);
static void	query_free(struct kb_db_query *);
static void	query_reset(struct kb_db_query *);
static void	query_dispatch(struct kb_db_query *);
static void	db_run(struct kb_ctx *, const struct kb_db_step *, int,
		    kb_db_cb, void *, int);
static void	query_park(struct kb_db_query *);
static void	query_rechecked(struct kb_ctx *, int, void *);
static void	pool_tick(void *, u_int64_t);
static void	pool_kick(void);
static void	pool_kicked(void *, u_int64_t);
static void	pool_drain(void);
static struct db_conn	*pool_pick(int, const struct kb_db_query *);
static int	batch_joins(const struct db_conn *,
		    const struct kb_db_query *);
static int	batch_keeps(const struct kb_db_query *);
static int	query_need(const struct kb_db_query *);
static u_int64_t	 db_hang_ms(void);

static struct db_conn		*pool;
static u_int64_t		 last_ok;	/* a query succeeded */
static u_int64_t		 last_ping;
static struct kb_stmt		 ping_stmt = KB_STMT_RO("SELECT 1");
static int			 pool_size;
static int			 stmt_next = 1;
static TAILQ_HEAD(, kb_db_query) waitq = TAILQ_HEAD_INITIALIZER(waitq);

/*
 * LISTEN: one connection of the pool carries every channel.  When it is
 * lost, the next ready connection takes over and each channel's callback
 * runs with payload NULL once the LISTEN is back, since notifications
 * may have been missed meanwhile.
 */
struct db_listen {
	char			*channel;
	struct kb_stmt		 stmt;
	void			(*fn)(const char *, void *);
	void			*arg;
};

static struct db_listen		 listens[DB_MAX_LISTEN];
static int			 nlistens;
static struct db_conn		*listener;	/* NULL: none yet */

static void	listen_start(void);
static void	listen_done(struct kb_db_result *, void *);
static void	listen_notifies(struct db_conn *);

void
kb_db_init(void)
{
	int		i;

	pool_size = kb_config.db_pool;
	pool = kore_calloc(pool_size, sizeof(*pool));
	for (i = 0; i < pool_size; i++) {
		pool[i].evt.type = DB_EVENT_TYPE;
		pool[i].evt.handle = conn_event;
		pool[i].fd = -1;
		conn_connect(&pool[i]);
	}
	kore_timer_add(pool_tick, DB_TICK_MS, NULL, 0);
}

void
kb_db_shutdown(void)
{
	int		i;

	for (i = 0; i < pool_size; i++) {
		if (pool[i].pg != NULL)
			conn_fail(&pool[i], "server shutting down");
	}
}

int
kb_db_available(void)
{
	int		i;

	for (i = 0; i < pool_size; i++) {
		if (pool[i].state == CONN_READY)
			return (1);
	}
	return (0);
}

/* How long a ping may go unanswered before the connection counts as hung. */
static u_int64_t
db_hang_ms(void)
{
	return ((u_int64_t)MAX(DB_HEALTH_MS, kb_config.db_timeout_ms + 1000));
}

int
kb_db_healthy(void)
{
	u_int64_t	now = kore_time_ms();
	int		i;

	/*
	 * Up while a connection is ready and not sitting on an unanswered
	 * ping.  A database that is merely slow (a saturated machine can
	 * leave a backend unscheduled for a second or two) is not down; one
	 * that leaves a ping unanswered past the hang limit is, and
	 * pool_tick drops that connection.
	 */
	for (i = 0; i < pool_size; i++) {
		if (pool[i].state == CONN_READY && (pool[i].ping_at == 0 ||
		    now - pool[i].ping_at <= db_hang_ms()))
			return (1);
	}
	return (0);
}

/* A statement's number on every connection, given at its first use. */
static int
stmt_id(struct kb_stmt *stmt)
{
	if (stmt->id == 0) {
		if (stmt_next >= DB_MAX_STMTS)
			fatal("kb_db_query: more than %d statements",
			    DB_MAX_STMTS);
		stmt->id = stmt_next++;
	}
	return (stmt->id);
}

static void
step_set(struct db_step *st, struct kb_stmt *stmt, const char *sql,
    int nparams, const char *const *values)
{
	int		i;

	if (stmt != NULL)
		(void)stmt_id(stmt);
	st->stmt = stmt;
	st->sql = (stmt == NULL) ? kore_strdup(sql) : NULL;
	st->nparams = nparams;
	if (nparams > 0) {
		st->values = kore_calloc(nparams, sizeof(char *));
		for (i = 0; i < nparams; i++) {
			if (values[i] != NULL)
				st->values[i] = kore_strdup(values[i]);
		}
	}
}

/*
 * The statement cache for dynamic SQL a caller marks `cache` (the Tables
 * API: the same query shape gives the same text, its values are
 * parameters).  A cached text becomes a kb_stmt of its own, prepared
 * lazily on each connection like the static ones, so PostgreSQL parses
 * and plans it once per connection instead of on every request.  At most
 * DB_CACHE_MAX texts per worker: past that, new texts go out unnamed as
 * before, so no input can grow it without bound.
 */
#define DB_CACHE_MAX		512
#define DB_CACHE_SLOTS		1024		/* open addressing, 2x */

struct db_cached {
	char		*sql;
	size_t		 len;
	uint32_t	 hash;
	struct kb_stmt	 stmt;
	/*
	 * Its statement for many keys (kb_db_step.batch_sql), once looked
	 * up: a function of this text, so hashed once, not per request.
	 */
	struct kb_stmt	*batch;
};

static struct db_cached	*cache_slots[DB_CACHE_SLOTS];
static int		 cache_count;

static struct kb_stmt *
stmt_cached(const char *sql, int readonly)
{
	static uint64_t		 seed;
	struct db_cached	*e;
	uint64_t		 h, w;
	size_t			 i, len;

	/*
	 * Eight bytes a step, from a per-worker random seed: the texts come
	 * from requests, and a fixed hash would let crafted ones collide.
	 */
	if (seed == 0 && RAND_bytes((unsigned char *)&seed,
	    sizeof(seed)) != 1)
		fatal("stmt_cached: no randomness");
	len = strlen(sql);
	h = seed ^ (len * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)readonly;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, sql + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, sql + i, len - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	for (i = h % DB_CACHE_SLOTS;; i = (i + 1) % DB_CACHE_SLOTS) {
		if ((e = cache_slots[i]) == NULL)
			break;
		if (e->hash == (uint32_t)h && e->len == len &&
		    e->stmt.readonly == readonly &&
		    memcmp(e->sql, sql, len) == 0)
			return (&e->stmt);
	}
	if (cache_count >= DB_CACHE_MAX || stmt_next >= DB_MAX_STMTS)
		return (NULL);
	e = kore_calloc(1, sizeof(*e));
	e->sql = kore_strdup(sql);
	e->len = len;
	e->hash = (uint32_t)h;
	e->stmt.sql = e->sql;
	e->stmt.readonly = readonly;
	cache_slots[i] = e;
	cache_count++;
	return (&e->stmt);
}

/* The statement for many keys of cached statement `stmt`, or NULL. */
static struct kb_stmt *
stmt_batch(struct kb_stmt *stmt, const char *batch_sql)
{
	struct db_cached	*e;

	e = (struct db_cached *)((char *)stmt -
	    offsetof(struct db_cached, stmt));
	if (e->batch == NULL &&
	    (e->batch = stmt_cached(batch_sql, 1)) != NULL)
		(void)stmt_id(e->batch);
	return (e->batch);
}

static struct kb_db_query *
query_new(struct kb_ctx *ctx, struct kb_stmt *stmt, int nparams,
    const char *const *values, kb_db_cb cb, void *arg)
{
	struct kb_db_query	*q;

	q = kore_calloc(1, sizeof(*q));
	q->ctx = ctx;
	q->cb = cb;
	q->arg = arg;
	q->steps = &q->one;
	q->nsteps = 1;
	q->readonly = stmt->readonly;
	step_set(&q->one, stmt, NULL, nparams, values);
	return (q);
}

void
kb_db_query(struct kb_ctx *ctx, struct kb_stmt *stmt, int nparams,
    const char *const *values, kb_db_cb cb, void *arg)
{
	struct kb_db_query	*q;
	struct kb_db_step	 step;

	if (ctx->cred_unverified) {
		/* kb_db_run puts the caller's check in front. */
		memset(&step, 0, sizeof(step));
		step.stmt = stmt;
		step.nparams = nparams;
		step.values = values;
		db_run(ctx, &step, 1, cb, arg, 0);
		return;
	}
	q = query_new(ctx, stmt, nparams, values, cb, arg);
	TAILQ_INSERT_TAIL(&ctx->queries, q, clist);
	query_dispatch(q);
}

void
kb_db_run(struct kb_ctx *ctx, const struct kb_db_step *steps, int nsteps,
    kb_db_cb cb, void *arg)
{
	db_run(ctx, steps, nsteps, cb, arg, 1);
}

/* A group (kb_db_run), or a statement of kb_db_query with a check. */
static void
db_run(struct kb_ctx *ctx, const struct kb_db_step *steps, int nsteps,
    kb_db_cb cb, void *arg, int group)
{
	struct kb_db_query	*q;
	struct kb_db_step	 check;
	int			 i, first;

	if (nsteps < 1 || nsteps > DB_MAX_STEPS)
		fatal("kb_db_run: %d steps (1 to %d)", nsteps, DB_MAX_STEPS);

	q = kore_calloc(1, sizeof(*q));
	q->ctx = ctx;
	q->cb = cb;
	q->arg = arg;
	q->group = group;
	q->readonly = 1;
	q->caller = steps[0].caller;
	q->check = steps[0].check;
	/*
	 * A caller from the credential cache is checked by the first
	 * statement the request runs: kb_db_step_caller* carries the check,
	 * and anything else gets it as a step in front.
	 */
	first = 0;
	if (!q->check && ctx != NULL && ctx->cred_unverified) {
		q->check = q->prepended = 1;
		first = 1;
	}
	q->nsteps = nsteps + first;
	q->steps = kore_calloc(q->nsteps, sizeof(*q->steps));
	if (first) {
		kb_db_step_check(ctx, &check);
		step_set(&q->steps[0], check.stmt, NULL, check.nparams,
		    check.values);
	}
	for (i = 0; i < nsteps; i++) {
		struct kb_stmt	*stmt = steps[i].stmt;

		if (stmt == NULL && steps[i].sql == NULL)
			fatal("kb_db_run: step %d has no statement", i);
		if (stmt == NULL && steps[i].cache)
			stmt = stmt_cached(steps[i].sql, steps[i].readonly);
		step_set(&q->steps[i + first], stmt, steps[i].sql,
		    steps[i].nparams, steps[i].values);
		q->steps[i + first].unchecked = steps[i].unchecked;
		if (steps[i].batch_sql != NULL && stmt != NULL &&
		    steps[i].stmt == NULL && steps[i].nparams > 0 &&
		    steps[i].values[0] != NULL)
			q->steps[i + first].batch = stmt_batch(stmt,
			    steps[i].batch_sql);
		if (steps[i].stmt != NULL ? !steps[i].stmt->readonly :
		    !steps[i].readonly)
			q->readonly = 0;
	}
	q->result_step = q->nsteps - 1;
	TAILQ_INSERT_TAIL(&ctx->queries, q, clist);
	query_dispatch(q);
}

/*
 * A query of the server's own, outside any request: `icb` always runs,
 * with `unavailable` set if the database could not be reached in time.
 * Read-only statements are retried once after a lost connection.
 */
void
kb_db_query_internal(struct kb_stmt *stmt, int nparams,
    const char *const *values, kb_db_icb icb, void *arg)
{
	struct kb_db_query	*q;

	q = query_new(NULL, stmt, nparams, values, NULL, arg);
	q->icb = icb;
	query_dispatch(q);
}

/*
 * LISTEN on `channel` (at most DB_MAX_LISTEN, for the worker's life):
 * `fn(payload, arg)` runs on the event loop for every notification, and
 * with payload NULL each time the LISTEN is (re-)established.
 */
void
kb_db_listen(const char *channel, void (*fn)(const char *, void *),
    void *arg)
{
	struct db_listen	*l;
	char			 sql[128];

	if (nlistens == DB_MAX_LISTEN)
		fatal("kb_db_listen: more than %d channels", DB_MAX_LISTEN);
	l = &listens[nlistens++];
	l->channel = kore_strdup(channel);
	(void)snprintf(sql, sizeof(sql), "LISTEN \"%s\"", channel);
	l->stmt.sql = kore_strdup(sql);
	l->fn = fn;
	l->arg = arg;
	if (listener != NULL)
		kb_db_query_internal(&l->stmt, 0, NULL, listen_done, l);
	else
		listen_start();
}

/* Make a ready connection the listener and LISTEN on every channel. */
static void
listen_start(void)
{
	struct db_conn	*c;
	int		 i;

	if (nlistens == 0 || listener != NULL || (c = pool_pick(
	    (nlistens + 1) * 4, NULL)) == NULL)
		return;
	listener = c;
	c->listening = 1;
	for (i = 0; i < nlistens; i++) {
		struct kb_db_query	*q;

		/* A failed send made another connection the listener. */
		if (c->state != CONN_READY || listener != c)
			return;
		q = query_new(NULL, &listens[i].stmt, 0, NULL, NULL,
		    &listens[i]);
		q->icb = listen_done;
		/* On this very connection: nowhere else would do. */
		if (!conn_send(c, q)) {
			query_free(q);
			return;
		}
	}
}

static void
listen_done(struct kb_db_result *r, void *arg)
{
	struct db_listen	*l = arg;

	if (!r->ok) {
		if (!r->unavailable)
			kb_log("warning", "LISTEN %s failed: %s", l->channel,
			    r->message);
		return;		/* the listener was lost: listen_start again */
	}
	l->fn(NULL, l->arg);
}

/* Hand every notification libpq has parsed to its channel's callback. */
static void
listen_notifies(struct db_conn *c)
{
	PGnotify	*n;
	int		 i;

	while ((n = PQnotifies(c->pg)) != NULL) {
		for (i = 0; i < nlistens; i++) {
			if (strcmp(n->relname, listens[i].channel) == 0)
				listens[i].fn(n->extra, listens[i].arg);
		}
		PQfreemem(n);
	}
}

int
kb_db_pending(struct kb_ctx *ctx)
{
	return (!TAILQ_EMPTY(&ctx->queries));
}

/*
 * The request is going away: its queries must not call back into it.
 * Queries already sent stay in their connection's pipeline (their results
 * must still be read) and are freed when they complete.
 */
void
kb_db_detach(struct kb_ctx *ctx)
{
	struct kb_db_query	*q;

	while ((q = TAILQ_FIRST(&ctx->queries)) != NULL) {
		TAILQ_REMOVE(&ctx->queries, q, clist);
		q->ctx = NULL;
		if (q->waiting)
			TAILQ_REMOVE(&waitq, q, wlist);
		if (q->waiting || q->parked)
			query_free(q);
	}
}

void
kb_db_respond_failure(struct kb_ctx *ctx, struct kb_db_result *r)
{
	if (r->unavailable) {
		kb_header_set(ctx, "Retry-After", "1");
		kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
		    "the database is unavailable, try again shortly");
		return;
	}
	kb_log("error", "query failed: request %s: %s (%s)",
	    kb_ctx_request_id(ctx), r->message, r->sqlstate);
	kb_respond_error(ctx, 500, "INTERNAL", "the query failed");
}

/* Send `q` now if a connection can take it, else let it wait. */
static void
query_dispatch(struct kb_db_query *q)
{
	struct db_conn		*c;

	if ((c = pool_pick(query_need(q), q)) != NULL && conn_send(c, q))
		return;

	if (q->retried && !kb_db_available()) {
		query_complete(q, 1, "the database is unavailable");
		return;
	}
	q->waiting = 1;
	q->deadline = kore_time_ms() + DB_WAIT_MS;
	TAILQ_INSERT_TAIL(&waitq, q, wlist);
}

/* Ring entries a query may need: Sync of an open batch, steps, Sync. */
static int
query_need(const struct kb_db_query *q)
{
	return (q->nsteps * 2 + 2);
}

/*
 * The connection for `q` (NULL: a statement of our own): one whose open
 * batch of reads it can join, so that the requests of one turn of the
 * event loop share one batch, one send and one wake-up of the backend;
 * else the ready connection with the fewest queries in flight.  Either
 * must have room for `need` more ring entries.
 */
static struct db_conn *
pool_pick(int need, const struct kb_db_query *q)
{
	struct db_conn	*best;
	int		 i;

	best = NULL;
	for (i = 0; i < pool_size; i++) {
		if (pool[i].state != CONN_READY ||
		    pool[i].inflight >= DB_MAX_INFLIGHT ||
		    DB_RING - pool[i].count < (size_t)need)
			continue;
		if (q != NULL && batch_joins(&pool[i], q))
			return (&pool[i]);
		if (best == NULL || pool[i].inflight < best->inflight)
			best = &pool[i];
	}
	return (best);
}

static void
pool_drain(void)
{
	struct kb_db_query	*q;
	struct db_conn		*c;

	while ((q = TAILQ_FIRST(&waitq)) != NULL) {
		if ((c = pool_pick(query_need(q), q)) == NULL)
			return;
		TAILQ_REMOVE(&waitq, q, wlist);
		q->waiting = 0;
		if (!conn_send(c, q)) {
			q->waiting = 1;
			TAILQ_INSERT_HEAD(&waitq, q, wlist);
			return;
		}
	}
}

/*
 * Close the open batches of reads on the next turn of the event loop,
 * after every request that is ready now has had its turn to join them: a
 * timer that is due at once (Kore runs timers right after the events it
 * waited for, and waits no longer while one is due).  No epoll_ctl per
 * batch, as watching for EPOLLOUT would take.
 */
static struct kore_timer	*kick;

static void
pool_kick(void)
{
	if (kick == NULL)
		kick = kore_timer_add(pool_kicked, 0, NULL, KORE_TIMER_ONESHOT);
}

static void
pool_kicked(void *arg, u_int64_t now)
{
	int		i;

	(void)arg;
	(void)now;
	kick = NULL;
	for (i = 0; i < pool_size; i++) {
		if (pool[i].state == CONN_READY && pool[i].unsynced > 0)
			(void)conn_sync(&pool[i]);
		if (pool[i].state == CONN_READY && pool[i].read_due) {
			pool[i].read_due = 0;
			conn_read(&pool[i]);
		}
	}
}

static void
pool_tick(void *arg, u_int64_t now)
{
	struct kb_db_query	*q, *next;
	struct db_conn		*c;
	int			 i, connecting;

	(void)arg;
	connecting = 0;
	for (i = 0; i < pool_size; i++) {
		c = &pool[i];
		if (c->state == CONN_DOWN && now >= c->retry_at)
			conn_connect(c);
		if (c->state == CONN_CONNECTING) {
			if (now - c->since > DB_CONNECT_TIMEOUT_MS)
				conn_fail(c, "connection attempt timed out");
			else
				connecting = 1;
		}
	}

	if (listener == NULL)
		listen_start();

	/* A safety net: finish anything libpq has buffered but not handed. */
	for (i = 0; i < pool_size; i++) {
		if (pool[i].state == CONN_READY && pool[i].count > 0)
			conn_read(&pool[i]);
	}

	/*
	 * A connection that leaves a ping unanswered for longer than any
	 * statement may run is hung (a dead peer, a network partition):
	 * drop it and reconnect rather than wait for TCP to notice.
	 */
	for (i = 0; i < pool_size; i++) {
		c = &pool[i];
		if (c->state == CONN_READY && c->ping_at != 0 &&
		    now - c->ping_at > db_hang_ms())
			conn_fail(c, "no answer to a ping");
	}

	/* Keep kb_db_healthy() fresh when there is no traffic. */
	if (now - last_ok >= DB_PING_MS && now - last_ping >= DB_PING_MS &&
	    (c = pool_pick(4, NULL)) != NULL) {
		last_ping = now;
		q = query_new(NULL, &ping_stmt, 0, NULL, NULL, NULL);
		if (conn_send(c, q)) {
			if (c->state == CONN_READY && c->ping_at == 0)
				c->ping_at = now;
		} else {
			query_free(q);
		}
	}

	for (q = TAILQ_FIRST(&waitq); q != NULL; q = next) {
		next = TAILQ_NEXT(q, wlist);
		if (now < q->deadline && (connecting || kb_db_available()))
			continue;
		TAILQ_REMOVE(&waitq, q, wlist);
		q->waiting = 0;
		query_complete(q, 1, "the database is unavailable");
	}
}

static void
conn_connect(struct db_conn *c)
{
	static const char *const keys[] = {
		"dbname", "application_name", "options", NULL
	};
	const char	*vals[4];
	char		 opts[64];

	/*
	 * No JIT: the pool runs short statements, prepared and executed
	 * again and again, and JIT compiles at every execution of a plan
	 * whose estimate passes jit_above_cost (~170 ms for the gate's
	 * resolver before its estimate was fixed).  Exports, on connections
	 * of their own (kb_stream.c), keep the server's setting.
	 */
	(void)snprintf(opts, sizeof(opts), "-c statement_timeout=%d -c jit=off",
	    kb_config.db_timeout_ms);
	vals[0] = kb_config.database_url;
	vals[1] = "korebase";
	vals[2] = opts;
	vals[3] = NULL;

	c->pg = PQconnectStartParams(keys, vals, 1);
	c->state = CONN_CONNECTING;
	c->since = kore_time_ms();
	c->count = 0;
	c->head = 0;
	c->inflight = 0;
	batch_reset(c);
	memset(c->prepared, 0, sizeof(c->prepared));
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_fail(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	if (PQsetnonblocking(c->pg, 1) == -1) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	/*
	 * NOTICEs and WARNINGs that statements raise (RAISE NOTICE in an RPC
	 * call) would go to stderr, raw, between the JSON log lines: drop
	 * them.  Background RPC calls capture theirs (handlers/rpc.c).
	 */
	PQsetNoticeProcessor(c->pg, conn_notice, NULL);
	c->fd = -1;
	conn_connect_poll(c);
}

static void
conn_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Register the socket for reads, and for writes while `want_write`. */
static void
conn_watch(struct db_conn *c, int want_write)
{
	int		fd;

	fd = PQsocket(c->pg);
	if (fd < 0)
		return;
	if (fd == c->fd && want_write == c->writing)
		return;
	c->fd = fd;
	c->writing = want_write;
	if (want_write)
		kore_platform_event_level_all(fd, c);
	else
		kore_platform_event_level_read(fd, c);
}

static void
conn_connect_poll(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_watch(c, 0);
		break;
	case PGRES_POLLING_WRITING:
		conn_watch(c, 1);
		break;
	case PGRES_POLLING_OK:
		if (!PQenterPipelineMode(c->pg)) {
			conn_fail(c, PQerrorMessage(c->pg));
			return;
		}
		c->state = CONN_READY;
		c->read_due = 0;
		c->since = kore_time_ms();
		c->backoff = 0;
		last_ok = c->since;
		conn_watch(c, 0);
		kb_log("info", "database connection ready (%d of %d)",
		    (int)(c - pool) + 1, pool_size);
		listen_start();
		pool_drain();
		break;
	default:
		conn_fail(c, PQerrorMessage(c->pg));
		break;
	}
}

/*
 * Tear the connection down: every query it carried either moves to
 * another connection (read-only, first failure) or fails as unavailable.
 */
static void
conn_fail(struct db_conn *c, const char *why)
{
	struct expect		*e;
	char			 msg[256];
	size_t			 i;
	int			 n;

	(void)snprintf(msg, sizeof(msg), "%s", why ? why : "unknown error");
	msg[strcspn(msg, "\n")] = '\0';
	if (c->state == CONN_READY || c->backoff == 0)
		kb_log("warning", "database connection %d lost: %s",
		    (int)(c - pool) + 1, msg);

	if (c->pg != NULL) {
		/* PQfinish closes the socket, which leaves the epoll set. */
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->fd = -1;
	c->writing = 0;
	c->ping_at = 0;
	c->state = CONN_DOWN;
	if (c->listening) {
		c->listening = 0;
		listener = NULL;
	}
	c->backoff = c->backoff == 0 ? DB_BACKOFF_MIN_MS :
	    MIN(c->backoff * 2, DB_BACKOFF_MAX_MS);
	c->retry_at = kore_time_ms() + c->backoff;

	for (i = 0; i < c->count; i++) {
		e = &c->ring[(c->head + i) % DB_RING];
		/* A query's last step stands for the whole query. */
		if (e->kind != EXPECT_QUERY || e->step != e->q->nsteps - 1)
			continue;
		if (e->members != NULL) {
			for (n = 0; n < e->nmembers; n++)
				query_lost(e->members[n]);
			kore_free(e->members);
			e->members = NULL;
		} else {
			query_lost(e->q);
		}
	}
	/* Reads by id that were still to go out. */
	for (n = 0; n < c->ncoal; n++)
		query_lost(c->coal[n]);
	c->ncoal = 0;
	c->count = 0;
	c->head = 0;
	c->inflight = 0;
	batch_reset(c);
	listen_start();
}

/* A query whose connection was lost: a read goes again, once. */
static void
query_lost(struct kb_db_query *q)
{
	if ((q->ctx != NULL || q->icb != NULL) && q->readonly &&
	    !q->retried && q->icb != listen_done) {
		query_reset(q);
		q->retried = 1;
		query_dispatch(q);
	} else {
		query_complete(q, 1, "the database connection was lost");
	}
}

static int
ring_push(struct db_conn *c, enum expect_kind kind, struct kb_db_query *q,
    int step)
{
	struct expect	*e;

	assert(c->count < DB_RING);
	e = &c->ring[(c->head + c->count) % DB_RING];
	e->kind = kind;
	e->got = 0;
	e->step = step;
	e->q = q;
	e->members = NULL;
	e->nmembers = 0;
	c->count++;
	return (1);
}

/*
 * Coalesced reads by id.  Reads of one table by id, by the same caller,
 * that follow one another in a batch differ only in their key (values[0]
 * of their statement; the tables planner gives the statement for many
 * keys, kb_db_step.batch_sql).  They go out as that one statement, with
 * the array of their keys, and each gets its own row back as a one-row
 * result of its own, as if it had run alone: PostgreSQL parses, binds
 * and executes once for all of them.  They run in the same transaction,
 * role and claims as they would have one after the other.  If the
 * statement fails (a key that is not of the key's type), each is sent
 * again alone, so each gets its own answer.
 */
static u_int8_t	batch_broken[DB_MAX_STMTS];
static u_int64_t	coal_stmts, coal_reads;

void
kb_db_coalesced(u_int64_t *stmts, u_int64_t *reads)
{
	*stmts = coal_stmts;
	*reads = coal_reads;
}

static int
coalescible(const struct kb_db_query *q)
{
	return (q->nsteps == 2 && q->steps[1].batch != NULL &&
	    q->steps[1].stmt != NULL && !batch_broken[q->steps[1].batch->id] &&
	    batch_keeps(q) && q->group && q->caller == KB_STEP_CALLER &&
	    !q->prepended);
}

/* Whether `q` starts a run of reads by id on `c` (it stays in the batch). */
static int
coal_opens(const struct db_conn *c, const struct kb_db_query *q)
{
	return (coalescible(q) && c->unsynced < DB_BATCH_MAX);
}

/* Whether `q`, with the same caller as the run, joins it. */
static int
coal_joins(const struct db_conn *c, const struct kb_db_query *q)
{
	const struct db_step	*a = &c->coal[0]->steps[1], *b;
	int			 i;

	if (!coal_opens(c, q) || c->ncoal >= DB_BATCH_MAX)
		return (0);
	b = &q->steps[1];
	if (b->batch != a->batch || b->nparams != a->nparams)
		return (0);
	for (i = 1; i < b->nparams; i++) {
		if (a->values[i] == NULL || b->values[i] == NULL ?
		    a->values[i] != b->values[i] :
		    strcmp(a->values[i], b->values[i]) != 0)
			return (0);
	}
	return (1);
}

/* Send the run of reads by id: alone, or as the statement for all keys. */
static int
coal_flush(struct db_conn *c)
{
	struct kb_db_query	*q = c->coal[0];
	struct db_step		*st = &q->steps[1];
	struct kb_arena		*arena;
	struct kb_sbuf		 keys;
	struct expect		*e;
	char			**values;
	int			 i, n, ok;

	/* On failure, conn_fail finds them all in c->coal still. */
	n = c->ncoal;
	if (n == 1) {
		if (!send_prepared(c, q, 1, st->stmt->id, st->stmt->sql,
		    st->nparams, st->values)) {
			conn_fail(c, PQerrorMessage(c->pg));
			return (0);
		}
		c->ncoal = 0;
		return (1);
	}
	/* The keys as an array literal: {"k1","k2",...}. */
	arena = kb_arena_new();
	kb_sbuf_init(&keys, arena);
	kb_sbuf_putc(&keys, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			kb_sbuf_putc(&keys, ',');
		kb_sql_array_elem(&keys, c->coal[i]->steps[1].values[0]);
	}
	kb_sbuf_putc(&keys, '}');
	values = kore_calloc(st->nparams, sizeof(*values));
	memcpy(values, st->values, st->nparams * sizeof(*values));
	values[0] = (char *)kb_sbuf_str(&keys);
	ok = send_prepared(c, q, 1, stmt_id(st->batch), st->batch->sql,
	    st->nparams, values);
	kore_free(values);
	kb_arena_free(arena);
	if (!ok) {
		conn_fail(c, PQerrorMessage(c->pg));
		return (0);
	}
	c->ncoal = 0;
	coal_stmts++;
	coal_reads += n;
	e = &c->ring[(c->head + c->count - 1) % DB_RING];
	e->members = kore_calloc(n, sizeof(*e->members));
	memcpy(e->members, c->coal, n * sizeof(*e->members));
	e->nmembers = n;
	return (1);
}

/*
 * Queue `q` on `c`.  Returns 0 if `q` was not queued: libpq refused it
 * and the connection failed; the caller still owns `q`.  Once `q` is
 * queued, a failure of the connection is conn_fail's to handle (it sends
 * `q` again or answers it), so that returns 1: `q` is taken care of.
 *
 * Read-only statements are batched: they go out without a Sync, and one
 * Sync follows from the next event-loop iteration (EPOLLOUT), so a busy
 * worker sends many queries per write and PostgreSQL answers them in one
 * implicit transaction.  If one of them fails, the rest of its batch is
 * aborted by PostgreSQL and simply sent again.  A statement that writes
 * is never batched: it closes any open batch and gets its own Sync, so it
 * commits or fails on its own.  A transaction group does the same: it
 * closes the open batch, sends its steps and its own Sync, so no other
 * request's statement ever runs in its transaction.
 */
/*
 * What a batch of reads carries from one group to the next, all of it
 * ending with the batch's Sync: whether a group set the role, the epoch
 * a cached caller's check confirmed, and the caller step sent last.
 */
static void
batch_reset(struct db_conn *c)
{
	c->unsynced = 0;
	c->role_set = 0;
	c->epoch[0] = '\0';
	c->last_stmt = NULL;
}

/*
 * Whether `q` can go into the open batch of reads on `c` and leave it
 * open (conn_send's rules): batch_keeps, and no plain statement after a
 * group that set a role.
 */
static int
batch_joins(const struct db_conn *c, const struct kb_db_query *q)
{
	return (c->unsynced > 0 && c->unsynced < DB_BATCH_MAX &&
	    batch_keeps(q) && !(c->role_set && q->caller == 0));
}

/*
 * Whether `q` leaves a batch of reads open behind it: read-only, not
 * sent again after an abort (that goes alone), no statement timeout, and
 * not a group that does not start with the caller's step.
 */
static int
batch_keeps(const struct kb_db_query *q)
{
	return (q->readonly && q->aborts == 0 &&
	    q->caller != KB_STEP_CALLER_TIMEOUT &&
	    !(q->group && q->caller == 0));
}

/*
 * A cached caller's check (kb_auth.c) is needed once per batch: the
 * batch is one transaction, and every request in it was received before
 * any of its statements was sent, so an earlier statement that checked
 * the same epoch in it vouches for the rest (if that check fails, the
 * whole batch is aborted and sent again).  Only keys without an expiry:
 * an expiry is the key's own.
 */
static int
batch_vouches(const struct db_conn *c, const struct kb_db_query *q)
{
	const struct db_step	*st = &q->steps[0];

	return (q->check && c->unsynced > 0 && c->epoch[0] != '\0' &&
	    st->nparams >= 2 && st->values[st->nparams - 1] == NULL &&
	    st->values[st->nparams - 2] != NULL &&
	    strcmp(st->values[st->nparams - 2], c->epoch) == 0 &&
	    (q->prepended || st->unchecked != NULL));
}

/*
 * A caller step identical to the one the batch ran last (same statement,
 * role and claims: the same key or session, one after the other in one
 * transaction) would set what is already set: 1 when the group may start
 * with its second step.  Remembers the step otherwise.  Only the same
 * principal's groups share their settings this way.
 */
static int
batch_same_caller(struct db_conn *c, const struct kb_db_query *q, int vouched)
{
	const struct db_step	*st = &q->steps[0];
	struct kb_stmt		*base;

	if (q->caller != KB_STEP_CALLER || !q->readonly) {
		if (q->caller != 0)
			c->last_stmt = NULL;
		return (0);
	}
	base = q->check && !q->prepended ? st->unchecked : st->stmt;
	if (base == NULL || st->values[0] == NULL || st->values[1] == NULL) {
		c->last_stmt = NULL;
		return (0);
	}
	if (q->nsteps > 1 && c->unsynced > 0 && c->role_set &&
	    base == c->last_stmt && (!q->check || vouched) &&
	    strcmp(st->values[0], c->last_role) == 0 &&
	    strcmp(st->values[1], c->last_claims) == 0)
		return (1);
	if (kore_strlcpy(c->last_role, st->values[0], sizeof(c->last_role)) >=
	    sizeof(c->last_role) || kore_strlcpy(c->last_claims,
	    st->values[1], sizeof(c->last_claims)) >= sizeof(c->last_claims)) {
		c->last_stmt = NULL;	/* too long to compare: never shared */
		return (0);
	}
	c->last_stmt = base;
	return (0);
}

/* Bind and execute prepared statement `id`, preparing it first if need be. */
static int
send_prepared(struct db_conn *c, struct kb_db_query *q, int step, int id,
    const char *sql, int nparams, char **values)
{
	char		 name[16], *p;
	int		 n;

	/* "kb<id>", without printf: once per statement sent. */
	p = name + sizeof(name) - 1;
	*p = '\0';
	n = id;
	do {
		*--p = '0' + n % 10;
		n /= 10;
	} while (n > 0);
	*--p = 'b';
	*--p = 'k';
	/*
	 * A Parse still out in an earlier batch may yet be aborted by a
	 * failure there, and a Bind to it from this batch would then fail:
	 * until it is confirmed, other batches send the text unnamed.
	 */
	if (c->prepared[id] == PREP_SENT && c->parse_batch[id] != c->batchno) {
		if (!PQsendQueryParams(c->pg, sql, nparams, NULL,
		    (const char *const *)values, NULL, NULL, 0))
			return (0);
		ring_push(c, EXPECT_QUERY, q, step);
		return (1);
	}
	if (c->prepared[id] == 0) {
		if (!PQsendPrepare(c->pg, p, sql, 0, NULL))
			return (0);
		c->prepared[id] = PREP_SENT;
		c->parse_batch[id] = c->batchno;
		ring_push(c, EXPECT_PREPARE, q, step);
		c->ring[(c->head + c->count - 1) % DB_RING].stmt = id;
	}
	if (!PQsendQueryPrepared(c->pg, p, nparams,
	    (const char *const *)values, NULL, NULL, 0))
		return (0);
	ring_push(c, EXPECT_QUERY, q, step);
	return (1);
}

static int
conn_send(struct db_conn *c, struct kb_db_query *q)
{
	struct db_step	*st;
	int		 i, skip, same, last;

	/*
	 * What shares a batch of reads: plain read-only statements, and
	 * read-only groups that start by setting the caller's role and
	 * claims.  Such a group leaves them set for the rest of the batch's
	 * transaction, where the next group sets its own; a statement that
	 * does not set them must not run after it, so it starts a new batch.
	 * A group that also sets a statement timeout keeps the batch to
	 * itself (the timeout is not put back either), and so do a group
	 * that does not start with the caller's step (it may set anything)
	 * and anything that writes.  So does a read that another statement
	 * of its batch aborted: alone, nothing but its own failure can stop
	 * it, and a stream of failing requests cannot keep other requests'
	 * reads from running.
	 */
	if (c->unsynced > 0 && (!q->readonly || q->aborts > 0 ||
	    q->caller == KB_STEP_CALLER_TIMEOUT ||
	    (c->role_set && q->caller == 0)) && !conn_sync(c))
		return (0);
	skip = batch_vouches(c, q);
	same = batch_same_caller(c, q, skip);
	if (c->ncoal > 0) {
		if (same && coal_joins(c, q)) {
			/* Goes out with the reads by id before it. */
			c->coal[c->ncoal++] = q;
			goto queued;
		}
		if (!coal_flush(c))
			return (0);
	}
	/*
	 * A read by id keeps its statement back: the reads like it that
	 * follow join it (coal_flush).
	 */
	last = q->nsteps;
	if (coal_opens(c, q))
		last--;
	for (i = same ? 1 : (skip && q->prepended); i < last; i++) {
		st = &q->steps[i];
		if (i == 0 && skip) {
			/* The caller's step without the check. */
			if (!send_prepared(c, q, i, stmt_id(st->unchecked),
			    st->unchecked->sql, st->nparams - 2, st->values))
				goto fail;
			continue;
		}
		if (st->stmt == NULL) {
			if (!PQsendQueryParams(c->pg, st->sql, st->nparams,
			    NULL, (const char *const *)st->values, NULL, NULL,
			    0))
				goto fail;
			ring_push(c, EXPECT_QUERY, q, i);
			continue;
		}
		if (!send_prepared(c, q, i, st->stmt->id, st->stmt->sql,
		    st->nparams, st->values))
			goto fail;
	}
	if (q->check && !skip) {
		st = &q->steps[0];
		(void)snprintf(c->epoch, sizeof(c->epoch), "%s",
		    st->values[st->nparams - 2] ? st->values[st->nparams - 2] :
		    "");
	}
	if (last < q->nsteps)
		c->coal[c->ncoal++] = q;
queued:
	c->inflight++;
	if (q->caller != 0)
		c->role_set = 1;
	if (batch_keeps(q) && c->unsynced < DB_BATCH_MAX) {
		if (c->unsynced++ == 0)
			pool_kick();
		return (1);
	}
	/* Queued: if the Sync fails, conn_fail has dealt with q. */
	(void)conn_sync(c);
	return (1);

fail:
	/* Take back what went into the ring for this query. */
	while (c->count > 0 &&
	    c->ring[(c->head + c->count - 1) % DB_RING].q == q)
		c->count--;
	conn_fail(c, PQerrorMessage(c->pg));
	return (0);
}

/*
 * End the open batch with a Sync.  PQpipelineSync pushes what the socket
 * takes; if some is left, conn_flush watches for EPOLLOUT, and libpq may
 * also have read results while it tried to write, which conn_event drains
 * as soon as the socket is writable, instead of leaving them unseen.
 */
static int
conn_sync(struct db_conn *c)
{
	if (c->ncoal > 0 && !coal_flush(c))
		return (0);
	if (!PQpipelineSync(c->pg)) {
		conn_fail(c, PQerrorMessage(c->pg));
		return (0);
	}
	ring_push(c, EXPECT_SYNC, NULL, 0);
	c->batchno++;
	batch_reset(c);
	conn_flush(c);
	return (c->state == CONN_READY);
}

/*
 * Push pending output.  libpq reads from the socket while it writes when
 * the socket is full, so results may now sit in its buffer with no read
 * event to announce them: when it has something to hand out, stay
 * registered for EPOLLOUT so conn_event runs on the next loop iteration.
 */
static void
conn_flush(struct db_conn *c)
{
	switch (PQflush(c->pg)) {
	case 0:
		conn_watch(c, c->count > 0 && !PQisBusy(c->pg));
		break;
	case 1:
		conn_watch(c, 1);
		break;
	default:
		conn_fail(c, PQerrorMessage(c->pg));
		break;
	}
}

static void
conn_event(void *arg, int error)
{
	struct db_conn	*c = arg;
	int		 flags;

	flags = c->evt.flags;
	c->evt.flags = 0;

	if (c->state == CONN_CONNECTING) {
		conn_connect_poll(c);
		return;
	}
	if (c->state != CONN_READY)
		return;

	if (flags & KORE_EVENT_WRITE) {
		if (c->unsynced > 0)
			(void)conn_sync(c);
		else
			conn_flush(c);
		if (c->state != CONN_READY)
			return;
	}
	/*
	 * libpq flushes its output whenever it reads (PQconsumeInput), so a
	 * read now would send the open batch without its Sync, which then
	 * goes out alone: two sends, and two wake-ups of the backend, per
	 * batch.  The kick that closes the batch is due on this same turn of
	 * the loop; it reads after the Sync.
	 */
	if (c->unsynced > 0 && !error) {
		c->read_due = 1;
		return;
	}
	if ((flags & KORE_EVENT_READ) || error || c->count > 0)
		conn_read(c);
	if (error && c->state == CONN_READY)
		conn_fail(c, "connection closed by the server");
}

/* Read every complete result and finish the queries they belong to. */
static void
conn_read(struct db_conn *c)
{
	struct kb_db_query	*q, **members;
	struct expect		*e;
	PGresult		*r;
	ExecStatusType		 st;
	int			 nulls, i, n;

	if (!PQconsumeInput(c->pg)) {
		conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->listening) {
		/* PQisBusy parses what came, notifications included. */
		(void)PQisBusy(c->pg);
		listen_notifies(c);
	}

	nulls = 0;
	while (c->count > 0 && !PQisBusy(c->pg)) {
		e = &c->ring[c->head];
		r = PQgetResult(c->pg);
		if (r == NULL) {
			/*
			 * Between two statements (after a Sync) libpq answers
			 * NULL while it moves on to the next queued one; only
			 * several NULLs in a row mean nothing more is there.
			 */
			if (e->kind == EXPECT_SYNC || !e->got) {
				if (++nulls > DB_MAX_NULLS)
					break;
				continue;
			}
			nulls = 0;
			/* End of this statement's results. */
			c->head = (c->head + 1) % DB_RING;
			c->count--;
			if (e->kind == EXPECT_QUERY &&
			    e->step == e->q->nsteps - 1) {
				members = e->members;
				n = e->nmembers;
				e->members = NULL;
				if (members == NULL) {
					query_ended(c, e->q);
					continue;
				}
				for (i = 0; i < n; i++)
					query_ended(c, members[i]);
				kore_free(members);
			}
			continue;
		}

		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			if (e->kind != EXPECT_SYNC) {
				conn_fail(c, "pipeline out of step");
				return;
			}
			c->head = (c->head + 1) % DB_RING;
			c->count--;
			continue;
		}

		if (e->kind == EXPECT_SYNC || e->got) {
			/* Extra results (several statements): keep the first. */
			PQclear(r);
			continue;
		}
		e->got = 1;
		q = e->q;
		st = PQresultStatus(r);
		if (e->members != NULL) {
			coal_results(e, r);
			continue;
		}
		if (e->kind == EXPECT_PREPARE)
			c->prepared[e->stmt] = st == PGRES_COMMAND_OK ?
			    PREP_DONE : 0;
		if (e->kind == EXPECT_PREPARE && st != PGRES_COMMAND_OK &&
		    st != PGRES_PIPELINE_ABORTED && e->step == 1 &&
		    q->steps[1].batch != NULL &&
		    e->stmt == q->steps[1].batch->id) {
			/*
			 * The statement for many keys does not parse (a key
			 * type it cannot make an array of): never again, and
			 * its queries go again alone.
			 */
			batch_broken[e->stmt] = 1;
			PQclear(r);
			continue;
		}
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			if (e->kind == EXPECT_QUERY) {
				last_ok = kore_time_ms();
				if (q->steps[0].stmt == &ping_stmt)
					c->ping_at = 0;
			}
		} else if (st != PGRES_PIPELINE_ABORTED && q->err == NULL) {
			/* The first failure: a Parse or a step. */
			q->err = r;
			q->errstep = e->step;
			continue;
		}
		if (e->kind == EXPECT_QUERY && e->step == q->result_step &&
		    q->res == NULL)
			q->res = r;
		else
			PQclear(r);
	}
	if (c->state != CONN_READY)
		return;
	pool_drain();
	if (c->state == CONN_READY && nulls <= DB_MAX_NULLS)
		conn_watch(c, c->count > 0 && !PQisBusy(c->pg));
}

/* The last statement of `q` is done: answer it, or send it again. */
static void
query_ended(struct db_conn *c, struct kb_db_query *q)
{
	/* 0 already if an earlier query's re-send failed the connection. */
	if (c->inflight > 0)
		c->inflight--;
	if (q->readonly && q->err == NULL && q->res != NULL &&
	    PQresultStatus(q->res) == PGRES_PIPELINE_ABORTED &&
	    q->aborts++ < DB_MAX_ABORTS) {
		/* Another query failed its batch. */
		query_reset(q);
		query_dispatch(q);
	} else {
		query_complete(q, 0, NULL);
	}
}

/*
 * The result of coalesced reads by id: row i is member i's answer, a
 * one-row result of its own.  If the statement failed, or another
 * statement of the batch aborted it, each is sent again as an aborted
 * read is: alone, where it gets its own answer.
 */
static void
coal_results(struct expect *e, PGresult *r)
{
	struct kb_db_query	*m;
	PGresult		*one;
	ExecStatusType		 st;
	int			 i, j, ok;

	st = PQresultStatus(r);
	ok = st == PGRES_TUPLES_OK && PQntuples(r) == e->nmembers;
	if (ok)
		last_ok = kore_time_ms();
	for (i = 0; i < e->nmembers; i++) {
		m = e->members[i];
		if (m->res != NULL)
			continue;
		if (!ok) {
			m->res = PQmakeEmptyPGresult(NULL,
			    PGRES_PIPELINE_ABORTED);
			continue;
		}
		if ((one = PQcopyResult(r, PG_COPYRES_ATTRS)) == NULL)
			fatal("coal_results: out of memory");
		for (j = 0; j < PQnfields(r); j++) {
			if (!PQsetvalue(one, 0, j, PQgetvalue(r, i, j),
			    PQgetisnull(r, i, j) ? -1 :
			    PQgetlength(r, i, j)))
				fatal("coal_results: out of memory");
		}
		m->res = one;
	}
	PQclear(r);
}

/* Forget the results of an attempt, before the query is sent again. */
static void
query_reset(struct kb_db_query *q)
{
	if (q->res != NULL) {
		PQclear(q->res);
		q->res = NULL;
	}
	if (q->err != NULL) {
		PQclear(q->err);
		q->err = NULL;
	}
	q->errstep = 0;
}

static const char *
result_field(const PGresult *res, int field)
{
	const char	*s;

	s = PQresultErrorField(res, field);
	return (s != NULL ? s : "");
}

/* Deliver the outcome to the request, if it is still there, and free. */
static void
query_complete(struct kb_db_query *q, int unavailable, const char *why)
{
	struct kb_db_result	 r;
	struct kb_ctx		*ctx;
	PGresult		*out;
	ExecStatusType		 st;

	ctx = q->ctx;
	if (ctx != NULL || q->icb != NULL) {
		if (ctx != NULL)
			TAILQ_REMOVE(&ctx->queries, q, clist);
		memset(&r, 0, sizeof(r));
		r.sqlstate = "";
		r.detail = "";
		r.hint = "";
		r.message = why ? why : "";
		r.unavailable = unavailable;
		r.step = q->result_step;
		if (!unavailable) {
			out = q->err != NULL ? q->err : q->res;
			r.res = out;
			st = out ? PQresultStatus(out) : PGRES_FATAL_ERROR;
			r.ok = q->err == NULL &&
			    (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK);
			if (q->err != NULL)
				r.step = q->errstep;
			if (!r.ok && out != NULL) {
				r.sqlstate = result_field(out,
				    PG_DIAG_SQLSTATE);
				r.message = result_field(out,
				    PG_DIAG_MESSAGE_PRIMARY);
				if (*r.message == '\0')
					r.message = st == PGRES_PIPELINE_ABORTED ?
					    "the statement was not run" :
					    "query failed";
				r.detail = result_field(out,
				    PG_DIAG_MESSAGE_DETAIL);
				r.hint = result_field(out,
				    PG_DIAG_MESSAGE_HINT);
				/*
				 * The server is shutting down or restarting
				 * (class 57P) or the connection broke (08):
				 * not this query's fault, the database's.
				 * Except 08P01, a protocol violation, which
				 * is also how PostgreSQL refuses a statement
				 * given the wrong number of parameters.
				 */
				if (strncmp(r.sqlstate, "57P", 3) == 0 ||
				    (strncmp(r.sqlstate, "08", 2) == 0 &&
				    strcmp(r.sqlstate, "08P01") != 0))
					r.unavailable = 1;
				/*
				 * Never run: other statements of its batch kept
				 * failing (a restart in progress), so it was
				 * aborted each time it was sent.  Not its fault,
				 * nor the server's: try again shortly.
				 */
				if (st == PGRES_PIPELINE_ABORTED)
					r.unavailable = 1;
			} else if (!r.ok) {
				r.message = "query failed";
			}
		}
		if (ctx != NULL && q->check) {
			if (!r.ok && r.step == 0 &&
			    strcmp(r.sqlstate, "22023") == 0 &&
			    strstr(r.message, KB_CHECK_MARK) != NULL) {
				/* The cached caller changed: ask again. */
				query_park(q);
				return;
			}
			if (r.ok)
				ctx->cred_unverified = 0;
			if (q->prepended && r.step > 0)
				r.step--;
		}
		if (ctx != NULL) {
			q->cb(ctx, &r, q->arg);
			kb_ctx_settle(ctx);
		} else {
			q->icb(&r, q->arg);
		}
	}
	query_free(q);
}

/*
 * A query whose caller check failed waits, on its request's list, while
 * kb_auth_recheck resolves the caller again; query_rechecked sends it
 * again with the new epoch, or drops it when the request was answered.
 */
static void
query_park(struct kb_db_query *q)
{
	struct kb_ctx	*ctx = q->ctx;

	TAILQ_INSERT_TAIL(&ctx->queries, q, clist);
	q->parked = 1;
	if (!ctx->cred_rechecking) {
		ctx->cred_rechecking = 1;
		kb_auth_recheck(ctx, query_rechecked, NULL);
	}
}

static void
query_rechecked(struct kb_ctx *ctx, int ok, void *arg)
{
	struct kb_db_query	*q;
	struct db_step		*st;

	(void)arg;
	ctx->cred_rechecking = 0;
	for (;;) {
		TAILQ_FOREACH(q, &ctx->queries, clist) {
			if (q->parked)
				break;
		}
		if (q == NULL)
			break;
		q->parked = 0;
		if (!ok) {
			TAILQ_REMOVE(&ctx->queries, q, clist);
			query_free(q);
			continue;
		}
		if (q->rechecks++ >= DB_MAX_RECHECKS) {
			query_complete(q, 1, "the caller kept changing");
			continue;
		}
		st = &q->steps[0];
		if (q->caller != 0) {
			/* The claims may have changed (a tenant role). */
			kore_free(st->values[0]);
			kore_free(st->values[1]);
			st->values[0] = kore_strdup(
			    kb_caller_pg_role(kb_ctx_caller(ctx)));
			st->values[1] = kore_strdup(kb_caller_claims(ctx));
		}
		kore_free(st->values[st->nparams - 2]);
		kore_free(st->values[st->nparams - 1]);
		st->values[st->nparams - 2] = kore_strdup(ctx->cred_epoch);
		st->values[st->nparams - 1] = ctx->cred_valid_until == NULL ?
		    NULL : kore_strdup(ctx->cred_valid_until);
		query_reset(q);
		query_dispatch(q);
	}
	kb_ctx_settle(ctx);
}

static void
query_free(struct kb_db_query *q)
{
	struct db_step	*st;
	int		 i, j;

	for (i = 0; i < q->nsteps; i++) {
		st = &q->steps[i];
		for (j = 0; j < st->nparams; j++)
			kore_free(st->values[j]);
		kore_free(st->values);
		kore_free(st->sql);
	}
	if (q->steps != &q->one)
		kore_free(q->steps);
	query_reset(q);
	kore_free(q);
}
