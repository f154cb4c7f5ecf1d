/*
 * Internals shared by the server runtime's own files; handlers use
 * kb_server.h only.
 */

#ifndef KB_SERVER_INT_H
#define KB_SERVER_INT_H

#include <stddef.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"

#define KB_CTX_MAX_HEADERS	16
#define KB_LOG_FLUSH_MS		50
#define KB_CTX_INLINE		512

struct kb_header {
	char		*name;
	char		*value;
};

struct kb_db_query;
struct kb_job;
struct kb_catalog;
struct kb_schema_waiter;
struct kb_stream;

struct kb_ctx {
	struct http_request		*req;
	const struct kb_op		*op;
	struct kb_route_match		 match;
	char				 request_id[KB_REQUEST_ID_MAX + 1];
	u_int64_t			 start_us;

	json_t				*params;	/* coerced parameters */
	json_t				*body;		/* parsed JSON body */
	char				*body_buf;	/* raw body bytes */

	struct arena_chunk		*arena;

	int				 responded;
	int				 sleeping;
	int				 status;
	const char			*resp_ctype;
	char				*resp_body;
	size_t				 resp_len;
	int				 resp_owned;
	struct kb_header		 headers[KB_CTX_MAX_HEADERS];
	size_t				 nheaders;

	/* Queries in flight for this request (see kb_db.c). */
	TAILQ_HEAD(, kb_db_query)	 queries;
	/* Work on helper threads for this request (see kb_work.c). */
	TAILQ_HEAD(, kb_job)		 jobs;

	/* The schema this request holds, or waits for (kb_schema_cache.c). */
	struct kb_catalog		*schema;
	struct kb_schema_waiter		*schema_wait;
	/* A streamed response in progress (kb_stream.c). */
	struct kb_stream		*stream;
	kb_db_cb			 stream_on_error;
	void				*stream_on_error_arg;

	struct kb_caller		 caller;
	const char			*claims;	/* kb_caller_claims */
	/*
	 * The gate's credential cache (kb_auth.c): a caller taken from it is
	 * unverified until a statement carrying the check for its epoch
	 * succeeds; cred_args are the resolver's arguments, to ask again.
	 */
	int				 cred_unverified;
	int				 cred_rechecking;
	const char			*cred_epoch;
	const char			*cred_valid_until;
	const char			*cred_args[5];
	/* kb_ctx_defer: run when the request ends, last first. */
	struct kb_defer			*defers;
	char				 client_addr[64];

	/*
	 * The first KB_CTX_INLINE bytes of per-request memory live here, so
	 * most requests never allocate an arena chunk.  Not zeroed when the
	 * context is made (it must stay the last member): kb_ctx_alloc
	 * zeroes what it hands out.
	 */
	size_t				 inline_used;
	max_align_t			 inline_arena[KB_CTX_INLINE /
					    sizeof(max_align_t)];
};

void		kb_ctx_free(struct kb_ctx *);
void		kb_ctx_settle(struct kb_ctx *);
void		kb_work_init(void);
void		kb_work_shutdown(void);
void		kb_work_detach(struct kb_ctx *);
int		kb_work_pending(struct kb_ctx *);
void		kb_auth_init(void);
void		kb_janitor_init(void);	/* kb_janitor.c */
/* kb_auth_gate: go on, answered (401/403/503), or waiting for the database. */
#define KB_GATE_GO	1
#define KB_GATE_DONE	0
#define KB_GATE_WAIT	2
int		kb_auth_gate(struct kb_ctx *);
/*
 * Resolve a cached caller again (its check failed, or work outside the
 * pool needs it verified first): fn(ctx, 1, arg) when it still holds as
 * it was, else fn(ctx, 0, arg) after the request was answered.
 */
void		kb_auth_recheck(struct kb_ctx *,
		    void (*)(struct kb_ctx *, int, void *), void *);
/*
 * The statement that checks a cached caller (kb_caller.c); it fails with
 * SQLSTATE 22023 and a message naming KB_CHECK_MARK when the caller
 * changed (kb_db_check_failed).
 */
#define KB_CHECK_MARK	"KB001"
void		kb_db_step_check(struct kb_ctx *, struct kb_db_step *);
/* The rest of a request once the gate let it through (kb_main.c). */
void		kb_ctx_proceed(struct kb_ctx *);
u_int64_t	kb_now_us(void);
const char	*kb_log_time(void);
const char	*kb_log_time_at(const struct timespec *);
void		kb_log_write(const char *, size_t);
void		kb_log_buffered(const char *, size_t);
void		kb_log_flush(void);
void		kb_json_escape(const char *, char *, size_t);
void	kb_ctx_wakeup(struct kb_ctx *);
void	kb_db_detach(struct kb_ctx *);
int	kb_db_pending(struct kb_ctx *);
void	kb_db_listen(const char *, void (*)(const char *, void *), void *);
void	kb_ctx_write_headers(struct kb_ctx *, const char *);
int	kb_stream_pending(struct kb_ctx *);
int	kb_stream_end(struct kb_ctx *);
void	kb_stream_detach(struct kb_ctx *);
void	kb_schema_cache_init(void);
int	kb_schema_pending(struct kb_ctx *);
void	kb_schema_release(struct kb_ctx *);
#if defined(KB_TEST)
void	kb_test_handle(struct kb_ctx *);
#endif

#endif /* KB_SERVER_INT_H */
