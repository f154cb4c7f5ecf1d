-- User migrations (issue 4, Migrations API): stored in the database so
-- every server instance sees the same set, applied by the same runner as
-- migrations/ (tools/kb_migrate.c: one transaction each, with the row
-- update that records it, under the runner's advisory lock).
--
-- status: pending (never applied), applied, failed (the last attempt
-- failed and was rolled back; it may be retried), rolled_back (its down
-- SQL ran; it is pending again).

CREATE TABLE kb_migrations (
	name		text PRIMARY KEY
			CHECK (name ~ '^[A-Za-z0-9_.-]{1,200}$'),
	description	text,
	up_sql		text NOT NULL,
	down_sql	text,
	-- hex SHA-256 of up_sql, as tools/kb_migrate.c computes it.
	checksum	text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'applied', 'failed',
			    'rolled_back')),
	error		text,
	sqlstate	text,
	created_by	uuid,
	created_at	timestamptz NOT NULL DEFAULT now(),
	applied_at	timestamptz,
	rolled_back_at	timestamptz
);
