#!/bin/bash
# Integration tests: a fresh PostgreSQL cluster and the real server on
# free ports, then the cmocka suite in tests/integration against them.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
B=build

# Below the kernel's ephemeral range (32768-60999), so a port a client
# connection happens to use locally cannot collide with a server's bind.
free_port() {
	while :; do
		p=$(shuf -i 20000-32767 -n 1)
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
cc $CFLAGS -o $B/test_migrations tests/integration/test_migrations.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_sql tests/integration/test_sql.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_tables tests/integration/test_tables.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_rpc tests/integration/test_rpc.c \
    tests/integration/http.c $LIBS
# The keys suite makes its tenants and admins with SQL (libpq).
cc $CFLAGS $(pkg-config --cflags libpq) -o $B/test_keys \
    tests/integration/test_keys.c tests/integration/http.c $LIBS \
    $(pkg-config --libs libpq)
cc $CFLAGS -o $B/test_admin tests/integration/test_admin.c \
    tests/integration/http.c $LIBS -largon2
cc $CFLAGS -o $B/test_plumb tests/integration/test_plumb.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_email tests/integration/test_email.c \
    tests/integration/http.c $LIBS
cc $CFLAGS -o $B/test_oas tests/integration/test_oas.c \
    tests/integration/http.c $LIBS

PGDIR=$top/$B/test-pg
PGPORT=$(free_port)
LOG=$top/$B/test-server.log
KORE_PID=
KORE2_PID=

# Stop the server whose parent is $1.
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
	# Workers that outlive the parent's shutdown (seen under ASan).
	pkill -9 -P "$1" 2>/dev/null || true
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	if [ -n "$KORE2_PID" ]; then
		stop_kore "$KORE2_PID"
	fi
	if [ -n "$DEV_PID" ]; then
		stop_kore "$DEV_PID"
	fi
	if [ -n "$KORE_PID" ]; then
		stop_kore "$KORE_PID"
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
# The first administrator's setup token (POST /api/v1/admin/setup).
KB_SETUP_TOKEN=kbsetup_$(head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_')
export KB_SETUP_TOKEN
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
    -e "s|^load[[:space:]].*|load\t\t${KB_MODULE:-$top/$B/korebase-test.so}|" \
    kore.conf > $B/kore.test.conf
# -f foreground, -n no chroot (the PostgreSQL socket and /etc stay
# visible), -r no privilege drop: Kore demands either -r or a runas user,
# as root and as anyone else.
flags="-f -n -r"
# KB_PRELOAD: e.g. libasan for the AddressSanitizer build (make test-asan).
LD_PRELOAD=${KB_PRELOAD:-} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
    KB_SQL_TIMEOUT_MS=1500 KB_JANITOR_INTERVAL_MS=2000 KB_RPC_LEASE_S=3 \
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

# KB_SUITES="plumb auth" runs only those suites (default: all of them);
# KB_SUITE=email is the same for one.
want() {
	case " ${KB_SUITES:-${KB_SUITE:-all}} " in
	*" all "*|*" $1 "*) return 0 ;;
	esac
	return 1
}

# A second server on its own database, as in development: no KB_SMTP_URL
# (mail goes to its log) and KB_AUTH_OTP_CREATE_USER=1.
if want email; then
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
export KB_SERVER_PID="$KORE_PID" KB_PRELOAD="${KB_PRELOAD:-}"
export KB_MAIL_DIR="$MAIL_DIR" KB_MAIL_MAX_ATTEMPTS=4
KB_DB_NAME=korebase_test
export KB_DB_NAME
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
# Runs first among the suites that make administrators with SQL: it
# needs a database where setup has not happened yet.
# Dashboard auth (/api/v1/admin), session lifetime and password rehash.
if want admin && ! $B/test_admin; then
	echo "integration: the admin suite failed" >&2
	status=1
fi

# The same database behind a second server without KB_SETUP_TOKEN: setup
# is refused, and with KB_DEV_MODE=1 any setup token passes the gate.
PORT2=$(free_port)
LOG2=$top/$B/test-server2.log
sed -e "s|^\([[:space:]]*bind[[:space:]]*\).*|\1127.0.0.1 $PORT2|" \
    -e "s|^workers[[:space:]].*|workers\t\t\t1|" \
    $B/kore.test.conf > $B/kore.test2.conf
want admin && for mode in disabled devmode; do
	dev=0
	[ $mode = devmode ] && dev=1
	env -u KB_SETUP_TOKEN KB_DEV_MODE=$dev \
	    LD_PRELOAD=${KB_PRELOAD:-} \
	    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	    KB_DB_POOL=1 kore -c $B/kore.test2.conf $flags > "$LOG2" 2>&1 &
	KORE2_PID=$!
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$PORT2/health"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$KORE2_PID" 2>/dev/null; then
			echo "integration: the second server did not start:" >&2
			cat "$LOG2" >&2
			status=1
			break
		fi
		sleep 0.1
	done
	if ! BASE_URL="http://127.0.0.1:$PORT2" $B/test_admin $mode; then
		echo "integration: the admin suite ($mode) failed" >&2
		status=1
	fi
	stop_kore "$KORE2_PID"
	KORE2_PID=
done

# Service keys and client keys.
if want keys && ! $B/test_keys; then
	echo "integration: the keys suite failed" >&2
	status=1
fi

# Tenants, members, settings, invitations and the cross-tenant suite.
if want tenants && ! $B/test_tenants; then
	echo "integration: the tenants suite failed" >&2
	status=1
fi

# The Migrations API.
if want migrations && ! $B/test_migrations; then
	echo "integration: the migrations suite failed" >&2
	status=1
fi

# The Tables API.
if want tables && ! $B/test_tables; then
	echo "integration: the tables suite failed" >&2
	status=1
fi

# The Tables API through the PostgREST JavaScript client
# (@supabase/postgrest-js), on tables of its own.
if want postgrest && ! node tests/e2e/postgrest.mjs; then
	echo "integration: the postgrest-js suite failed" >&2
	status=1
fi

# The SQL endpoint.
if want sql && ! $B/test_sql; then
	echo "integration: the sql suite failed" >&2
	status=1
fi

# The RPC group: calls, overloads, roles, background calls and their logs.
if want rpc && ! $B/test_rpc; then
	echo "integration: the rpc suite failed" >&2
	status=1
fi

# A server that stops while a background call runs: the call is canceled
# and recorded as failed, and the server stops at once.
rpc_stop() {
	local k pid id st t0 t1 i
	k=kbsk_test$(head -c 19 /dev/urandom | od -An -tx1 | tr -d ' \n')
	psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 >/dev/null <<SQL || return 1
CREATE OR REPLACE FUNCTION rpc_stop_long() RETURNS integer
    LANGUAGE sql AS 'SELECT pg_sleep(60)::text::integer';
INSERT INTO service_keys (tenant_id, name, key_prefix, key_hash, scopes)
    VALUES (NULL, 'rpc-stop', 'kbsk_test',
    encode(sha256(convert_to('$k', 'UTF8')), 'hex'), '{rpc:*}');
SQL
	LD_PRELOAD=${KB_PRELOAD:-} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	    KB_DB_POOL=1 kore -c $B/kore.test2.conf $flags > "$LOG2" 2>&1 &
	pid=$!
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$PORT2/health"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { stop_kore $pid; return 1; }
		sleep 0.1
	done
	# The schema cache of the new worker has the function once it loaded.
	for i in $(seq 50); do
		id=$(curl -s "http://127.0.0.1:$PORT2/api/v1/rpc/public/rpc_stop_long" \
		    -H "Authorization: Bearer $k" -H 'Prefer: respond-async' \
		    -H 'Content-Type: application/json' -d '{}' |
		    sed -n 's/.*"id" *: *"\([0-9a-f-]*\)".*/\1/p')
		[ -n "$id" ] && break
		sleep 0.1
	done
	[ -n "$id" ] || { stop_kore $pid; return 1; }
	sleep 1
	t0=$(date +%s)
	stop_kore $pid
	t1=$(date +%s)
	st=$(psql "$DATABASE_URL" -qAt -c "SELECT status || ' ' || sqlstate
	    FROM rpc_executions WHERE id = '$id'")
	# (Under AddressSanitizer workers are slow to exit whatever they did.)
	if [ "$st" != "failed 57014" ] ||
	    { [ -z "${KB_PRELOAD:-}" ] && [ $((t1 - t0)) -gt 3 ]; }; then
		echo "rpc-stop: status '$st' after $((t1 - t0)) s" >&2
		return 1
	fi
}
if want rpc && ! rpc_stop; then
	echo "integration: the rpc shutdown check failed" >&2
	status=1
fi

# The plumbing under the Tables API: transaction groups, roles, the
# schema cache, streamed exports (test-only routes under /__test/).
if want plumb && ! $B/test_plumb; then
	echo "integration: the plumbing suite failed" >&2
	status=1
fi

# The live /openapi.json: a path and a schema per table; the document,
# with the suite's sample tables in it, must pass the spec linters too.
if want oas; then
	rm -f $B/oas-live.json
	if ! KB_OAS_OUT=$top/$B/oas-live.json $B/test_oas; then
		echo "integration: the oas suite failed" >&2
		status=1
	elif ! SPEC=$B/oas-live.json tests/lint-spec.sh \
	    > $B/oas-lint.log 2>&1; then
		cat $B/oas-lint.log >&2
		echo "integration: the live /openapi.json does not lint" >&2
		status=1
	else
		# Warnings are expected: what the bundle cannot see as used.
		tail -1 $B/oas-lint.log
	fi
fi

# E-mail flows, through the SMTP sink.
if want email && ! $B/test_email; then
	echo "integration: the e-mail suite failed" >&2
	status=1
fi

# Swagger UI's "Try it out" against this server, in headless Chromium.
if want e2e || want docs; then
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
