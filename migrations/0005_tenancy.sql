-- Tenancy and keys (issue 3): tenants, their members and settings,
-- invitations, service keys, client keys, and the one function the
-- credentials gate calls to resolve a key or a tenant selection.
--
-- Every tenant-scoped row carries tenant_id.  Handlers filter every
-- statement by the tenant the gate resolved (kb_caller.tenant), never by
-- one the client names in a body.

CREATE TABLE tenants (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- X-FB-Tenant: <slug>.  Lower case, DNS-label shaped.
	slug		citext NOT NULL UNIQUE
			CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	metadata	jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(metadata) = 'object'),
	created_by	uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	-- Soft delete: a deleted tenant is invisible to its members and
	-- its keys stop working; POST .../recover clears it.
	deleted_at	timestamptz,
	deleted_by	uuid
);

CREATE INDEX tenants_deleted ON tenants (deleted_at) WHERE deleted_at IS NOT NULL;

-- Membership.  role 'admin' makes the user a tenant_admin of the tenant.
CREATE TABLE tenant_members (
	tenant_id	uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role		text NOT NULL DEFAULT 'member'
			CHECK (role IN ('member', 'admin')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, user_id)
);

CREATE INDEX tenant_members_user ON tenant_members (user_id);

CREATE TABLE tenant_settings (
	tenant_id	uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	key		text NOT NULL CHECK (key ~ '^[A-Za-z0-9_.:-]{1,255}$'),
	value		jsonb NOT NULL,
	updated_by	uuid,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, key)
);

-- Invitations: a tenant admin invites an e-mail address; whoever holds
-- the token (sent to that address) and is signed in as that address
-- accepts it.  Only the token's SHA-256 is stored.
CREATE TABLE invitations (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id	uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	email		citext NOT NULL,
	role		text NOT NULL DEFAULT 'member'
			CHECK (role IN ('member', 'admin')),
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	invited_by	uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	accepted_at	timestamptz,
	accepted_by	uuid,
	revoked_at	timestamptz
);

CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at DESC);

-- Service keys: "kbsk_" + 43 base64url characters (256 random bits),
-- shown once; only the SHA-256 is stored and looked up (a unique index
-- compares hashes, so there is no timing oracle on the key).  tenant_id
-- NULL makes an instance-wide key.  A key works while status is
-- 'active', it has not expired and any deprecation grace has not ended.
CREATE TABLE service_keys (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id	uuid REFERENCES tenants (id) ON DELETE CASCADE,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description	text,
	key_prefix	text NOT NULL,		-- "kbsk_" + 8 characters
	key_hash	text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
	scopes		text[] NOT NULL DEFAULT '{}',
	status		text NOT NULL DEFAULT 'active'
			CHECK (status IN ('active', 'disabled', 'revoked')),
	expires_at	timestamptz,
	deprecated_at	timestamptz,
	grace_until	timestamptz,
	replaced_by	uuid REFERENCES service_keys (id) ON DELETE SET NULL,
	created_by	uuid,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	revoked_at	timestamptz,
	revoked_by	uuid,
	revoke_reason	text
);

CREATE INDEX service_keys_tenant ON service_keys (tenant_id, created_at DESC);

-- Revocation history: every revoke, deprecate, rotate, disable, enable.
CREATE TABLE service_key_events (
	id		bigserial PRIMARY KEY,
	key_id		uuid NOT NULL REFERENCES service_keys (id) ON DELETE CASCADE,
	tenant_id	uuid,
	action		text NOT NULL,
	reason		text,
	actor_id	uuid,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX service_key_events_key ON service_key_events (key_id, id);

-- Client keys (X-Client-Key): "kbck_" + 43 characters.  A client key acts
-- as the user who made it, with the role authenticated (never an admin
-- role) and only its scopes.
CREATE TABLE client_keys (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	tenant_id	uuid REFERENCES tenants (id) ON DELETE CASCADE,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description	text,
	key_prefix	text NOT NULL,
	key_hash	text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
	scopes		text[] NOT NULL DEFAULT '{}',
	expires_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	revoked_at	timestamptz,
	revoke_reason	text
);

CREATE INDEX client_keys_user ON client_keys (user_id, created_at DESC);

ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS key_id uuid;

-- The credentials gate's one question, asked only when a request carries a
-- key or selects a tenant (a plain JWT caller costs no query):
--
--   p_kind	'service' (p_key_hash of a kbsk_ key), 'client' (kbck_), or
--		'user' (a verified JWT: p_user, p_role)
--   p_tenant	X-FB-Tenant or the operation's tenant path parameter (slug
--		or id), or NULL
--
-- Answers one row: status 'ok' or why not (invalid, disabled, revoked,
-- expired, user_locked, tenant_unknown, tenant_mismatch, not_member), and
-- for 'ok' the caller: sub, role, tenant id, tenant role, scopes, key id.
-- An unknown tenant and one the caller may not see answer the same
-- 'not_member', so the answer does not reveal which tenants exist.
CREATE FUNCTION kb_resolve_caller(p_kind text, p_key_hash text,
    p_user uuid, p_role text, p_tenant text)
