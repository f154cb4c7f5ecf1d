/*
 * The mail sender: delivers mail_outbox rows by SMTP (libcurl) to
 * KB_SMTP_URL, or writes them to the log when KB_SMTP_URL is unset.
 *
 * Where it runs, and why: one helper thread per Kore worker, with its
 * own blocking libpq connection and blocking curl.  Handlers never send
 * mail; they insert outbox rows in the same statement as the token, and
 * a trigger NOTIFYs kb_mail.  A thread was chosen over a separate process
 * because it needs no supervision of its own: it lives and dies with its
 * worker (Kore restarts a dead worker, and the thread with it), reads the
 * same configuration, and nothing outside kore.conf has to be started or
 * stopped.  It never touches Kore or the event loop, so blocking here
 * (connect, SMTP round trips, sleeping) stalls no request.  The price is
 * that it runs under the worker's seccomp filter: kb_main.c allows the
 * few extra syscalls libcurl needs.
 *
 * Several workers (or instances) run a sender each; they share the work
 * safely because a batch is claimed with SELECT ... FOR UPDATE SKIP
 * LOCKED and marked `sending` with a lease (next_attempt_at = now() +
 * MAIL_LEASE_S) in one autocommitted statement: no two senders claim the
 * same row, and a row whose sender died mid-delivery is claimed again
 * once the lease is over (delivery is at least once).  A worker that
 * shuts down gives the rows it claimed but did not deliver back at once.  A failed delivery
 * goes back to `pending` with an exponential backoff,
 *	KB_MAIL_RETRY_BASE_MS * 2^(attempts - 1), at most 1 hour,
 * until KB_MAIL_MAX_ATTEMPTS, then `failed`.  Sent and failed rows lose
 * their body (it held a live link or code).  KB_MAIL_SENDER=0 turns the
 * sender off in this instance (another one must run it then).
 */

#define _GNU_SOURCE		/* asprintf, vasprintf */

#include <sys/types.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/rand.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kb_server_int.h"

#define MAIL_BATCH		8
#define MAIL_LEASE_S		"300"
#define MAIL_CONNECT_TIMEOUT	10L
#define MAIL_TIMEOUT		60L
#define MAIL_BACKOFF_MAX_MS	3600000.0
#define MAIL_ERROR_MAX		512

static struct {
	pthread_t	thread;
	int		running;
	int		efd;		/* wakes the thread to stop */
	atomic_int	stop;
} mail;

/* A claimed row. */
struct mail_msg {
	const char	*id;
	const char	*to;
	const char	*subject;
	const char	*sealed;
	char		*body;		/* opened, malloc'd */
	size_t		 blen;
	int		 attempts;
	/* Upload state. */
	char		*data;
	size_t		 len;
	size_t		 off;
};

static const char	claim_sql[] =
	"UPDATE mail_outbox o SET status = 'sending',"
	" attempts = o.attempts + 1,"
	" next_attempt_at = now() + interval '" MAIL_LEASE_S " seconds'"
	" FROM (SELECT id FROM mail_outbox WHERE status IN ('pending',"
	" 'sending') AND next_attempt_at <= now()"
	" ORDER BY next_attempt_at, id LIMIT $1::int"
	" FOR UPDATE SKIP LOCKED) c"
	" WHERE o.id = c.id"
	" RETURNING o.id, o.to_addr, o.subject, o.body, o.attempts";

static const char	sent_sql[] =
	"UPDATE mail_outbox SET status = 'sent', sent_at = now(), body = '',"
	" last_error = NULL WHERE id = $1::bigint AND status = 'sending'";

/* $1 id, $2 retry delay (ms), $3 max attempts, $4 the error. */
static const char	failed_sql[] =
	"UPDATE mail_outbox SET status = CASE WHEN attempts >= $3::int"
	" THEN 'failed' ELSE 'pending' END,"
	" next_attempt_at = now() + make_interval(secs => $2::float8 / 1000),"
	" body = CASE WHEN attempts >= $3::int THEN '' ELSE body END,"
	" last_error = $4 WHERE id = $1::bigint AND status = 'sending'";

