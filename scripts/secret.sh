# Sourced by run.sh and bench.sh: make sure KB_JWT_SECRET is set.  Unless
# the caller set it (or KB_DEV_MODE=1), use the instance's own secret in
# var/jwt_secret, created once with 48 random bytes, readable by the owner
# only, so access tokens stay valid across restarts of this instance.
if [ -z "${KB_JWT_SECRET:-}" ] && [ "${KB_DEV_MODE:-0}" != 1 ]; then
	mkdir -p var
	if [ ! -s var/jwt_secret ]; then
		(umask 077 && head -c 48 /dev/urandom | base64 -w0 > var/jwt_secret)
		echo "run: created var/jwt_secret (the access-token signing key)"
	fi
	KB_JWT_SECRET=$(cat var/jwt_secret)
	export KB_JWT_SECRET
fi
