-- Roles for row-level security (issue 4).
--
-- Every Tables request runs as the PostgreSQL role that matches its
-- caller, with the caller's claims visible to SQL, as PostgREST does:
-- the server runs, in the request's own transaction,
--
--	SELECT set_config('role', <role>, true),
--	    set_config('request.jwt.claims', <claims JSON>, true)
--
-- and the statements after it see current_user = anon, authenticated or
-- service_role, and auth.uid(), auth.role(), auth.jwt() below.  RLS
-- policies written in SQL decide what each caller sees and changes.
--
-- Roles are cluster-wide, so this file only creates what is missing (a
-- deployment may create them beforehand, with its own attributes) and
-- is safe to run in every database of a cluster.  None of them can log
-- in.  service_role bypasses row-level security, as in Supabase.
--
-- The roles are granted to the role that runs the migrations, which is
-- the role the server connects as (DATABASE_URL), so `SET ROLE` works
-- when that role is not a superuser.  No table privileges are granted
-- here: korebase's own tables stay out of reach of these roles, and
-- yours are reachable once you GRANT them (docs/configuration.md).

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN NOINHERIT;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles
	    WHERE rolname = 'authenticated') THEN
		CREATE ROLE authenticated NOLOGIN NOINHERIT;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles
	    WHERE rolname = 'service_role') THEN
		CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
	END IF;
END
$$;

-- Membership, so the server's role may switch to each of them.  A
-- superuser may switch anyway; granting costs nothing there either.
DO $$
DECLARE
	r	text;
BEGIN
	FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
		IF current_user <> r AND
		    NOT pg_has_role(current_user, r, 'MEMBER') THEN
			EXECUTE format('GRANT %I TO %I', r, current_user);
		END IF;
	END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- korebase's own functions are not for these roles (PUBLIC may execute
-- a new function by default).
REVOKE EXECUTE ON FUNCTION kb_resolve_caller(text, text, uuid, text, text)
    FROM PUBLIC;

-- Helpers for policies, named as in Supabase so its policies carry over:
--
--	CREATE POLICY own_rows ON notes USING (owner = auth.uid());
--
-- They read request.jwt.claims, which the server sets per request (the
-- caller's verified claims: sub, role, sid, and tenant_id and
-- tenant_role when a tenant was resolved).  Outside a request they are
-- NULL.  The schema holds nothing else; it is never exposed as tables.
CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

-- The whole claims object, or NULL.
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb
$$;

-- The caller's user id (the `sub` claim), or NULL for anon and keys.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE AS $$
	SELECT nullif(auth.jwt() ->> 'sub', '')::uuid
$$;

-- The caller's role claim: anon, authenticated, service_role, ...
CREATE OR REPLACE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(auth.jwt() ->> 'role', current_user::text)
$$;

-- The tenant the request acts in (resolved and checked by the server),
-- or NULL: `USING (tenant_id = auth.tenant_id())` isolates tenants.
CREATE OR REPLACE FUNCTION auth.tenant_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
	SELECT nullif(auth.jwt() ->> 'tenant_id', '')::uuid
$$;

GRANT EXECUTE ON FUNCTION auth.jwt(), auth.uid(), auth.role(),
    auth.tenant_id() TO anon, authenticated, service_role;
