-- Identity, first slice (issue 3): users, sessions, refresh tokens, the
-- sign-in failure counter for e-mails without an account, and the audit
-- log.  Every change made through /api/v1/auth writes an audit_log row in
-- the same statement as the change (see handlers/auth.c).

-- Case-insensitive e-mail addresses.  citext is a trusted extension
-- (PostgreSQL 13+): a database owner may create it.
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TABLE users (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	email		citext NOT NULL UNIQUE
			CHECK (length(email) BETWEEN 3 AND 254),
	-- argon2id PHC string; carries its own parameters.
	password_hash	text NOT NULL,
	user_metadata	jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(user_metadata) = 'object'),
	role		text NOT NULL DEFAULT 'authenticated',
	-- Consecutive failed sign-ins since the last success or lock.
	failed_signins	int NOT NULL DEFAULT 0,
	locked_until	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	last_sign_in_at	timestamptz
);

CREATE TABLE sessions (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	revoked_at	timestamptz,
	user_agent	text,
	ip		text
);

CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens are opaque ("kbrt_..."); only their SHA-256 (hex) is
-- stored.  A token is rotated on use (rotated_at set, a new row added);
-- presenting a rotated one revokes its whole session.
CREATE TABLE refresh_tokens (
	id		bigserial PRIMARY KEY,
	session_id	uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	rotated_at	timestamptz,
	revoked		boolean NOT NULL DEFAULT false
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed sign-ins for e-mail addresses that have no account, counted and
-- locked exactly like users.failed_signins / locked_until, so the lockout
-- answer does not tell whether an address has an account.
CREATE TABLE signin_failures (
	email		citext PRIMARY KEY,
	failed_signins	int NOT NULL DEFAULT 0,
	locked_until	timestamptz,
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX signin_failures_updated ON signin_failures (updated_at);

CREATE TABLE audit_log (
	id		bigserial PRIMARY KEY,
	tenant_id	uuid,
	actor_id	uuid,
	action		text NOT NULL,
	target		text,
	request_id	text,
	client_addr	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	details		jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_actor ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_created ON audit_log (created_at);

CREATE FUNCTION users_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

-- updated_at tracks profile changes only, not sign-in bookkeeping.
CREATE TRIGGER users_touch BEFORE UPDATE OF email, password_hash,
	user_metadata, role ON users
	FOR EACH ROW EXECUTE FUNCTION users_touch();
