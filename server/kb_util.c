/*
 * Configuration from the environment, and logging as JSON lines.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "kb_server.h"
#include "kb_server_int.h"

struct kb_config	kb_config;

static char		public_url[64];

static long	env_long(const char *, long, long, long);

/*
 * An unset variable takes its default; a set but invalid one is fatal at
 * start-up, so a typo never silently runs with the wrong setting.
 */
static long
env_long(const char *name, long def, long min, long max)
{
	const char	*v;
	char		*end;
	long		 n;

	if ((v = getenv(name)) == NULL || *v == '\0')
		return (def);
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		fatal("%s=%s: expected an integer in %ld..%ld", name, v,
		    min, max);
	return (n);
}

void
kb_config_load(void)
{
	const char	*v;

	v = getenv("DATABASE_URL");
	kb_config.database_url = (v && *v) ? v :
	    "postgresql:///korebase?host=/tmp";
	kb_config.db_pool = (int)env_long("KB_DB_POOL", 2, 1, 64);
	kb_config.db_timeout_ms = (int)env_long("KB_DB_TIMEOUT_MS", 5000,
	    0, INT_MAX);
	kb_config.body_max = (size_t)env_long("KB_BODY_MAX", 1024 * 1024,
	    1, 64L * 1024 * 1024);
	v = getenv("KB_SWAGGER_DIR");
	kb_config.swagger_dir = (v && *v) ? v :
	    "node_modules/swagger-ui-dist";
	kb_config.access_log = (int)env_long("KB_ACCESS_LOG", 1, 0, 1);
	kb_config.work_threads = (int)env_long("KB_WORK_THREADS", 2, 1, 64);
	kb_config.dev_mode = (int)env_long("KB_DEV_MODE", 0, 0, 1);
	v = getenv("KB_JWT_SECRET");
	kb_config.jwt_secret = (v && *v) ? v : NULL;
	v = getenv("KB_JWT_ISSUER");
	kb_config.jwt_issuer = (v && *v) ? v : "korebase";
	v = getenv("KB_JWT_AUDIENCE");
	kb_config.jwt_audience = (v && *v) ? v : "authenticated";
	kb_config.jwt_ttl = (int)env_long("KB_JWT_TTL", 3600, 60, 86400 * 7);
	v = getenv("KB_SETUP_TOKEN");
	kb_config.setup_token = (v && *v) ? v : NULL;
	kb_config.session_ttl = (int)env_long("KB_SESSION_TTL", 86400 * 30,
	    60, 86400 * 3650);
	kb_config.refresh_ttl = (int)env_long("KB_REFRESH_TTL",
	    kb_config.session_ttl, 60, 86400 * 3650);
	kb_config.sql_timeout_ms = (int)env_long("KB_SQL_TIMEOUT_MS", 5000,
	    1, 600000);
	kb_config.janitor_ms = (int)env_long("KB_JANITOR_INTERVAL_MS", 3600000,
	    0, 86400000);
	kb_config.rpc_retention_days = (int)env_long("KB_RPC_RETENTION_DAYS",
	    30, 1, 3650);
	kb_config.rpc_async_timeout_ms = (int)env_long(
	    "KB_RPC_ASYNC_TIMEOUT_MS", 3600000, 0, INT_MAX);
	kb_config.rpc_lease_s = (int)env_long("KB_RPC_LEASE_S", 60, 3, 86400);
	v = getenv("KB_TABLES_SCHEMAS");
	kb_config.tables_schemas = (v && *v) ? v : "public";
	v = getenv("KB_TABLES_EXCLUDE");
	kb_config.tables_exclude = v ? v : KB_TABLES_EXCLUDE_DEFAULT;

	/* Unset: this machine on PORT (what scripts/run.sh binds). */
	v = getenv("KB_PUBLIC_URL");
	if (v == NULL || *v == '\0') {
		(void)snprintf(public_url, sizeof(public_url),
		    "http://127.0.0.1:%ld", env_long("PORT", 8080, 1, 65535));
		v = public_url;
	}
	kb_config.public_url = v;
	if (strncmp(kb_config.public_url, "http://", 7) != 0 &&
	    strncmp(kb_config.public_url, "https://", 8) != 0)
		fatal("KB_PUBLIC_URL=%s: expected http://... or https://...",
		    kb_config.public_url);
	v = getenv("KB_SMTP_URL");
	kb_config.smtp_url = (v && *v) ? v : NULL;
	v = getenv("KB_SMTP_FROM");
	kb_config.smtp_from = (v && *v) ? v : "korebase@localhost";
	if (strpbrk(kb_config.smtp_from, "\r\n<>") != NULL)
		fatal("KB_SMTP_FROM: expected a bare address (no <>, CR, LF)");
	v = getenv("KB_SMTP_USER");
	kb_config.smtp_user = (v && *v) ? v : NULL;
	v = getenv("KB_SMTP_PASSWORD");
	kb_config.smtp_password = (v && *v) ? v : NULL;
	kb_config.mail_sender = (int)env_long("KB_MAIL_SENDER", 1, 0, 1);
	kb_config.mail_poll_ms = (int)env_long("KB_MAIL_POLL_MS", 1000, 10,
	    60000);
	kb_config.mail_retry_ms = (int)env_long("KB_MAIL_RETRY_BASE_MS",
	    30000, 10, 3600000);
	kb_config.mail_max_attempts = (int)env_long("KB_MAIL_MAX_ATTEMPTS", 8,
	    1, 100);
	kb_config.mail_rate_s = (int)env_long("KB_MAIL_RATE_SECONDS", 60, 0,
	    86400);
	kb_config.verify_ttl = (int)env_long("KB_VERIFY_TTL", 86400, 60,
	    86400 * 30);
	kb_config.magiclink_ttl = (int)env_long("KB_MAGICLINK_TTL", 3600, 60,
	    86400);
	kb_config.reset_ttl = (int)env_long("KB_RESET_TTL", 3600, 60, 86400);
	kb_config.otp_ttl = (int)env_long("KB_OTP_TTL", 600, 60, 3600);
	kb_config.otp_max_attempts = (int)env_long("KB_OTP_MAX_ATTEMPTS", 5, 1,
	    20);
	kb_config.otp_create_user = (int)env_long("KB_AUTH_OTP_CREATE_USER", 0,
	    0, 1);
}

