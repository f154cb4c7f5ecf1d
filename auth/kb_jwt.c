/*
 * korebase auth: HS256 access tokens.
 *
 * libjwt 1.10 encodes and decodes, but takes the algorithm from the
 * token's own header, parses the payload before it checks the signature
 * and knows nothing of exp, nbf, iss or aud.  So verification here runs in
 * this order, and the first failure decides the result:
 *
 *   1. shape: at most KB_JWT_MAX_LEN bytes, three base64url segments;
 *   2. header: decoded and parsed by us, alg must be exactly "HS256"
 *      (none, HS384/512 and RS256 "algorithm confusion" stop here);
 *   3. signature: HMAC-SHA256 recomputed and compared in constant time
 *      against the segment as sent (one valid spelling only), so libjwt
 *      never parses a payload we have not authenticated;
 *   4. libjwt decodes with the key (checking it again, with its own
 *      constant time compare) and we check that it, too, saw HS256;
 *   5. claims: types and presence, iss, aud, nbf/iat, and exp last, so
 *      KB_JWT_EXPIRED means "valid except for its age".
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kb_auth.h"

#define KB_JWT_JTI_BYTES	16
#define KB_JWT_TTL_MAX		(366 * 86400)
#define KB_JWT_CLAIM_MAX	1024	/* longest string claim we issue */

static int	kb_jwt_config_ok(const struct kb_jwt_config *);
static int	kb_jwt_str_ok(const char *);
static int	kb_jwt_b64url_ok(const char *, size_t);
static int	kb_jwt_header(const char *, size_t);
static int	kb_jwt_signature(const struct kb_jwt_config *, const char *,
		    size_t, const char *, size_t);
static int	kb_jwt_claims_check(const struct kb_jwt_config *, json_t *,
		    time_t);
static const char	*kb_jwt_json_str(json_t *, const char *);
static char	*kb_jwt_strdup(const char *);

int
kb_jwt_secret_ok(const uint8_t *secret, size_t len)
{
	return (secret != NULL && len >= KB_JWT_SECRET_MIN &&
	    len <= INT32_MAX);
}

int
kb_jwt_issue(const struct kb_jwt_config *cfg,
    const struct kb_jwt_claims *claims, time_t now, char **out)
{
	jwt_t		*jwt;
	char		*tok;
	uint8_t		rnd[KB_JWT_JTI_BYTES];
	char		jti[KB_BASE64_ENCLEN(KB_JWT_JTI_BYTES)];
	int		rc;

	*out = NULL;

	if (cfg == NULL || !kb_jwt_secret_ok(cfg->secret, cfg->secret_len))
		return (KB_JWT_ERR_SECRET);
	if (!kb_jwt_config_ok(cfg) || cfg->ttl <= 0 ||
	    cfg->ttl > KB_JWT_TTL_MAX || now < 0)
		return (KB_JWT_ERR_ARGS);
	if (claims == NULL || !kb_jwt_str_ok(claims->sub) ||
	    !kb_jwt_str_ok(claims->role) || !kb_jwt_str_ok(claims->sid))
		return (KB_JWT_ERR_ARGS);
	if (claims->tenant != NULL && !kb_jwt_str_ok(claims->tenant))
		return (KB_JWT_ERR_ARGS);
	if (claims->jti != NULL && !kb_jwt_str_ok(claims->jti))
		return (KB_JWT_ERR_ARGS);

	if (claims->jti == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return (KB_JWT_ERR_INTERNAL);
		(void)kb_base64_encode(rnd, sizeof(rnd), 1, jti, sizeof(jti));
	}

	if (jwt_new(&jwt) != 0)
		return (KB_JWT_ERR_INTERNAL);

	rc = 0;
	rc |= jwt_set_alg(jwt, JWT_ALG_HS256, cfg->secret,
	    (int)cfg->secret_len);
	rc |= jwt_add_grant(jwt, "iss", cfg->issuer);
	rc |= jwt_add_grant(jwt, "aud", cfg->audience);
	rc |= jwt_add_grant(jwt, "sub", claims->sub);
	rc |= jwt_add_grant(jwt, "role", claims->role);
	rc |= jwt_add_grant(jwt, "sid", claims->sid);
	if (claims->tenant != NULL)
		rc |= jwt_add_grant(jwt, "tenant", claims->tenant);
	rc |= jwt_add_grant(jwt, "jti",
	    claims->jti != NULL ? claims->jti : jti);
	rc |= jwt_add_grant_int(jwt, "iat", (long)now);
	rc |= jwt_add_grant_int(jwt, "exp", (long)(now + cfg->ttl));

	tok = NULL;
	if (rc == 0)
		tok = jwt_encode_str(jwt);
	jwt_free(jwt);

	if (tok == NULL)
		return (KB_JWT_ERR_INTERNAL);
	if (strlen(tok) > KB_JWT_MAX_LEN) {
		free(tok);
		return (KB_JWT_ERR_ARGS);
	}

	*out = tok;

	return (KB_JWT_OK);
}