/* Shutting down: give a claimed row back, as if never tried. */
static const char	release_sql[] =
	"UPDATE mail_outbox SET status = 'pending',"
	" attempts = greatest(attempts - 1, 0), next_attempt_at = now()"
	" WHERE id = $1::bigint AND status = 'sending'";

static void	*mail_thread(void *);
static int	 mail_open(struct mail_msg *);
static PGconn	*mail_connect(void);
static int	 mail_batch(PGconn *);
static int	 mail_deliver(struct mail_msg *, char *, size_t);
static void	 mail_to_log(const struct mail_msg *);
static int	 mail_build(struct mail_msg *);
static size_t	 mail_read(char *, size_t, size_t, void *);
static int	 mail_progress(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);
static void	 mail_wait(PGconn *, int);
static void	 mail_log(const char *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

void
kb_mail_init(void)
{
	sigset_t	all, old;
	int		rc;

	memset(&mail, 0, sizeof(mail));
	if (!kb_config.mail_sender)
		return;
	/* Not thread safe: called here, on the loop thread, once. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("kb_mail_init: curl_global_init failed");
	if ((mail.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("kb_mail_init: eventfd: %s", strerror(errno));
	atomic_store(&mail.stop, 0);
	/* Kore's signals must reach the loop thread, not this one. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&mail.thread, NULL, mail_thread, NULL);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		fatal("kb_mail_init: pthread_create: %s", strerror(rc));
	mail.running = 1;
}

void
kb_mail_shutdown(void)
{
	uint64_t	one = 1;

	if (!mail.running)
		return;
	atomic_store(&mail.stop, 1);
	(void)write(mail.efd, &one, sizeof(one));
	(void)pthread_join(mail.thread, NULL);
	(void)close(mail.efd);
	mail.running = 0;
}

static void *
mail_thread(void *arg)
{
	PGconn	*db = NULL;
	int	 backoff = 100, n;

	while (!atomic_load(&mail.stop)) {
		if (db == NULL && (db = mail_connect()) == NULL) {
			mail_wait(NULL, backoff);
			backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
			continue;
		}
		backoff = 100;
		if ((n = mail_batch(db)) < 0) {
			PQfinish(db);
			db = NULL;
			continue;
		}
		if (n < MAIL_BATCH)
			mail_wait(db, kb_config.mail_poll_ms);
	}
	if (db != NULL)
		PQfinish(db);
	return (NULL);
}

static PGconn *
mail_connect(void)
{
	/* DATABASE_URL, with a connect timeout unless it sets one. */
	static const char *const	 keys[] = { "connect_timeout",
					    "dbname", NULL };
	const char			*vals[3];
	PGconn				*db;
	PGresult			*res;

	vals[0] = "10";
	vals[1] = kb_config.database_url;
	vals[2] = NULL;
	db = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db) != CONNECTION_OK) {
		mail_log("warning", "mail sender: database: %s",
		    PQerrorMessage(db));
		PQfinish(db);
		return (NULL);
	}
	res = PQexec(db, "LISTEN kb_mail");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		mail_log("warning", "mail sender: LISTEN: %s",
		    PQerrorMessage(db));
		PQclear(res);
		PQfinish(db);
		return (NULL);
	}
	PQclear(res);
	return (db);
}

/*
 * Sleep up to `ms`, waking early for a NOTIFY on `db` or for shutdown.
 */
static void
mail_wait(PGconn *db, int ms)
{
	struct pollfd	 pfd[2];
	PGnotify	*n;
	int		 nfd = 1;

	pfd[0].fd = mail.efd;
	pfd[0].events = POLLIN;
	if (db != NULL && PQsocket(db) >= 0) {
		pfd[1].fd = PQsocket(db);
		pfd[1].events = POLLIN;
		nfd = 2;
	}
	if (poll(pfd, nfd, ms) <= 0 || db == NULL)
		return;
	(void)PQconsumeInput(db);
	while ((n = PQnotifies(db)) != NULL)
		PQfreemem(n);
}

