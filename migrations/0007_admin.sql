-- Dashboard authentication (issue 3): the first administrator's setup.
--
--  admin_setup:	one row at most (the primary key is the constant
--			true), written by POST /api/v1/admin/setup in the
--			same statement that creates the administrator.  Its
--			primary key is what makes setup race-safe: of two
--			concurrent setups, the second waits for the first
--			and then inserts nothing (ON CONFLICT DO NOTHING),
--			so exactly one administrator is created.  Setup
--			stays done once this row exists, even if that
--			administrator is later deleted (admin_id becomes
--			NULL); delete the row by hand to allow it again.
--
-- Administrators are users whose role is 'admin' or 'instance_admin'.

CREATE TABLE admin_setup (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	admin_id	uuid REFERENCES users (id) ON DELETE SET NULL,
	completed_at	timestamptz NOT NULL DEFAULT now()
);

-- "Is there an administrator?" without scanning users.
CREATE INDEX users_admins ON users (role)
	WHERE role IN ('admin', 'instance_admin');