int
kb_jwt_verify(const struct kb_jwt_config *cfg, const char *token,
    time_t now, struct kb_jwt_claims *claims)
{
	jwt_t		*jwt;
	json_t		*payload;
	json_error_t	jerr;
	const char	*d1, *d2, *tenant;
	char		*grants;
	size_t		len;
	int		rc;

	memset(claims, 0, sizeof(*claims));

	if (cfg == NULL || !kb_jwt_secret_ok(cfg->secret, cfg->secret_len))
		return (KB_JWT_ERR_SECRET);
	if (!kb_jwt_config_ok(cfg))
		return (KB_JWT_ERR_ARGS);
	if (token == NULL)
		return (KB_JWT_ERR_MALFORMED);

	len = strnlen(token, KB_JWT_MAX_LEN + 1);
	if (len > KB_JWT_MAX_LEN)
		return (KB_JWT_ERR_OVERSIZE);

	/* header.payload.signature, nothing more, nothing empty but sig. */
	if ((d1 = memchr(token, '.', len)) == NULL)
		return (KB_JWT_ERR_MALFORMED);
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (d2 == NULL || memchr(d2 + 1, '.', len -
	    (size_t)(d2 + 1 - token)) != NULL)
		return (KB_JWT_ERR_MALFORMED);
	if (d1 == token || d2 == d1 + 1)
		return (KB_JWT_ERR_MALFORMED);
	if (!kb_jwt_b64url_ok(token, len))
		return (KB_JWT_ERR_MALFORMED);

	if ((rc = kb_jwt_header(token, (size_t)(d1 - token))) != KB_JWT_OK)
		return (rc);

	rc = kb_jwt_signature(cfg, token, (size_t)(d2 - token), d2 + 1,
	    len - (size_t)(d2 + 1 - token));
	if (rc != KB_JWT_OK)
		return (rc);

	if (jwt_decode(&jwt, token, cfg->secret, (int)cfg->secret_len) != 0)
		return (KB_JWT_ERR_MALFORMED);
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		jwt_free(jwt);
		return (KB_JWT_ERR_ALG);
	}

	/* libjwt 1.10 has no typed getters worth the name: inspect JSON. */
	grants = jwt_get_grants_json(jwt, NULL);
	jwt_free(jwt);
	if (grants == NULL)
		return (KB_JWT_ERR_MALFORMED);
	payload = json_loads(grants, 0, &jerr);
	free(grants);
	if (payload == NULL || !json_is_object(payload)) {
		json_decref(payload);
		return (KB_JWT_ERR_MALFORMED);
	}

	if ((rc = kb_jwt_claims_check(cfg, payload, now)) != KB_JWT_OK) {
		json_decref(payload);
		return (rc);
	}

	claims->sub = kb_jwt_strdup(kb_jwt_json_str(payload, "sub"));
	claims->role = kb_jwt_strdup(kb_jwt_json_str(payload, "role"));
	claims->sid = kb_jwt_strdup(kb_jwt_json_str(payload, "sid"));
	claims->jti = kb_jwt_strdup(kb_jwt_json_str(payload, "jti"));
	if ((tenant = kb_jwt_json_str(payload, "tenant")) != NULL)
		claims->tenant = kb_jwt_strdup(tenant);
	claims->iat = json_integer_value(json_object_get(payload, "iat"));
	claims->exp = json_integer_value(json_object_get(payload, "exp"));
	json_decref(payload);

	return (KB_JWT_OK);
}

