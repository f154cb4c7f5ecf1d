-- RPC executions (issue 4, RPC): calls of PostgreSQL functions made with
-- `Prefer: respond-async` (handlers/rpc.c).  The server inserts the row
-- as `running`, answers 202, runs the call on a helper thread with a
-- connection of its own, writes every NOTICE, WARNING and INFO the
-- function raises to rpc_execution_logs as it arrives, and records the
-- outcome here.
--
-- Only the caller who started an execution (same user, or same key) and
-- instance administrators read it back, through the API; the database
-- roles anon, authenticated and service_role get no privilege here, and
-- both tables are in KB_TABLES_EXCLUDE_DEFAULT.

CREATE TABLE rpc_executions (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	namespace	text NOT NULL,
	name		text NOT NULL,
	-- The named arguments as the caller sent them.
	args		jsonb NOT NULL DEFAULT '{}',
	-- Who started it: a user (JWT or client key), a key, a tenant.
	caller_sub	uuid,
	caller_key_id	uuid,
	tenant_id	uuid,
	-- The database role the call ran as.
	caller_role	text NOT NULL,
	status		text NOT NULL DEFAULT 'running'
			CHECK (status IN ('running', 'succeeded', 'failed')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	duration_ms	double precision,
	result		jsonb,
	error		text,
	sqlstate	text
);

CREATE INDEX rpc_executions_sub ON rpc_executions (caller_sub, created_at)
    WHERE caller_sub IS NOT NULL;
CREATE INDEX rpc_executions_key ON rpc_executions (caller_key_id, created_at)
    WHERE caller_key_id IS NOT NULL;

CREATE TABLE rpc_execution_logs (
	execution_id	uuid NOT NULL
			REFERENCES rpc_executions (id) ON DELETE CASCADE,
	seq		integer NOT NULL CHECK (seq > 0),
	-- NOTICE, WARNING, INFO, LOG or DEBUG (PostgreSQL's severity).
	level		text NOT NULL,
	message		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (execution_id, seq)
);
