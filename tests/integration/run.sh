#!/bin/bash
# Integration tests: a fresh PostgreSQL cluster and the real server on
# free ports, then the cmocka suite in tests/integration against them.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
B=build

free_port() {
	while :; do
		p=$(shuf -i 20000-60999 -n 1)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

CFLAGS="-O1 -g -Wall -Wextra -Wno-unused-parameter -std=gnu11 $(pkg-config --cflags jansson libcurl cmocka openssl)"
LIBS="$(pkg-config --libs jansson libcurl cmocka openssl)"
cc $CFLAGS -o $B/test_integration tests/integration/test_server.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_auth tests/integration/test_auth.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_email tests/integration/test_email.c \
    tests/integration/http.c $LIBS

PGDIR=$top/$B/test-pg
PGPORT=$(free_port)
LOG=$top/$B/test-server.log
KORE_PID=
DEV_PID=
SINK_PID=
SMTP_PORT=$(free_port)
while [ "$SMTP_PORT" = "$PGPORT" ]; do SMTP_PORT=$(free_port); done
MAIL_DIR=$top/$B/test-mail

stop_kore() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	pkill -9 -P "$1" 2>/dev/null || true
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	if [ -n "$DEV_PID" ]; then
		stop_kore "$DEV_PID"
	fi
	if [ -n "$KORE_PID" ]; then
		kill "$KORE_PID" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$KORE_PID" 2>/dev/null || break
			sleep 0.1
		done
		# Workers that outlive the parent's shutdown (seen under ASan).
		pkill -9 -P "$KORE_PID" 2>/dev/null || true
		kill -9 "$KORE_PID" 2>/dev/null || true
		wait "$KORE_PID" 2>/dev/null || true
	fi
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
	scripts/pg.sh stop "$PGDIR" || true
}
trap cleanup EXIT INT TERM

rm -rf "$PGDIR"
KB_DB_NAME=korebase_test scripts/pg.sh start "$PGDIR" "$PGPORT"
export DATABASE_URL="postgresql://postgres@/korebase_test?host=$PGDIR/run&port=$PGPORT"
# A fresh signing key per run; the tests use it to forge tokens of their own.
KB_JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
export KB_JWT_SECRET
$B/kbmigrate -d "$DATABASE_URL" migrations >/dev/null

# A real SMTP server (Debian's python3-aiosmtpd) that writes every mail
# it accepts to $MAIL_DIR; the e-mail tests read and follow them.
rm -rf "$MAIL_DIR"
mkdir -p "$MAIL_DIR"
/usr/bin/python3 tests/integration/smtp_sink.py "$SMTP_PORT" "$MAIL_DIR" \
    > $B/test-smtp.log 2>&1 &
