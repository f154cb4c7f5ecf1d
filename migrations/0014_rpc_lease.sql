-- A lease on running RPC executions (handlers/rpc.c).  The worker that
-- holds a background call, running or waiting for a slot, renews its
-- row's heartbeat_at every third of KB_RPC_LEASE_S.  A worker that dies
-- (a crash, a kill, a lost machine) renews nothing, and any worker marks
-- a `running` row whose lease ran out as failed, so no execution stays
-- `running` forever.

ALTER TABLE rpc_executions
    ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now();

CREATE INDEX rpc_executions_running ON rpc_executions (heartbeat_at)
    WHERE status = 'running';
