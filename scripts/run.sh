#!/bin/sh
# Start korebase: the embedded PostgreSQL under var/ (unless DATABASE_URL
# points elsewhere), pending migrations, then Kore in the foreground.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PORT=${PORT:-8080}
KB_BIND=${KB_BIND:-127.0.0.1}
KB_WORKERS=${KB_WORKERS:-2}

if [ -z "${DATABASE_URL:-}" ]; then
	KB_PG_PORT=${KB_PG_PORT:-5432}
	scripts/pg.sh start "$top/var/pg" "$KB_PG_PORT"
	DATABASE_URL="postgresql://postgres@/korebase?host=$top/var/pg/run&port=$KB_PG_PORT"
	echo "run: embedded PostgreSQL at $top/var/pg (socket $top/var/pg/run)"
fi
export DATABASE_URL
. scripts/secret.sh

build/kbmigrate -d "$DATABASE_URL" migrations

# Until the first administrator exists, say how to create it.
needs=$(psql "$DATABASE_URL" -qAt -c "SELECT NOT EXISTS (SELECT 1 FROM
    admin_setup) AND NOT EXISTS (SELECT 1 FROM users WHERE role IN
    ('admin', 'instance_admin'))" 2>/dev/null || echo t)
if [ "$needs" = t ]; then
	cat <<EOT
run: no administrator yet.  Create the first one (once) with the setup
run: token from var/setup_token (or your KB_SETUP_TOKEN):
  curl -s http://$KB_BIND:$PORT/api/v1/admin/setup -H 'Content-Type: application/json' \\
    -d "{\"email\":\"admin@example.com\",\"password\":\"<8+ characters>\",\"setup_token\":\"\$(cat var/setup_token)\"}"
EOT
fi

sed -e "s|^\([[:space:]]*bind[[:space:]]*\).*|\1$KB_BIND $PORT|" \
    -e "s|^workers[[:space:]].*|workers\t\t\t$KB_WORKERS|" \
    -e "s|^load[[:space:]].*|load\t\t$top/build/korebase.so|" \
    kore.conf > build/kore.run.conf

echo "run: serving on http://$KB_BIND:$PORT (docs: http://$KB_BIND:$PORT/docs)"
# -f foreground, -n no chroot (the PostgreSQL socket and /etc stay
# visible), -r no privilege drop: Kore demands either -r or a runas user,
# as root and as anyone else.
flags="-f -n -r"
exec kore -c build/kore.run.conf $flags
