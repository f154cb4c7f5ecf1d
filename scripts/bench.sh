#!/bin/bash
# `make bench`: start the embedded PostgreSQL (var/pg) and a korebase
# server on a free port, run bench/run.sh against both, stop the server.
# pgbench gets as many connections as the server's pool has in all
# (workers x KB_DB_POOL), so the comparison is like for like.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
KB_WORKERS=${KB_WORKERS:-2}
KB_DB_POOL=${KB_DB_POOL:-2}
export KB_WORKERS KB_DB_POOL

if [ -z "${DATABASE_URL:-}" ]; then
	KB_PG_PORT=${KB_PG_PORT:-5432}
	scripts/pg.sh start "$top/var/pg" "$KB_PG_PORT"
	DATABASE_URL="postgresql://postgres@/korebase?host=$top/var/pg/run&port=$KB_PG_PORT"
fi
export DATABASE_URL
. scripts/secret.sh
build/kbmigrate -d "$DATABASE_URL" migrations >/dev/null

while :; do
	PORT=$(shuf -i 20000-32767 -n 1)
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
sed -e "s|^\([[:space:]]*bind[[:space:]]*\).*|\1127.0.0.1 $PORT|" \
    -e "s|^workers[[:space:]].*|workers\t\t\t$KB_WORKERS|" \
    -e "s|^load[[:space:]].*|load\t\t$top/build/korebase.so|" \
    kore.conf > build/kore.bench.conf
# -f foreground, -n no chroot (the PostgreSQL socket and /etc stay
# visible), -r no privilege drop: Kore demands either -r or a runas user,
# as root and as anyone else.
flags="-f -n -r"
kore -c build/kore.bench.conf $flags > build/bench-server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/health"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat build/bench-server.log; exit 1; }
	sleep 0.1
done

SERVER_URL="http://127.0.0.1:$PORT" \
BENCH_DB_CONNS=${BENCH_DB_CONNS:-$((KB_WORKERS * KB_DB_POOL))} \
    bench/run.sh