/* One batch: claimed rows delivered.  The count, or -1 on a DB error. */
static int
mail_batch(PGconn *db)
{
	PGresult	*res, *upd;
	struct mail_msg	 m;
	char		 err[MAIL_ERROR_MAX], delay[32], max[16];
	char		 batch[16];
	const char	*p[4];
	double		 ms;
	int		 i, n, ok, final;

	(void)snprintf(batch, sizeof(batch), "%d", MAIL_BATCH);
	p[0] = batch;
	res = PQexecParams(db, claim_sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		mail_log("warning", "mail sender: claim: %s",
		    PQerrorMessage(db));
		PQclear(res);
		return (-1);
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		m.id = PQgetvalue(res, i, 0);
		p[0] = m.id;
		if (atomic_load(&mail.stop)) {
			/* Not tried: the next sender takes it at once. */
			upd = PQexecParams(db, release_sql, 1, NULL, p, NULL,
			    NULL, 0);
			PQclear(upd);
			continue;
		}
		m.to = PQgetvalue(res, i, 1);
		m.subject = PQgetvalue(res, i, 2);
		m.sealed = PQgetvalue(res, i, 3);
		m.attempts = atoi(PQgetvalue(res, i, 4));
		err[0] = '\0';
		final = 0;
		if (mail_open(&m) != 0) {
			/* Sealed under another KB_JWT_SECRET: no retry helps. */
			(void)snprintf(err, sizeof(err), "cannot open the "
			    "sealed body (KB_JWT_SECRET changed?)");
			ok = 0;
			final = 1;
		} else if (kb_config.smtp_url == NULL) {
			mail_to_log(&m);
			ok = 1;
		} else
			ok = mail_deliver(&m, err, sizeof(err)) == 0;
		if (m.body != NULL) {
			explicit_bzero(m.body, m.blen);
			free(m.body);
		}
		if (m.data != NULL) {
			explicit_bzero(m.data, m.len);
			free(m.data);
		}
		if (ok) {
			upd = PQexecParams(db, sent_sql, 1, NULL, p, NULL,
			    NULL, 0);
		} else if (atomic_load(&mail.stop)) {
			/* Aborted by the shutdown, not refused. */
			upd = PQexecParams(db, release_sql, 1, NULL, p, NULL,
			    NULL, 0);
		} else {
			ms = (double)kb_config.mail_retry_ms;
			ms *= (double)(1ULL << (m.attempts > 30 ? 30 :
			    m.attempts - 1));
			if (ms > MAIL_BACKOFF_MAX_MS)
				ms = MAIL_BACKOFF_MAX_MS;
			(void)snprintf(delay, sizeof(delay), "%.0f", ms);
			(void)snprintf(max, sizeof(max), "%d", final ? 0 :
			    kb_config.mail_max_attempts);
			mail_log("warning", "mail %s to %s: attempt %d of %d"
			    " failed: %s", m.id, m.to, m.attempts,
			    kb_config.mail_max_attempts, err);
			p[1] = delay;
			p[2] = max;
			p[3] = err;
			upd = PQexecParams(db, failed_sql, 4, NULL, p, NULL,
			    NULL, 0);
		}
		if (PQresultStatus(upd) != PGRES_COMMAND_OK) {
			mail_log("warning", "mail sender: update: %s",
			    PQerrorMessage(db));
			PQclear(upd);
			PQclear(res);
			return (-1);
		}
		PQclear(upd);
	}
	PQclear(res);
	return (n);
}

/* The body, opened with the key of KB_JWT_SECRET; 0 or -1. */
static int
mail_open(struct mail_msg *m)
{
	const struct kb_jwt_config	*cfg = kb_jwt_config();
	uint8_t				 key[KB_SEAL_KEY_LEN];
	int				 rc;

	if (kb_seal_key(cfg->secret, cfg->secret_len, KB_MAIL_KEY_LABEL,
	    key) != KB_SEAL_OK)
		return (-1);
	rc = kb_open(key, m->to, strlen(m->to), m->sealed, &m->body,
	    &m->blen);
	explicit_bzero(key, sizeof(key));
	return (rc == KB_SEAL_OK ? 0 : -1);
}

