-- The schema cache refreshes when DDL runs (issue 4).
--
-- Every worker's schema cache (server/kb_schema_cache.c) LISTENs on
-- kb_schema_changed and reloads the catalog shortly after a notification.
-- These event triggers send one at the end of every DDL command and for
-- every drop, whoever runs it (psql, a migration, the SQL endpoint).
--
-- Event triggers need a superuser.  Without one this migration creates
-- nothing and says so: the cache then refreshes when a worker restarts,
-- or by hand with `NOTIFY kb_schema_changed`.

CREATE OR REPLACE FUNCTION kb_schema_notify() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('kb_schema_changed', tg_tag);
END
$$;

REVOKE EXECUTE ON FUNCTION kb_schema_notify() FROM PUBLIC;

DO $$
BEGIN
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
	    THEN
		RAISE NOTICE 'kb_schema_notify: not a superuser, no event '
		    'triggers; NOTIFY kb_schema_changed after DDL by hand';
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_event_trigger
	    WHERE evtname = 'kb_schema_notify_ddl') THEN
		CREATE EVENT TRIGGER kb_schema_notify_ddl ON ddl_command_end
		    EXECUTE FUNCTION kb_schema_notify();
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_event_trigger
	    WHERE evtname = 'kb_schema_notify_drop') THEN
		CREATE EVENT TRIGGER kb_schema_notify_drop ON sql_drop
		    EXECUTE FUNCTION kb_schema_notify();
	END IF;
END
$$;
