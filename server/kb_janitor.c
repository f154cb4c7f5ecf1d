/*
 * The janitor: deletes what korebase's own tables no longer need, on a
 * timer in every worker (KB_JANITOR_INTERVAL_MS, default an hour, first
 * run a minute after start).  One statement through the pool; a
 * transaction-scoped advisory lock makes it a no-op while another worker
 * or instance runs it.  What goes:
 *
 *   sessions (with their refresh tokens) revoked or past KB_SESSION_TTL
 *   for more than 7 days; 2FA challenges, e-mail tokens and send limits
 *   expired for more than a day; outbox mail sent or failed for more than
 *   7 days; sign-in failure counters idle for a day and not locked; RPC
 *   executions finished more than KB_RPC_RETENTION_DAYS ago (30), their
 *   logs with them.  The audit log is kept.
 *
 * Its module also keeps the RPC lease's timer (every third of
 * KB_RPC_LEASE_S, handlers/rpc.c): a worker renews the calls it holds
 * and marks failed the running ones whose worker died.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>

#include "kb_server.h"
#include "kb_server_int.h"

#define JANITOR_LOCK	"7262730416"	/* beside kbmigrate's lock key */
#define JANITOR_FIRST_MS	60000

/* $1 session lifetime (s), $2 RPC retention (days). */
static struct kb_stmt janitor_stmt = KB_STMT(
	"WITH lock AS (SELECT pg_try_advisory_xact_lock(" JANITOR_LOCK ") AS ok),"
	" s AS (DELETE FROM sessions WHERE (SELECT ok FROM lock) AND"
	"  ((revoked_at IS NOT NULL AND revoked_at < now() - interval '7 days')"
	"  OR created_at < now() - make_interval(secs => $1::int)"
	"  - interval '7 days') RETURNING 1),"
	" m AS (DELETE FROM mfa_challenges WHERE (SELECT ok FROM lock) AND"
	"  expires_at < now() - interval '1 day' RETURNING 1),"
	" e AS (DELETE FROM email_tokens WHERE (SELECT ok FROM lock) AND"
	"  expires_at < now() - interval '1 day' RETURNING 1),"
	" l AS (DELETE FROM email_send_limits WHERE (SELECT ok FROM lock) AND"
	"  sent_at < now() - interval '1 day' RETURNING 1),"
	" o AS (DELETE FROM mail_outbox WHERE (SELECT ok FROM lock) AND"
	"  status IN ('sent', 'failed') AND created_at < now()"
	"  - interval '7 days' RETURNING 1),"
	" f AS (DELETE FROM signin_failures WHERE (SELECT ok FROM lock) AND"
	"  updated_at < now() - interval '1 day' AND (locked_until IS NULL"
	"  OR locked_until < now()) RETURNING 1),"
	" r AS (DELETE FROM rpc_executions WHERE (SELECT ok FROM lock) AND"
	"  finished_at < now() - make_interval(days => $2::int) RETURNING 1)"
	" SELECT (SELECT ok FROM lock), (SELECT count(*) FROM s),"
	" (SELECT count(*) FROM m) + (SELECT count(*) FROM e) +"
	" (SELECT count(*) FROM l) + (SELECT count(*) FROM f),"
	" (SELECT count(*) FROM o), (SELECT count(*) FROM r)");

static void	janitor_tick(void *, u_int64_t);
static void	janitor_done(struct kb_db_result *, void *);

static struct kore_timer	*janitor_timer;

/* The RPC lease (handlers/rpc.c): renewed every third of its length. */
static void
lease_tick(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;
	kb_rpc_lease();
}

void
kb_janitor_init(void)
{
	(void)kore_timer_add(lease_tick, kb_config.rpc_lease_s * 1000 / 3,
	    NULL, 0);
	if (kb_config.janitor_ms <= 0)
		return;
	janitor_timer = kore_timer_add(janitor_tick,
	    MIN(JANITOR_FIRST_MS, kb_config.janitor_ms), NULL, KORE_TIMER_ONESHOT);
}

static void
janitor_tick(void *arg, u_int64_t now)
{
	char		 ttl[16], days[16];
	const char	*v[2] = { ttl, days };

	(void)arg;
	(void)now;
	janitor_timer = NULL;
	(void)snprintf(ttl, sizeof(ttl), "%d", kb_config.session_ttl);
	(void)snprintf(days, sizeof(days), "%d", kb_config.rpc_retention_days);
	kb_db_query_internal(&janitor_stmt, 2, v, janitor_done, NULL);
}

static void
janitor_done(struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!r->ok) {
		if (!r->unavailable)
			kb_log("warning", "janitor: %s (%s)", r->message,
			    r->sqlstate);
	} else if (PQntuples(r->res) == 1 &&
	    strcmp(PQgetvalue(r->res, 0, 0), "t") == 0 &&
	    (strcmp(PQgetvalue(r->res, 0, 1), "0") != 0 ||
	    strcmp(PQgetvalue(r->res, 0, 2), "0") != 0 ||
	    strcmp(PQgetvalue(r->res, 0, 3), "0") != 0 ||
	    strcmp(PQgetvalue(r->res, 0, 4), "0") != 0)) {
		kb_log("info", "janitor: deleted %s sessions, %s expired tokens,"
		    " %s old mails, %s RPC executions",
		    PQgetvalue(r->res, 0, 1), PQgetvalue(r->res, 0, 2),
		    PQgetvalue(r->res, 0, 3), PQgetvalue(r->res, 0, 4));
	}
	janitor_timer = kore_timer_add(janitor_tick, kb_config.janitor_ms,
	    NULL, KORE_TIMER_ONESHOT);
}
