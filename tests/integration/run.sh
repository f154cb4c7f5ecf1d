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
cc $CFLAGS -o $B/test_tenants tests/integration/test_tenants.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_plumb tests/integration/test_plumb.c \
    tests/integration/http.c $LIBS

PGDIR=$top/$B/test-pg
PGPORT=$(free_port)
PORT=$(free_port)
LOG=$top/$B/test-server.log
KORE_PID=

cleanup() {
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

sed -e "s|^\([[:space:]]*bind[[:space:]]*\).*|\1127.0.0.1 $PORT|" \
    -e "s|^load[[:space:]].*|load\t\t${KB_MODULE:-$top/$B/korebase-test.so}|" \
    kore.conf > $B/kore.test.conf
# -f foreground, -n no chroot (the PostgreSQL socket and /etc stay
# visible), -r no privilege drop: Kore demands either -r or a runas user,
# as root and as anyone else.
flags="-f -n -r"
# KB_PRELOAD: e.g. libasan for the AddressSanitizer build (make test-asan).
LD_PRELOAD=${KB_PRELOAD:-} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
    KB_DB_POOL=2 kore -c $B/kore.test.conf $flags > "$LOG" 2>&1 &
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

export KB_PG_DIR="$PGDIR" KB_PG_PORT="$PGPORT" KB_SERVER_LOG="$LOG"
export KB_SERVER_PID="$KORE_PID"
KB_DB_NAME=korebase_test
export KB_DB_NAME
# KB_SUITES="plumb auth" runs only those suites (default: all of them).
want() {
	case " ${KB_SUITES:-all} " in
	*" all "*|*" $1 "*) return 0 ;;
	esac
	return 1
}
status=0
if want server && ! $B/test_integration; then
	echo "integration: the suite failed" >&2
	status=1
fi
# Users and tokens (/api/v1/auth).
if want auth && ! $B/test_auth; then
	echo "integration: the auth suite failed" >&2
	status=1
fi

# Tenants, members, settings, invitations and the cross-tenant suite.
if want tenants && ! $B/test_tenants; then
	echo "integration: the tenants suite failed" >&2
	status=1
fi

# The plumbing under the Tables API: transaction groups, roles, the
# schema cache, streamed exports (test-only routes under /__test/).
if want plumb && ! $B/test_plumb; then
	echo "integration: the plumbing suite failed" >&2
	status=1
fi

# Swagger UI's "Try it out" against this server, in headless Chromium.
if want e2e; then
	node tests/e2e/docs.mjs || status=1
fi

# The server must have survived everything above.
if ! kill -0 "$KORE_PID" 2>/dev/null; then
	echo "integration: the server died during the tests" >&2
	status=1
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
