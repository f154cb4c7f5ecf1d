-- Two-factor authentication (issue 3): TOTP secrets, recovery codes and
-- sign-in challenges.  See docs/auth.md and handlers/mfa.c.
--
--  user_mfa.secret_enc:	the 20-byte TOTP secret, AES-256-GCM encrypted
--			under a key derived from KB_JWT_SECRET (HMAC-SHA256
--			of "kb-mfa-secret-key"), the user id as associated
--			data; hex of nonce (12) | ciphertext (20) | tag (16).
--  user_mfa.last_step:	the TOTP time step of the last accepted code; a
--			step is never accepted twice (-1: none yet).
--  mfa_recovery_codes:	HMAC-SHA256 of each normalized recovery code under
--			a pepper derived from KB_JWT_SECRET (HMAC-SHA256 of
--			"kb-recovery-pepper"), single use.
--  mfa_challenges:	SHA-256 of the opaque challenge that sign-in hands
--			out when 2FA is on; single use, 5 minutes.

CREATE TABLE user_mfa (
	user_id		uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret_enc	text NOT NULL CHECK (secret_enc ~ '^[0-9a-f]{96}$'),
	enabled		boolean NOT NULL DEFAULT false,
	last_step	bigint NOT NULL DEFAULT -1,
	created_at	timestamptz NOT NULL DEFAULT now(),
	enabled_at	timestamptz
);

CREATE TABLE mfa_recovery_codes (
	id		bigserial PRIMARY KEY,
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash	text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
	used_at		timestamptz,
	UNIQUE (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
	id		bigserial PRIMARY KEY,
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	used_at		timestamptz,
	user_agent	text,
	ip		text
);

CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_expires ON mfa_challenges (expires_at);