/* Development: the whole mail into the log, as one JSON line. */
static void
mail_to_log(const struct mail_msg *m)
{
	mail_log("info", "mail %s (KB_SMTP_URL unset, logged, not sent)\n"
	    "To: %s\nSubject: %s\n\n%s", m->id, m->to, m->subject, m->body);
}

/*
 * The message as SMTP carries it: RFC 5322 headers and the body (CRLF
 * already).  libcurl does the dot-stuffing.  0, or -1 if a header value
 * could smuggle a line break (the table's CHECKs already forbid it).
 */
static int
mail_build(struct mail_msg *m)
{
	struct tm	tm;
	time_t		now = time(NULL);
	char		date[64];
	uint8_t		rnd[8];
	int		n;

	if (strpbrk(m->to, "\r\n") != NULL ||
	    strpbrk(m->subject, "\r\n") != NULL)
		return (-1);
	(void)gmtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	n = asprintf(&m->data, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n"
	    "Subject: %s\r\nMessage-ID: <%s.%02x%02x%02x%02x%02x%02x%02x%02x"
	    "@korebase>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n%s",
	    date, kb_config.smtp_from, m->to, m->subject, m->id,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
	    m->body);
	if (n < 0)
		abort();
	m->len = (size_t)n;
	m->off = 0;
	return (0);
}

static size_t
mail_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct mail_msg	*m = arg;
	size_t		 n = size * nmemb;

	if (n > m->len - m->off)
		n = m->len - m->off;
	memcpy(buf, m->data + m->off, n);
	m->off += n;
	return (n);
}

/* Abort a transfer when the worker shuts down. */
static int
mail_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	return (atomic_load(&mail.stop) ? 1 : 0);
}

/* 0 when the server accepted the mail; else -1 and the reason in err. */
static int
mail_deliver(struct mail_msg *m, char *err, size_t errlen)
{
	CURL			*c;
	struct curl_slist	*rcpt = NULL;
	char			 cerr[CURL_ERROR_SIZE], from[320], to[320];
	long			 code = 0;
	CURLcode		 rc;

	if (mail_build(m) != 0) {
		(void)snprintf(err, errlen, "bad header value");
		return (-1);
	}
	if ((c = curl_easy_init()) == NULL) {
		(void)snprintf(err, errlen, "curl_easy_init failed");
		return (-1);
	}
	(void)snprintf(from, sizeof(from), "<%s>", kb_config.smtp_from);
	(void)snprintf(to, sizeof(to), "<%s>", m->to);
	if ((rcpt = curl_slist_append(NULL, to)) == NULL)
		abort();
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, kb_config.smtp_url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(c, CURLOPT_READDATA, m);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->len);
	/* STARTTLS when offered; smtps:// URLs are TLS from the start. */
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	if (kb_config.smtp_user != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, kb_config.smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD,
		    kb_config.smtp_password != NULL ?
		    kb_config.smtp_password : "");
		/* Never send credentials in the clear. */
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, MAIL_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, MAIL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, mail_progress);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);

	rc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK)
		return (0);
	(void)snprintf(err, errlen, "%s (SMTP %ld)",
	    cerr[0] != '\0' ? cerr : curl_easy_strerror(rc), code);
	return (-1);
}

/*
 * kb_log() is for the event loop (it shares a buffer with the access
 * log); this one is safe on the sender thread: one write(2) per line.
 */
static void
mail_log(const char *level, const char *fmt, ...)
{
	struct timespec	 ts;
	struct tm	 tm;
	va_list		 ap;
	json_t		*o, *m;
	char		*msg, *line, when[64];

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		abort();
	va_end(ap);
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	(void)snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	if ((m = json_string(msg)) == NULL)	/* not UTF-8 */
		m = json_string("(log message was not valid UTF-8)");
	o = json_pack("{s:s, s:s, s:i, s:o}", "ts", when, "level", level,
	    "pid", (int)getpid(), "msg", m);
	line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (line != NULL) {
		line = realloc(line, strlen(line) + 2);
		if (line == NULL)
			abort();
		(void)strcat(line, "\n");
		kb_log_write(line, strlen(line));
		free(line);
	}
	free(msg);
}