RETURNS TABLE (status text, sub uuid, role text, tenant_id uuid,
    tenant_role text, scopes text[], key_id uuid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	k_tenant	uuid;
	t_id		uuid;
	t_deleted	timestamptz;
	m_role		text;
BEGIN
	status := 'ok';
	IF p_kind = 'service' THEN
		SELECT k.id, k.tenant_id, k.scopes,
		    CASE WHEN k.status <> 'active' THEN k.status
		         WHEN k.expires_at <= now() THEN 'expired'
		         WHEN k.grace_until <= now() THEN 'expired'
		         ELSE 'ok' END
		  INTO key_id, k_tenant, scopes, status
		  FROM service_keys k WHERE k.key_hash = p_key_hash;
		IF NOT FOUND THEN
			status := 'invalid';
		END IF;
		role := 'service_role';
	ELSIF p_kind = 'client' THEN
		SELECT k.id, k.tenant_id, k.scopes, k.user_id,
		    CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
		         WHEN k.expires_at <= now() THEN 'expired'
		         WHEN u.locked_until > now() THEN 'user_locked'
		         ELSE 'ok' END
		  INTO key_id, k_tenant, scopes, sub, status
		  FROM client_keys k JOIN users u ON u.id = k.user_id
		 WHERE k.key_hash = p_key_hash;
		IF NOT FOUND THEN
			status := 'invalid';
		END IF;
		role := 'authenticated';
	ELSE
		sub := p_user;
		role := p_role;
	END IF;
	IF status <> 'ok' THEN
		RETURN NEXT;
		RETURN;
	END IF;

	-- The tenant in effect: the one selected, which must be the key's
	-- own if the key has one, or else the key's.
	IF p_tenant IS NOT NULL THEN
		SELECT t.id INTO t_id FROM tenants t
		 WHERE t.slug = p_tenant::citext OR t.id::text = lower(p_tenant);
		IF k_tenant IS NOT NULL AND t_id IS DISTINCT FROM k_tenant THEN
			status := 'tenant_mismatch';
		ELSIF t_id IS NULL AND p_kind = 'user' AND
		    p_role IN ('admin', 'instance_admin') THEN
			status := 'tenant_unknown';
		ELSIF t_id IS NULL THEN
			status := 'not_member';
		END IF;
	ELSE
		t_id := k_tenant;
	END IF;

	IF status = 'ok' AND t_id IS NOT NULL THEN
		SELECT t.deleted_at INTO t_deleted FROM tenants t
		 WHERE t.id = t_id;
		SELECT m.role INTO m_role FROM tenant_members m
		 WHERE m.tenant_id = t_id AND m.user_id = sub;
		IF p_kind = 'user' AND p_role IN ('admin', 'instance_admin') THEN
			-- Instance administrators reach every tenant, deleted
			-- ones included (to recover them).
			NULL;
		ELSIF t_deleted IS NOT NULL THEN
			status := CASE WHEN k_tenant IS NOT NULL THEN 'revoked'
			    ELSE 'not_member' END;
		ELSIF p_kind = 'service' THEN
			-- A service key acts in its own tenant; an
			-- instance-wide one in any live tenant.
			NULL;
		ELSIF m_role IS NULL THEN
			-- Users and client keys act as a user, who must be
			-- a member.
			status := 'not_member';
		END IF;
		tenant_id := t_id;
		tenant_role := m_role;
	END IF;
	IF status <> 'ok' THEN
		sub := NULL; role := NULL; tenant_id := NULL;
		tenant_role := NULL; scopes := NULL;
	END IF;
	RETURN NEXT;
END
$$;
