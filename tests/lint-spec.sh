#!/usr/bin/env bash
# Lint the OpenAPI spec with Redocly CLI and Spectral (both pinned in
# package.json; run `npm ci` first).
#
#   tests/lint-spec.sh            fail on errors
#   LINT_STRICT=1 tests/lint-spec.sh   fail on warnings too
#
# Prints each linter's findings when there are any, then one summary line:
#   lint-spec: redocly 0 errors 0 warnings (3 ignored); spectral 0 errors 0 warnings: PASS
set -u

cd "$(dirname "$0")/.." || exit 2
SPEC=${SPEC:-spec/openapi.yaml}
BIN=node_modules/.bin
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

for tool in redocly spectral; do
	if [ ! -x "$BIN/$tool" ]; then
		echo "lint-spec: $BIN/$tool missing; run 'npm ci' first" >&2
		exit 2
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Machine-readable runs give the counts; the human formats are re-run only
# when there is something to show.
"$BIN/redocly" lint --format=json "$SPEC" >"$tmp/redocly.json" 2>"$tmp/redocly.err"
"$BIN/spectral" lint --format=json --output "$tmp/spectral.json" \
    --fail-severity=error "$SPEC" >"$tmp/spectral.out" 2>&1
spectral_rc=$?

counts=$(node -e '
const fs = require("fs");
let r, s;
try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).totals; }
catch (e) { r = null; }
try { s = JSON.parse(fs.readFileSync(process.argv[2], "utf8")); }
catch (e) { s = null; }
const out = r ? [r.errors, r.warnings, r.ignored] : [-1, -1, -1];
if (s) out.push(s.filter(p => p.severity === 0).length,
    s.filter(p => p.severity === 1).length);
else out.push(-1, -1);
console.log(out.join(" "));
' "$tmp/redocly.json" "$tmp/spectral.json")
read -r r_err r_warn r_ign s_err s_warn <<<"$counts"

if [ "$r_err" -lt 0 ]; then
	echo "lint-spec: redocly did not run:" >&2
	grep -v '[║╔╚]' "$tmp/redocly.err" >&2
	exit 2
fi
if [ "$s_err" -lt 0 ]; then
	echo "lint-spec: spectral did not run (exit $spectral_rc):" >&2
	cat "$tmp/spectral.out" >&2
	exit 2
fi

if [ $((r_err + r_warn)) -gt 0 ]; then
	echo "== redocly lint $SPEC"
	"$BIN/redocly" lint "$SPEC" 2>&1 | grep -v '[║╔╚]'
fi
if [ $((s_err + s_warn)) -gt 0 ]; then
	echo "== spectral lint $SPEC"
	"$BIN/spectral" lint "$SPEC" 2>&1
fi

fail=0
[ "$r_err" -gt 0 ] && fail=1
[ "$s_err" -gt 0 ] && fail=1
if [ "${LINT_STRICT:-0}" = 1 ] && [ $((r_warn + s_warn)) -gt 0 ]; then
	fail=1
fi
verdict=PASS
[ $fail = 1 ] && verdict=FAIL
echo "lint-spec: redocly $r_err errors $r_warn warnings ($r_ign ignored);" \
    "spectral $s_err errors $s_warn warnings: $verdict"
exit $fail
