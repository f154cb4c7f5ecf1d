/*
 * korebase auth: password hashing with argon2id.
 *
 * Hashes are stored as PHC strings, so the parameters travel with each
 * hash: raising them later only needs kb_password_needs_rehash() at the
 * next successful login.  Verification parses the string itself (instead
 * of argon2_verify()) to bound the parameters a stored row can demand and
 * to compare the digests with kb_ct_equal().
 *
 * The reference argon2 library keeps no global state and allocates its
 * memory per call, so everything here is reentrant.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "kb_auth.h"

#define KB_PASSWORD_PHC_MAX	64	/* longest salt or digest we accept */

struct kb_password_phc {
	struct kb_password_params	params;
	uint8_t				salt[KB_PASSWORD_PHC_MAX];
	size_t				saltlen;
	uint8_t				hash[KB_PASSWORD_PHC_MAX];
	size_t				hashlen;
};

static int	kb_password_params_ok(const struct kb_password_params *, int);
static int	kb_password_parse(const char *, struct kb_password_phc *);
static int	kb_password_uint(const char **, const char *, uint32_t *);
static int	kb_password_b64(const char **, char, uint8_t *, size_t *);

static const struct kb_password_params	kb_password_defaults =
    KB_PASSWORD_PARAMS_DEFAULT;

int
kb_password_hash(const char *pw, size_t len,
    const struct kb_password_params *params, char *out, size_t outlen)
{
	uint8_t		salt[KB_PASSWORD_SALT_LEN];
	char		buf[KB_PASSWORD_ENCODED_MAX];
	size_t		n;
	int		rc;

	if (params == NULL)
		params = &kb_password_defaults;
	if (len < KB_PASSWORD_MIN_LEN)
		return (KB_PASSWORD_ERR_TOO_SHORT);
	if (len > KB_PASSWORD_MAX_LEN)
		return (KB_PASSWORD_ERR_TOO_LONG);
	if (!kb_password_params_ok(params, 1))
		return (KB_PASSWORD_ERR_PARAMS);

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return (KB_PASSWORD_ERR_INTERNAL);

	rc = argon2id_hash_encoded(params->t, params->m_kib, params->p,
	    pw, len, salt, sizeof(salt), KB_PASSWORD_HASH_LEN,
	    buf, sizeof(buf));
	OPENSSL_cleanse(salt, sizeof(salt));
	if (rc != ARGON2_OK)
		return (KB_PASSWORD_ERR_INTERNAL);

	n = strlen(buf);
	if (n >= outlen)
		return (KB_PASSWORD_ERR_BUFFER);
	memcpy(out, buf, n + 1);

	return (KB_PASSWORD_OK);
}

int
kb_password_verify(const char *pw, size_t len, const char *encoded)
{
	struct kb_password_phc	phc;
	uint8_t			digest[KB_PASSWORD_PHC_MAX];
	int			rc, ok;

	if (len == 0)
		return (KB_PASSWORD_ERR_TOO_SHORT);
	if (len > KB_PASSWORD_MAX_LEN)
		return (KB_PASSWORD_ERR_TOO_LONG);
	if (encoded == NULL || kb_password_parse(encoded, &phc) == -1)
		return (KB_PASSWORD_ERR_FORMAT);

	rc = argon2id_hash_raw(phc.params.t, phc.params.m_kib, phc.params.p,
	    pw, len, phc.salt, phc.saltlen, digest, phc.hashlen);
	if (rc != ARGON2_OK) {
		OPENSSL_cleanse(digest, sizeof(digest));
		return (KB_PASSWORD_ERR_INTERNAL);
	}

	ok = kb_ct_equal(digest, phc.hashlen, phc.hash, phc.hashlen);
	OPENSSL_cleanse(digest, sizeof(digest));

	return (ok ? KB_PASSWORD_OK : KB_PASSWORD_ERR_MISMATCH);
}

int
kb_password_needs_rehash(const char *encoded,
    const struct kb_password_params *params)
{
	struct kb_password_phc	phc;

	if (params == NULL)
		params = &kb_password_defaults;
	if (encoded == NULL || kb_password_parse(encoded, &phc) == -1)
		return (1);

	if (phc.params.m_kib != params->m_kib || phc.params.t != params->t ||
	    phc.params.p != params->p)
		return (1);
	if (phc.saltlen != KB_PASSWORD_SALT_LEN ||
	    phc.hashlen != KB_PASSWORD_HASH_LEN)
		return (1);

	return (0);
}

