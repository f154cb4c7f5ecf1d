#!/bin/sh
# The tables core against a real PostgreSQL: a throwaway cluster, the
# sample schema (sample.sql), KB_SCHEMA_CATALOG_SQL run with psql, and
# the schema tests on its output, which must equal the checked-in
# tests/unit/tables/catalog.json the unit tests use.  Then the live
# cases: every request of live.cases planned, run on the sample rows
# (data.sql) and answered; the answers must equal live.expected.
# `--update` rewrites catalog.json and live.expected.
#
#	tests/unit/tables/catalog.sh [--update]	(make test-tables-catalog)
set -eu

top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
B=${BUILD:-build}
T=$B/tables-test
PGDIR=$top/$B/tables-pg
FIXTURE=tests/unit/tables/catalog.json

free_port() {
	while :; do
		p=$(shuf -i 20000-32767 -n 1)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

make --no-print-directory -s "$T/test_schema" "$T/live" BUILD="$B"
PGPORT=$(free_port)
cleanup() {
	scripts/pg.sh stop "$PGDIR" || true
	rm -rf "$PGDIR"
}
trap cleanup EXIT INT TERM
rm -rf "$PGDIR"
KB_DB_NAME=kb_catalog scripts/pg.sh start "$PGDIR" "$PGPORT"

psql_do() {
	psql -h "$PGDIR/run" -p "$PGPORT" -U postgres -d kb_catalog -q \
	    -v ON_ERROR_STOP=1 "$@"
}
psql_do -f tests/unit/tables/sample.sql >/dev/null
{
	printf 'PREPARE kb_catalog(text[]) AS\n'
	"$T/test_schema" --print-sql
	printf ';\n\\pset tuples_only on\n\\pset format unaligned\n'
	printf "EXECUTE kb_catalog('{public,private}');\n"
} > "$T/catalog.sql"
psql_do -f "$T/catalog.sql" > "$T/catalog.raw"
# One line of JSON, pretty-printed so the fixture diffs well.
python3 -m json.tool "$T/catalog.raw" > "$T/catalog.json"

KB_CATALOG_JSON=$T/catalog.json "$T/test_schema" > "$T/catalog.log" 2>&1 || {
	cat "$T/catalog.log"
	echo "test-tables-catalog: the schema tests fail on the live catalog"
	exit 1
}
grep -h '^\[  PASSED  \]' "$T/catalog.log"
if [ "${1:-}" = "--update" ]; then
	cp "$T/catalog.json" "$FIXTURE"
	echo "test-tables-catalog: $FIXTURE updated"
elif ! diff -u "$FIXTURE" "$T/catalog.json" > "$T/catalog.diff"; then
	head -40 "$T/catalog.diff"
	echo "test-tables-catalog: $FIXTURE is stale: run $0 --update"
	exit 1
fi
echo "test-tables-catalog: the catalog query runs on PostgreSQL" \
    "$(psql_do -At -c 'SHOW server_version')" "and matches $FIXTURE"

psql_do -f tests/unit/tables/data.sql >/dev/null
ASAN_OPTIONS=detect_leaks=1 "$T/live" "$FIXTURE" \
    "host=$PGDIR/run port=$PGPORT user=postgres dbname=kb_catalog" \
    < tests/unit/tables/live.cases > "$T/live.out" 2>&1 || {
	cat "$T/live.out"
	echo "test-tables-catalog: the live driver failed"
	exit 1
}
n=$(grep -vc '^#' tests/unit/tables/live.cases)
if [ "${1:-}" = "--update" ]; then
	cp "$T/live.out" tests/unit/tables/live.expected
	echo "test-tables-catalog: live.expected updated ($n cases)"
elif ! diff -u tests/unit/tables/live.expected "$T/live.out" \
    > "$T/live.diff"; then
	head -60 "$T/live.diff"
	echo "test-tables-catalog: live cases differ from live.expected"
	exit 1
else
	echo "test-tables-catalog: $n live cases answer as live.expected says"
fi
