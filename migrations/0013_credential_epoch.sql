-- The credential epoch: what lets each worker remember how it resolved a
-- key (server/kb_auth.c, the credential cache) without ever honouring a
-- key after it was revoked.
--
-- Every change that can alter what kb_resolve_caller() answers for a key
-- or a tenant selection (keys, tenants, memberships, a user's lock) bumps
-- the one epoch in the same transaction.  The gate reads the epoch with
-- its resolution, in the same snapshot, and remembers both.  A request
-- served from that memory checks the epoch in its first statement: when
-- it moved on (or the key's expiry passed), the statement fails before
-- anything of the request ran, and the server resolves the caller again.  So a revocation takes effect
-- for the next statement that starts after it commits, as without a cache.

CREATE TABLE kb_credential_epoch (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	epoch		bigint NOT NULL
);

INSERT INTO kb_credential_epoch (one, epoch) VALUES (true, 1);

CREATE FUNCTION kb_credential_epoch_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE kb_credential_epoch SET epoch = epoch + 1;
	RETURN NULL;
END
$$;

CREATE TRIGGER kb_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_keys
    FOR EACH STATEMENT EXECUTE FUNCTION kb_credential_epoch_bump();
CREATE TRIGGER kb_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON client_keys
    FOR EACH STATEMENT EXECUTE FUNCTION kb_credential_epoch_bump();
CREATE TRIGGER kb_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION kb_credential_epoch_bump();
CREATE TRIGGER kb_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenant_members
    FOR EACH STATEMENT EXECUTE FUNCTION kb_credential_epoch_bump();
-- Users: only a lock that starts or ends (a client key stops working
-- while its user is locked); every successful sign-in writes
-- locked_until, so the row must have changed.
CREATE TRIGGER kb_credential_epoch
    AFTER UPDATE OF locked_until ON users
    FOR EACH ROW WHEN (OLD.locked_until IS DISTINCT FROM NEW.locked_until)
    EXECUTE FUNCTION kb_credential_epoch_bump();

REVOKE EXECUTE ON FUNCTION kb_credential_epoch_bump() FROM PUBLIC;

-- kb_resolve_caller answers one row.  With the default estimate of 1000
-- the gate's statement priced itself past jit_above_cost and spent
-- ~170 ms compiling on every call.
ALTER FUNCTION kb_resolve_caller(text, text, uuid, text, text) ROWS 1;
-- The check (server/kb_caller.c) runs first in a request's first
-- statement, where a batch of reads may still be in the previous
-- request's role: the request roles may read the epoch.  It is a counter
-- and tells nothing else.
GRANT SELECT ON kb_credential_epoch TO anon, authenticated, service_role;
