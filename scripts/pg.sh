#!/bin/sh
# A private PostgreSQL 15 cluster in a directory of ours.
#
#	scripts/pg.sh start DIR PORT	init if needed, start, create database
#	scripts/pg.sh stop DIR
#
# The server listens on a unix socket in DIR/run only (no TCP), so it
# never collides with another PostgreSQL.  As root the cluster runs as the
# `postgres` user (PostgreSQL refuses to run as root).
set -eu

PGBIN=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$PGBIN" ] || { echo "pg.sh: PostgreSQL 15 is not installed" >&2; exit 1; }
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
port=${3:-5432}
db=${KB_DB_NAME:-korebase}

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		su postgres -s /bin/sh -c "$*"
	else
		sh -c "$*"
	fi
}

case "$cmd" in
start)
	mkdir -p "$dir/run"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$dir" "$dir/run"
		# The socket directory must be reachable by both users.
		chmod 755 "$dir"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$PGBIN/initdb -D '$dir/data' -U postgres \
		    --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
		cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/run'
max_connections = 200
shared_buffers = 128MB
fsync = on
CONF
	fi
	if ! as_owner "$PGBIN/pg_ctl -D '$dir/data' status" >/dev/null 2>&1; then
		as_owner "$PGBIN/pg_ctl -D '$dir/data' -o '-p $port' \
		    -l '$dir/postgresql.log' -w -t 60 start" >/dev/null
	fi
	psql -h "$dir/run" -p "$port" -U postgres -d postgres -qAt \
	    -c "SELECT 1 FROM pg_database WHERE datname = '$db'" |
	    grep -q 1 ||
	    psql -h "$dir/run" -p "$port" -U postgres -d postgres -q \
	    -c "CREATE DATABASE \"$db\""
	;;
stop)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_owner "$PGBIN/pg_ctl -D '$dir/data' -m fast -w stop" \
		    >/dev/null 2>&1 || true
	fi
	;;
*)
	echo "usage: pg.sh start|stop DIR [PORT]" >&2
	exit 64
	;;
esac
