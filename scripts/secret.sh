# Sourced by run.sh and bench.sh: make sure KB_JWT_SECRET and
# KB_SETUP_TOKEN are set.  Unless the caller set KB_JWT_SECRET (or
# KB_DEV_MODE=1), use the instance's own secret in var/jwt_secret, created
# once with 48 random bytes, readable by the owner only, so access tokens
# stay valid across restarts of this instance.
if [ -z "${KB_JWT_SECRET:-}" ] && [ "${KB_DEV_MODE:-0}" != 1 ]; then
	mkdir -p var
	if [ ! -s var/jwt_secret ]; then
		(umask 077 && head -c 48 /dev/urandom | base64 -w0 > var/jwt_secret)
		echo "run: created var/jwt_secret (the access-token signing key)"
	fi
	KB_JWT_SECRET=$(cat var/jwt_secret)
	export KB_JWT_SECRET
fi

# The setup token that POST /api/v1/admin/setup requires to create the
# first administrator: unless the caller set KB_SETUP_TOKEN, the
# instance's own in var/setup_token, created once, readable by the owner
# only.
if [ -z "${KB_SETUP_TOKEN:-}" ]; then
	mkdir -p var
	if [ ! -s var/setup_token ]; then
		(umask 077 && printf 'kbsetup_%s\n' "$(head -c 24 /dev/urandom |
		    base64 -w0 | tr '+/' '-_')" > var/setup_token)
		echo "run: created var/setup_token (for the first administrator's setup)"
	fi
	KB_SETUP_TOKEN=$(cat var/setup_token)
	export KB_SETUP_TOKEN
fi