int
kb_password_below(const char *encoded,
    const struct kb_password_params *params)
{
	struct kb_password_phc	phc;

	if (params == NULL)
		params = &kb_password_defaults;
	if (encoded == NULL || kb_password_parse(encoded, &phc) == -1)
		return (1);

	if (phc.params.m_kib < params->m_kib || phc.params.t < params->t)
		return (1);
	if (phc.saltlen < KB_PASSWORD_SALT_LEN ||
	    phc.hashlen < KB_PASSWORD_HASH_LEN)
		return (1);

	return (0);
}

const char *
kb_password_strerror(int code)
{
	switch (code) {
	case KB_PASSWORD_OK:
		return ("ok");
	case KB_PASSWORD_ERR_TOO_SHORT:
		return ("password too short");
	case KB_PASSWORD_ERR_TOO_LONG:
		return ("password too long");
	case KB_PASSWORD_ERR_MISMATCH:
		return ("password mismatch");
	case KB_PASSWORD_ERR_FORMAT:
		return ("malformed password hash");
	case KB_PASSWORD_ERR_PARAMS:
		return ("password hash parameters out of range");
	case KB_PASSWORD_ERR_BUFFER:
		return ("output buffer too small");
	case KB_PASSWORD_ERR_INTERNAL:
		return ("internal error");
	}

	return ("unknown error");
}

/*
 * New hashes must meet KB_PASSWORD_M_MIN; stored ones only the upper
 * bounds (a row must not make us allocate gigabytes), so hashes imported
 * with weaker settings still verify and are then rehashed.
 */
static int
kb_password_params_ok(const struct kb_password_params *p, int fresh)
{
	if (fresh && p->m_kib < KB_PASSWORD_M_MIN)
		return (0);
	if (p->m_kib > KB_PASSWORD_M_MAX)
		return (0);
	if (p->t < 1 || p->t > KB_PASSWORD_T_MAX)
		return (0);
	if (p->p < 1 || p->p > KB_PASSWORD_P_MAX)
		return (0);
	/* argon2 needs 8 KiB of memory per lane. */
	if (p->m_kib < 8 * p->p)
		return (0);

	return (1);
}

/*
 * Parse "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" (salt and digest in
 * standard base64 without padding) into `phc`.  Anything else, including
 * argon2i/argon2d, other versions and out-of-range parameters, is -1.
 */
static int
kb_password_parse(const char *s, struct kb_password_phc *phc)
{
	uint32_t	v;

	memset(phc, 0, sizeof(*phc));

	if (strncmp(s, "$argon2id$", 10) != 0)
		return (-1);
	s += 10;

	if (kb_password_uint(&s, "v=", &v) == -1 || v != ARGON2_VERSION_13)
		return (-1);
	if (*s++ != '$')
		return (-1);
	if (kb_password_uint(&s, "m=", &phc->params.m_kib) == -1 ||
	    *s++ != ',')
		return (-1);
	if (kb_password_uint(&s, "t=", &phc->params.t) == -1 || *s++ != ',')
		return (-1);
	if (kb_password_uint(&s, "p=", &phc->params.p) == -1 || *s++ != '$')
		return (-1);
	if (!kb_password_params_ok(&phc->params, 0))
		return (-1);

	if (kb_password_b64(&s, '$', phc->salt, &phc->saltlen) == -1 ||
	    *s++ != '$')
		return (-1);
	if (kb_password_b64(&s, '\0', phc->hash, &phc->hashlen) == -1)
		return (-1);

	if (phc->saltlen < ARGON2_MIN_SALT_LENGTH || phc->hashlen < 16)
		return (-1);

	return (0);
}

/* Parse `key` then a decimal without leading zeros that fits uint32_t. */
static int
kb_password_uint(const char **sp, const char *key, uint32_t *out)
{
	const char	*s;
	uint64_t	v;
	size_t		klen;

	klen = strlen(key);
	if (strncmp(*sp, key, klen) != 0)
		return (-1);
	s = *sp + klen;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
	    s[1] <= '9'))
		return (-1);

	v = 0;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return (-1);
		s++;
	}

	*out = (uint32_t)v;
	*sp = s;

	return (0);
}

/* Decode base64 up to `end` into out[KB_PASSWORD_PHC_MAX]. */
static int
kb_password_b64(const char **sp, char end, uint8_t *out, size_t *outlen)
{
	const char	*e;
	int		n;

	if ((e = strchr(*sp, end)) == NULL)
		return (-1);
	n = kb_base64_decode(*sp, (size_t)(e - *sp), 0, out,
	    KB_PASSWORD_PHC_MAX);
	if (n <= 0)
		return (-1);

	*outlen = (size_t)n;
	*sp = e;

	return (0);
}
