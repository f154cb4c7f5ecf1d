-- Instance settings.  Public ones (is_public) are readable without
-- credentials through GET /api/v1/settings.
CREATE TABLE settings (
	key		text PRIMARY KEY
			CHECK (key ~ '^[A-Za-z0-9_.:-]{1,255}$'),
	value		jsonb NOT NULL,
	description	text,
	is_public	boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX settings_public_key ON settings (key) WHERE is_public;

CREATE FUNCTION settings_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

CREATE TRIGGER settings_touch BEFORE UPDATE ON settings
	FOR EACH ROW EXECUTE FUNCTION settings_touch();

INSERT INTO settings (key, value, description, is_public) VALUES
	('app.name', '"korebase"', 'Display name of this instance', true),
	('auth.signup_enabled', 'true', 'Whether new users may sign up', true),
	('storage.max_upload_bytes', '52428800',
	    'Largest accepted upload, in bytes', true);
