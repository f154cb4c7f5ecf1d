-- Sessions (issue 3): listing and revoking them, and reauthentication.
--  refreshed_at:	the session's last refresh-token exchange (how
--			recently a client used it), NULL if never.
--  reauthenticated_at:	the last password confirmation on the session
--			(POST /api/v1/auth/reauthenticate), so sensitive
--			operations can require a recent one.

ALTER TABLE sessions
	ADD COLUMN refreshed_at		timestamptz,
	ADD COLUMN reauthenticated_at	timestamptz;

-- The caller's active sessions, newest first.
CREATE INDEX sessions_user_active ON sessions (user_id, created_at DESC)
	WHERE revoked_at IS NULL;
