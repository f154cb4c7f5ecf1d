/*
 * Authenticated encryption of small secrets at rest: AES-256-GCM
 * (OpenSSL EVP) under a key derived from a server secret, a random
 * 96-bit nonce per message and caller-chosen associated data.
 *
 *	"kbs1." base64url(nonce (12) | ciphertext | tag (16))
 *
 * Used for mail bodies waiting in mail_outbox (they carry live links and
 * codes): a copy of the table alone does not reveal them, and a body
 * moved to another row (other associated data) does not open.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kb_auth.h"

#define SEAL_PREFIX	"kbs1."
#define SEAL_NONCE	12
#define SEAL_TAG	16

int
kb_seal_key(const uint8_t *secret, size_t len, const char *label,
    uint8_t key[KB_SEAL_KEY_LEN])
{
	unsigned int	klen = KB_SEAL_KEY_LEN;

	if (secret == NULL || len == 0 || label == NULL)
		return (KB_SEAL_ERR_ARGS);
	if (HMAC(EVP_sha256(), secret, (int)len, (const uint8_t *)label,
	    strlen(label), key, &klen) == NULL || klen != KB_SEAL_KEY_LEN)
		return (KB_SEAL_ERR_INTERNAL);
	return (KB_SEAL_OK);
}

int
kb_seal(const uint8_t key[KB_SEAL_KEY_LEN], const void *ad, size_t adlen,
    const void *in, size_t len, char **out)
{
	EVP_CIPHER_CTX	*c;
	uint8_t		*buf;
	size_t		 blen, olen;
	int		 n, rc = KB_SEAL_ERR_INTERNAL;

	*out = NULL;
	if (len > 1024 * 1024 || adlen > 1024)
		return (KB_SEAL_ERR_ARGS);
	blen = SEAL_NONCE + len + SEAL_TAG;
	olen = strlen(SEAL_PREFIX) + KB_BASE64_ENCLEN(blen);
	if ((buf = malloc(blen)) == NULL || (*out = malloc(olen)) == NULL)
		abort();
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		goto done;
	if (RAND_bytes(buf, SEAL_NONCE) != 1 ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen) != 1 ||
	    EVP_EncryptUpdate(c, buf + SEAL_NONCE, &n, in, (int)len) != 1 ||
	    (size_t)n != len ||
	    EVP_EncryptFinal_ex(c, buf + SEAL_NONCE + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG,
	    buf + SEAL_NONCE + len) != 1)
		goto done;
	memcpy(*out, SEAL_PREFIX, strlen(SEAL_PREFIX));
	if (kb_base64_encode(buf, blen, 1, *out + strlen(SEAL_PREFIX),
	    olen - strlen(SEAL_PREFIX)) < 0)
		goto done;
	rc = KB_SEAL_OK;
done:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	if (rc != KB_SEAL_OK) {
		free(*out);
		*out = NULL;
	}
	return (rc);
}

int
kb_open(const uint8_t key[KB_SEAL_KEY_LEN], const void *ad, size_t adlen,
    const char *sealed, char **out, size_t *outlen)
{
	EVP_CIPHER_CTX	*c = NULL;
	uint8_t		*buf;
	size_t		 slen, len = 0;
	int		 n, blen, rc = KB_SEAL_ERR_FORMAT;

	*out = NULL;
	*outlen = 0;
	if (strncmp(sealed, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0)
		return (KB_SEAL_ERR_FORMAT);
	sealed += strlen(SEAL_PREFIX);
	slen = strlen(sealed);
	if ((buf = malloc(slen + 1)) == NULL)
		abort();
	blen = kb_base64_decode(sealed, slen, 1, buf, slen + 1);
	if (blen < SEAL_NONCE + SEAL_TAG)
		goto done;
	len = (size_t)blen - SEAL_NONCE - SEAL_TAG;
	if ((*out = malloc(len + 1)) == NULL)
		abort();
	rc = KB_SEAL_ERR_INTERNAL;
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, ad, (int)adlen) != 1 ||
	    EVP_DecryptUpdate(c, (uint8_t *)*out, &n, buf + SEAL_NONCE,
	    (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
	    buf + SEAL_NONCE + len) != 1)
		goto done;
	rc = KB_SEAL_ERR_AUTH;
	if (EVP_DecryptFinal_ex(c, (uint8_t *)*out + len, &n) != 1)
		goto done;
	(*out)[len] = '\0';
	*outlen = len;
	rc = KB_SEAL_OK;
done:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	if (rc != KB_SEAL_OK && *out != NULL) {
		explicit_bzero(*out, len);
		free(*out);
		*out = NULL;
	}
	return (rc);
}
