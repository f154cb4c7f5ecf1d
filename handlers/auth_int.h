/*
 * Shared by the auth handlers (auth.c, mfa.c): SQL fragments and helpers.
 */

#ifndef AUTH_INT_H
#define AUTH_INT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common.h"

struct kb_ctx;
struct kb_caller;

#define REFRESH_PREFIX		"kbrt_"
#define REFRESH_BYTES		32


/* A users row `u` as GoTrue clients expect a user. */
#define USER_JSON							\
	"json_build_object('id', u.id, 'aud', 'authenticated',"		\
	" 'role', u.role, 'email', u.email,"				\
	" 'email_confirmed_at', " TS("u.email_confirmed_at") ","		\
	" 'user_metadata', u.user_metadata, 'app_metadata',"		\
	" json_build_object('provider', 'email', 'providers',"		\
	" json_build_array('email')),"					\
	" 'created_at', " TS("u.created_at") ","				\
	" 'updated_at', " TS("u.updated_at") ","				\
	" 'last_sign_in_at', " TS("u.last_sign_in_at") ")::text"

/* The roles of instance administrators, as an SQL list. */
#define ADMIN_ROLES	"('admin', 'instance_admin')"

#define AUDIT_COLS	"audit_log (actor_id, action, target, request_id," \
			" client_addr, details)"

/* A new refresh token and its hash; 1 when it answered 500. */
int	auth_refresh_new(struct kb_ctx *, char *, size_t, char *, size_t);
/* Answer a session from a row (user id, role, session id, user JSON). */
void	auth_respond_session(struct kb_ctx *, int, PGresult *, const char *);
void	auth_respond_invalid_credentials(struct kb_ctx *);
/* 0 when it answered 401: no user token with a sub and sid. */
int	auth_caller_ok(struct kb_ctx *, const struct kb_caller **);
int	auth_is_uuid(const char *);
/*
 * For an authenticated caller, run `stmt` with $1 = user id, $2 = session
 * id; otherwise answer 401 (auth_caller_ok) and do nothing.
 */
void	auth_query_caller(struct kb_ctx *, struct kb_stmt *, kb_db_cb, void *);
/* Log a password check that failed for another reason than a mismatch. */
void	auth_log_pw_error(const char *, int);

/* Sign in (admin: administrators only) and refresh, answering. */
void	auth_signin(struct kb_ctx *, const char *, const char *, int);
void	auth_refresh(struct kb_ctx *, const char *, int);
/* 0 when it answered 400: a password over KB_PASSWORD_MAX_LEN bytes. */
int	auth_password_bytes_ok(struct kb_ctx *, const char *);
/*
 * email.c: a new e-mail verification token (its hash into `hash`) and the
 * mail for it; the body is malloc'd, NULL when it answered 500.
 */
char	*email_verify_mail(struct kb_ctx *, const char *, char *, size_t,
	    const char **);

/*
 * email.c: a mail body (malloc'd, freed here) sealed for `to` the way
 * mail_outbox stores bodies; malloc'd, NULL on failure.
 */
char	*email_seal(const char *to, char *body);

/* End the caller's session and its refresh tokens; 204, or 401. */
void	auth_signout(struct kb_ctx *, const char *audit_action);

/* mfa.c: sign-in of user_id (password right, 2FA on) answers a challenge. */
void	mfa_signin_challenge(struct kb_ctx *, const char *);

#endif /* !AUTH_INT_H */
