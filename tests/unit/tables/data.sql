-- Rows for the live cases (live.cases), on top of sample.sql.
INSERT INTO clients (name, tenant_id) VALUES
	('Acme', '11111111-1111-1111-1111-111111111111'),
	('Globex', '22222222-2222-2222-2222-222222222222'),
	('Initech', NULL);
INSERT INTO projects (name, client_id, owner_id, tags, meta, search, period,
    feeling, budget, stars, created_at) VALUES
	('Apollo', 1, 2, '{space,moon}', '{"a": {"b": 1}, "n": [1, 2, 3]}',
	    to_tsvector('english', 'rockets to the moon'),
	    '[2020-01-01,2021-01-01)', 'happy', 100.50, 5,
	    '2024-01-01T00:00:00Z'),
	('Borealis', 1, NULL, '{ice}', '{"a": {"b": 2}}',
	    to_tsvector('english', 'northern lights'),
	    '[2022-01-01,2023-01-01)', 'ok', NULL, 3,
	    '2024-02-01T00:00:00Z'),
	('Cobalt, "the" blue', 2, 1, '{}', NULL, NULL, NULL, 'sad', 7,
	    NULL, '2024-03-01T00:00:00Z'),
	('Dune', NULL, NULL, NULL, '{"x": "y"}', NULL, 'empty', NULL,
	    NULL, NULL, '2024-04-01T00:00:00Z');
INSERT INTO tasks (project_id, title, done, parent_id, tenant_id) VALUES
	(1, 'launch', true, NULL, '11111111-1111-1111-1111-111111111111'),
	(1, 'land', false, 1, '11111111-1111-1111-1111-111111111111'),
	(2, 'skate', NULL, NULL, '22222222-2222-2222-2222-222222222222'),
	(3, 'paint', false, NULL, NULL);
INSERT INTO "weird ""name""" VALUES (1, 'x'), (2, 'y,z');
INSERT INTO line_items VALUES (1, 1, 10), (1, 2, 20), (2, 1, 5);
INSERT INTO shipments VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1);
INSERT INTO client_profiles VALUES (1, 'first');
INSERT INTO passports VALUES (1, 2, 'P-2');
INSERT INTO actors VALUES (1, 'Ann'), (2, 'Bob');
INSERT INTO films VALUES (1, 'Up'), (2, 'Down'), (3, 'Sideways');
INSERT INTO roles VALUES
	(1, 1, 'hero', '11111111-1111-1111-1111-111111111111'),
	(1, 2, 'villain', NULL),
	(2, 2, 'extra', '11111111-1111-1111-1111-111111111111');