void
kb_jwt_claims_free(struct kb_jwt_claims *claims)
{
	if (claims == NULL)
		return;

	free(claims->sub);
	free(claims->role);
	free(claims->sid);
	free(claims->tenant);
	free(claims->jti);
	memset(claims, 0, sizeof(*claims));
}

const char *
kb_jwt_strerror(int code)
{
	switch (code) {
	case KB_JWT_OK:
		return ("ok");
	case KB_JWT_EXPIRED:
		return ("token expired");
	case KB_JWT_ERR_MALFORMED:
		return ("malformed token");
	case KB_JWT_ERR_OVERSIZE:
		return ("token too long");
	case KB_JWT_ERR_ALG:
		return ("token algorithm not allowed");
	case KB_JWT_ERR_SIGNATURE:
		return ("bad token signature");
	case KB_JWT_ERR_NOT_YET_VALID:
		return ("token not yet valid");
	case KB_JWT_ERR_ISSUER:
		return ("wrong token issuer");
	case KB_JWT_ERR_AUDIENCE:
		return ("wrong token audience");
	case KB_JWT_ERR_CLAIMS:
		return ("missing or invalid token claims");
	case KB_JWT_ERR_SECRET:
		return ("token secret too short");
	case KB_JWT_ERR_ARGS:
		return ("invalid token arguments");
	case KB_JWT_ERR_INTERNAL:
		return ("internal error");
	}

	return ("unknown error");
}

static int
kb_jwt_config_ok(const struct kb_jwt_config *cfg)
{
	return (kb_jwt_str_ok(cfg->issuer) && kb_jwt_str_ok(cfg->audience));
}

static int
kb_jwt_str_ok(const char *s)
{
	size_t	len;

	if (s == NULL)
		return (0);
	len = strnlen(s, KB_JWT_CLAIM_MAX + 1);

	return (len > 0 && len <= KB_JWT_CLAIM_MAX);
}

/* Every byte except the two dots is in the base64url alphabet. */
static int
kb_jwt_b64url_ok(const char *s, size_t len)
{
	size_t	i;
	char	c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
			continue;
		return (0);
	}

	return (1);
}

/*
 * The header must be a JSON object whose alg is exactly "HS256", whose
 * typ, if any, is "JWT", and that asks for no critical extensions.
 */