SINK_PID=$!
i=0
until (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$SINK_PID" 2>/dev/null; then
		echo "integration: the SMTP sink did not start:" >&2
		cat $B/test-smtp.log >&2
		exit 1
	fi
	sleep 0.1
done

# Picked late, once PostgreSQL and the sink listen: free_port only sees
# ports that are listening already.
PORT=$(free_port)
sed -e "s|^\([[:space:]]*bind[[:space:]]*\).*|\1127.0.0.1 $PORT|" \
    -e "s|^load[[:space:]].*|load\t\t${KB_MODULE:-$top/$B/korebase.so}|" \
    kore.conf > $B/kore.test.conf
# -f foreground, -n no chroot (the PostgreSQL socket and /etc stay
# visible), -r no privilege drop: Kore demands either -r or a runas user,
# as root and as anyone else.
flags="-f -n -r"
# KB_PRELOAD: e.g. libasan for the AddressSanitizer build (make test-asan).
LD_PRELOAD=${KB_PRELOAD:-} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
    KB_DB_POOL=2 KB_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" \
    KB_SMTP_FROM=korebase@test.invalid KB_PUBLIC_URL="http://127.0.0.1:$PORT" \
    KB_MAIL_POLL_MS=200 KB_MAIL_RETRY_BASE_MS=300 KB_MAIL_MAX_ATTEMPTS=4 \
    kore -c $B/kore.test.conf $flags > "$LOG" 2>&1 &
KORE_PID=$!

export BASE_URL="http://127.0.0.1:$PORT"
i=0
until curl -s -o /dev/null "$BASE_URL/health" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$KORE_PID" 2>/dev/null; then
		echo "integration: the server did not start; its log:" >&2
		cat "$LOG" >&2
		exit 1
	fi
	sleep 0.1
done

# A second server on its own database, as in development: no KB_SMTP_URL
# (mail goes to its log) and KB_AUTH_OTP_CREATE_USER=1.
if [ -z "${KB_SUITE:-}" ] || [ "$KB_SUITE" = email ]; then
	DEV_PORT=$(free_port)
	DEV_LOG=$top/$B/test-server-dev.log
	DEV_DATABASE_URL="postgresql://postgres@/korebase_test_dev?host=$PGDIR/run&port=$PGPORT"
	psql "postgresql://postgres@/postgres?host=$PGDIR/run&port=$PGPORT" \
	    -qc "CREATE DATABASE korebase_test_dev" >/dev/null
	$B/kbmigrate -d "$DEV_DATABASE_URL" migrations >/dev/null
	sed -e "s|^\([[:space:]]*bind[[:space:]]*\).*|\1127.0.0.1 $DEV_PORT|" \
	    $B/kore.test.conf > $B/kore.test-dev.conf
	LD_PRELOAD=${KB_PRELOAD:-} \
	    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	    DATABASE_URL="$DEV_DATABASE_URL" KB_DB_POOL=2 \
	    KB_AUTH_OTP_CREATE_USER=1 KB_PUBLIC_URL="http://127.0.0.1:$DEV_PORT" \
	    KB_MAIL_POLL_MS=200 \
	    kore -c $B/kore.test-dev.conf $flags > "$DEV_LOG" 2>&1 &
	DEV_PID=$!
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$DEV_PORT/health"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$DEV_PID" 2>/dev/null; then
			echo "integration: the dev server did not start:" >&2
			cat "$DEV_LOG" >&2
			exit 1
		fi
		sleep 0.1
	done
	export KB_DEV_URL="http://127.0.0.1:$DEV_PORT" KB_DEV_LOG="$DEV_LOG"
	export KB_DEV_DATABASE_URL="$DEV_DATABASE_URL"
fi

export KB_PG_DIR="$PGDIR" KB_PG_PORT="$PGPORT" KB_SERVER_LOG="$LOG"
export KB_MAIL_DIR="$MAIL_DIR" KB_MAIL_MAX_ATTEMPTS=4
KB_DB_NAME=korebase_test
export KB_DB_NAME
status=0
# KB_SUITE=email (or server, auth, docs) runs one suite only.
suite() { [ -z "${KB_SUITE:-}" ] || [ "$KB_SUITE" = "$1" ]; }
if suite server; then
	$B/test_integration || status=$?
	[ $status -eq 0 ] || echo "integration: the suite failed" >&2
fi
# Users and tokens (/api/v1/auth).
if suite auth && ! $B/test_auth; then
	echo "integration: the auth suite failed" >&2
	status=1
fi

# E-mail flows, through the SMTP sink.
if suite email && ! $B/test_email; then
	echo "integration: the e-mail suite failed" >&2
	status=1
fi

# Swagger UI's "Try it out" against this server, in headless Chromium.
if suite docs; then
	node tests/e2e/docs.mjs || status=1
fi

# The server must have survived everything above.
if ! kill -0 "$KORE_PID" 2>/dev/null; then
	echo "integration: the server died during the tests" >&2
	status=1
fi
if [ -n "$DEV_PID" ]; then
	if ! kill -0 "$DEV_PID" 2>/dev/null; then
		echo "integration: the dev server died during the tests" >&2
		status=1
	fi
	if grep -q '"level":"error"' "$DEV_LOG" ||
	    grep -qi 'worker .* died\|signal\|AddressSanitizer' "$DEV_LOG"; then
		echo "integration: the dev server logged errors:" >&2
		grep -A30 '"level":"error"\|died\|signal\|AddressSanitizer' \
		    "$DEV_LOG" | head -60 >&2
		status=1
	fi
fi
if grep -q '"level":"error"' "$LOG" ||
    grep -qi 'worker .* died\|signal\|AddressSanitizer' "$LOG"; then
	echo "integration: the server logged errors:" >&2
	grep -A30 '"level":"error"\|died\|signal\|AddressSanitizer' "$LOG" |
	    head -60 >&2
	status=1
fi
trap - EXIT
cleanup
exit $status