u_int64_t
kb_now_us(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ((u_int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * RFC 3339 UTC with milliseconds; a static buffer, valid until the next
 * call.  The date and time of day are formatted once per second.
 */
const char *
kb_log_time(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (kb_log_time_at(&ts));
}

const char *
kb_log_time_at(const struct timespec *ts)
{
	static char	buf[64];
	static time_t	last = -1;
	struct tm	tm;
	long		ms;

	if (ts->tv_sec != last) {
		last = ts->tv_sec;
		(void)gmtime_r(&ts->tv_sec, &tm);
		(void)snprintf(buf, sizeof(buf),
		    "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	ms = ts->tv_nsec / 1000000;
	buf[20] = (char)('0' + ms / 100);
	buf[21] = (char)('0' + ms / 10 % 10);
	buf[22] = (char)('0' + ms % 10);
	return (buf);
}

/* One write(2) per line, so lines from several workers never interleave. */
void
kb_log_write(const char *line, size_t len)
{
	ssize_t		n;

	while (len > 0) {
		n = write(STDOUT_FILENO, line, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/*
 * Access-log lines are batched: written when the buffer fills or, at the
 * latest, by the next flush tick (KB_LOG_FLUSH_MS), one write(2) for many
 * lines.  Other log lines flush the buffer first to keep the order.
 */
#define LOG_BUF		(64 * 1024)

static char	log_buf[LOG_BUF];
static size_t	log_len;

void
kb_log_flush(void)
{
	if (log_len > 0) {
		kb_log_write(log_buf, log_len);
		log_len = 0;
	}
}

void
kb_log_buffered(const char *line, size_t len)
{
	if (log_len + len > sizeof(log_buf))
		kb_log_flush();
	if (len > sizeof(log_buf)) {
		kb_log_write(line, len);
		return;
	}
	memcpy(log_buf + log_len, line, len);
	log_len += len;
}

/*
 * Write `s` as the inside of a JSON string into `out` (always
 * terminated; truncated to fit).  Control characters and bytes >= 0x80
 * (request paths are raw bytes, not necessarily UTF-8) become \u00XX, so
 * the line is always valid JSON.
 */
void
kb_json_escape(const char *s, char *out, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			o;
	unsigned char		c;

	for (o = 0; *s != '\0' && o + 7 < len; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f || c >= 0x80) {
			/* Request paths are raw bytes: keep the log valid. */
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

void
kb_log(const char *level, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[1024], *enc, line[1400];
	json_t		*s;
	int		 n;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	s = json_string(msg);
	if (s == NULL)			/* not UTF-8 */
		s = json_string("(log message was not valid UTF-8)");
	enc = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	n = snprintf(line, sizeof(line),
	    "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%d,\"msg\":%s}\n",
	    kb_log_time(), level, (int)getpid(), enc ? enc : "\"\"");
	free(enc);
	kb_log_flush();
	if (n > 0)
		kb_log_write(line, (size_t)(n < (int)sizeof(line) ? n :
		    (int)sizeof(line) - 1));
}
