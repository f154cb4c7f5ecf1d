/*
 * korebase auth tests: shared includes and helpers.
 *
 * The JWT helpers build tokens with OpenSSL directly (base64url by hand,
 * HMAC with any digest or none), so attack tokens do not depend on libjwt
 * or on the code under test agreeing to produce them.
 */

#ifndef KB_AUTH_TEST_H
#define KB_AUTH_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kb_auth.h"

/* base64url without padding of data[0..len); caller frees. */
static inline char *
kbt_b64url(const void *data, size_t len)
{
	char	*out;
	int	n, i;

	out = malloc(((len + 2) / 3) * 4 + 1);
	assert_non_null(out);
	n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}

	return (out);
}

/*
 * b64url(header) "." b64url(payload) "." signature, where the signature
 * is HMAC-`md` under key when md is not NULL and empty otherwise (what an
 * alg=none token carries).  Caller frees.
 */
static inline char *
kbt_jwt(const char *header, const char *payload, const EVP_MD *md,
    const void *key, size_t keylen)
{
	char		*h, *p, *s, *tok;
	unsigned char	mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen;
	size_t		len;

	h = kbt_b64url(header, strlen(header));
	p = kbt_b64url(payload, strlen(payload));
	len = strlen(h) + strlen(p) + 2;
	tok = malloc(len + 200);
	assert_non_null(tok);
	snprintf(tok, len + 200, "%s.%s", h, p);

	if (md != NULL) {
		assert_non_null(HMAC(md, key, (int)keylen,
		    (unsigned char *)tok, strlen(tok), mac, &maclen));
		s = kbt_b64url(mac, maclen);
	} else {
		s = strdup("");
	}
	strcat(tok, ".");
	strcat(tok, s);

	free(h);
	free(p);
	free(s);

	return (tok);
}

#endif /* !KB_AUTH_TEST_H */