static int
kb_jwt_header(const char *seg, size_t len)
{
	uint8_t		buf[KB_JWT_MAX_LEN];
	json_t		*hdr, *v;
	json_error_t	jerr;
	int		n, rc;

	n = kb_base64_decode(seg, len, 1, buf, sizeof(buf));
	if (n <= 0)
		return (KB_JWT_ERR_MALFORMED);

	hdr = json_loadb((const char *)buf, (size_t)n,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (hdr == NULL)
		return (KB_JWT_ERR_MALFORMED);

	rc = KB_JWT_OK;
	if (!json_is_object(hdr)) {
		rc = KB_JWT_ERR_MALFORMED;
	} else if ((v = json_object_get(hdr, "alg")) == NULL ||
	    !json_is_string(v) || strcmp(json_string_value(v), "HS256") != 0) {
		rc = KB_JWT_ERR_ALG;
	} else if ((v = json_object_get(hdr, "typ")) != NULL &&
	    (!json_is_string(v) || strcmp(json_string_value(v), "JWT") != 0)) {
		rc = KB_JWT_ERR_MALFORMED;
	} else if (json_object_get(hdr, "crit") != NULL) {
		rc = KB_JWT_ERR_MALFORMED;
	}
	json_decref(hdr);

	return (rc);
}

/* Recompute HMAC-SHA256 over signed[0..len) and compare with `sig`. */
static int
kb_jwt_signature(const struct kb_jwt_config *cfg, const char *signed_part,
    size_t len, const char *sig, size_t siglen)
{
	uint8_t		mac[EVP_MAX_MD_SIZE];
	char		enc[KB_BASE64_ENCLEN(EVP_MAX_MD_SIZE)];
	unsigned int	maclen;
	int		n, ok;

	if (HMAC(EVP_sha256(), cfg->secret, (int)cfg->secret_len,
	    (const uint8_t *)signed_part, len, mac, &maclen) == NULL)
		return (KB_JWT_ERR_INTERNAL);

	n = kb_base64_encode(mac, maclen, 1, enc, sizeof(enc));
	ok = kb_ct_equal(enc, (size_t)n, sig, siglen);
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(enc, sizeof(enc));

	return (ok ? KB_JWT_OK : KB_JWT_ERR_SIGNATURE);
}

static int
kb_jwt_claims_check(const struct kb_jwt_config *cfg, json_t *p, time_t now)
{
	json_t		*iat, *exp, *nbf, *tenant;
	const char	*s;

	iat = json_object_get(p, "iat");
	exp = json_object_get(p, "exp");
	nbf = json_object_get(p, "nbf");
	tenant = json_object_get(p, "tenant");

	if (kb_jwt_json_str(p, "sub") == NULL ||
	    kb_jwt_json_str(p, "role") == NULL ||
	    kb_jwt_json_str(p, "sid") == NULL ||
	    kb_jwt_json_str(p, "jti") == NULL)
		return (KB_JWT_ERR_CLAIMS);
	if (tenant != NULL && kb_jwt_json_str(p, "tenant") == NULL)
		return (KB_JWT_ERR_CLAIMS);
	if (!json_is_integer(exp) || !json_is_integer(iat))
		return (KB_JWT_ERR_CLAIMS);
	if (nbf != NULL && !json_is_integer(nbf))
		return (KB_JWT_ERR_CLAIMS);

	/* A list-valued aud is legal JWT but never ours: refuse it. */
	if ((s = kb_jwt_json_str(p, "iss")) == NULL ||
	    strcmp(s, cfg->issuer) != 0)
		return (KB_JWT_ERR_ISSUER);
	if ((s = kb_jwt_json_str(p, "aud")) == NULL ||
	    strcmp(s, cfg->audience) != 0)
		return (KB_JWT_ERR_AUDIENCE);

	if (json_integer_value(iat) > (json_int_t)now + KB_JWT_LEEWAY)
		return (KB_JWT_ERR_NOT_YET_VALID);
	if (nbf != NULL &&
	    json_integer_value(nbf) > (json_int_t)now + KB_JWT_LEEWAY)
		return (KB_JWT_ERR_NOT_YET_VALID);

	if ((json_int_t)now >= json_integer_value(exp))
		return (KB_JWT_EXPIRED);

	return (KB_JWT_OK);
}

/* The non-empty string value of `key`, or NULL. */
static const char *
kb_jwt_json_str(json_t *obj, const char *key)
{
	json_t		*v;
	const char	*s;

	v = json_object_get(obj, key);
	if (!json_is_string(v))
		return (NULL);
	s = json_string_value(v);
	if (s[0] == '\0' || strlen(s) != json_string_length(v))
		return (NULL);

	return (s);
}

static char *
kb_jwt_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		abort();

	return (p);
}
