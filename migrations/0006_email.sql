-- E-mail flows (issue 3): address verification, magic links, password
-- reset and one-time sign-in codes, and the outbox their mail goes
-- through.  See docs/auth.md ("E-mail flows") and handlers/email.c.
--
--  users.email_confirmed_at:	when the address was proven (a verification
--			link, a magic link, an OTP or a password reset
--			followed).  Changing the address clears it.
--  email_tokens:	one row per link or code sent.  Only a hash is
--			stored: SHA-256 (hex) of the opaque link tokens
--			("kbev_", "kbml_", "kbpr_"), and for the 6-digit
--			OTP codes an HMAC-SHA256 of "<email>:<code>" under a
--			pepper derived from KB_JWT_SECRET (a leaked table
--			does not give the codes away by a 10^6 search).
--			Single use (used_at), with an expiry; a new token of
--			a kind for an address ends the older unused ones.
--			OTP codes die after KB_OTP_MAX_ATTEMPTS wrong tries.
--			user_id is NULL only for an OTP or magic link sent
--			to an address without an account when
--			KB_AUTH_OTP_CREATE_USER=1.
--  email_send_limits:	the last mail of each kind to each address, for
--			the per-address rate limit (KB_MAIL_RATE_SECONDS).
--  mail_outbox:	mail waiting for the sender (server/kb_mail.c):
--			pending -> sending (claimed, with a lease until
--			next_attempt_at) -> sent | failed, retried with
--			exponential backoff.  The body carries a live link
--			or code, so it is stored sealed (AES-256-GCM under a
--			key derived from KB_JWT_SECRET, to_addr as associated
--			data: "kbs1.<base64url>") and emptied once the mail
--			is sent or has failed for good.

ALTER TABLE users ADD COLUMN email_confirmed_at timestamptz;

CREATE TABLE email_tokens (
	id		bigserial PRIMARY KEY,
	user_id		uuid REFERENCES users (id) ON DELETE CASCADE,
	email		citext NOT NULL,
	kind		text NOT NULL
			CHECK (kind IN ('verify', 'magiclink', 'reset', 'otp')),
	token_hash	text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	attempts	int NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	used_at		timestamptz,
	ip		text
);

-- Link tokens are looked up by hash alone; OTP hashes are looked up with
-- the address and may repeat over time (10^6 codes), so they are exempt.
CREATE UNIQUE INDEX email_tokens_hash ON email_tokens (token_hash)
	WHERE kind <> 'otp';
CREATE INDEX email_tokens_live ON email_tokens (email, kind)
	WHERE used_at IS NULL;
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);

CREATE TABLE email_send_limits (
	email		citext NOT NULL,
	kind		text NOT NULL,
	sent_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (email, kind)
);

CREATE TABLE mail_outbox (
	id		bigserial PRIMARY KEY,
	to_addr		text NOT NULL CHECK (to_addr !~ '[\r\n]'),
	subject		text NOT NULL CHECK (subject !~ '[\r\n]'),
	body		text NOT NULL,
	kind		text,
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'sending', 'sent',
			'failed')),
	attempts	int NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	sent_at		timestamptz
);

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id)
	WHERE status IN ('pending', 'sending');

-- Wake the sender (LISTEN kb_mail) as soon as mail is committed; it also
-- polls every KB_MAIL_POLL_MS, so a lost notification only delays mail.
CREATE FUNCTION mail_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('kb_mail', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER mail_outbox_notify AFTER INSERT ON mail_outbox
	FOR EACH ROW EXECUTE FUNCTION mail_outbox_notify();
