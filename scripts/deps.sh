#!/bin/sh
# Install what korebase needs and is missing: Debian packages (as root)
# and the npm packages of package-lock.json.  Idempotent and quick when
# everything is there, so `make run` and `make test` call it every time.
set -eu

PKGS="gcc make pkg-config kore libyaml-dev libjansson-dev libjwt-dev
libcmocka-dev libpq-dev libssl-dev libpcre2-dev libcurl4-openssl-dev
libargon2-dev python3-aiosmtpd clang
postgresql-15 wrk curl ca-certificates chromium"

# Node.js may come from elsewhere than Debian (with its own npm): only
# install Debian's when the commands are missing.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing Debian packages:$missing" >&2
		echo "deps: install them as root: apt-get install$missing" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# The Debian package starts a cluster we do not use; korebase runs its
	# own under var/.
	if command -v pg_lsclusters >/dev/null 2>&1; then
		pg_ctlcluster 15 main stop 2>/dev/null || true
	fi
fi

# npm packages: linters and Swagger UI.  Reinstall when the lock changed.
if [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "deps: npm ci"
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
