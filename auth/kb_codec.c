/*
 * korebase auth: constant time comparison and the RFC 4648 codecs.
 *
 * The decoders are strict on purpose: one value has one spelling, so a
 * secret or a signature cannot be smuggled past a comparison in a second
 * encoding (padding, stray bits, foreign characters).
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>

#include "kb_auth.h"

static const char	kb_b32_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char	kb_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char	kb_b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int	kb_b32_value(char);
static int	kb_b64_value(char, int);

/*
 * See kb_auth.h.  CRYPTO_memcmp is OpenSSL's constant time comparison,
 * written so compilers cannot turn it into an early-exit loop.
 */
int
kb_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return (0);
	if (alen == 0)
		return (1);

	return (CRYPTO_memcmp(a, b, alen) == 0);
}

int
kb_base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t		i, o;
	uint32_t	acc;
	int		bits;

	if (outlen < KB_BASE32_ENCLEN(len))
		return (-1);

	acc = 0;
	bits = 0;
	o = 0;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = kb_b32_alpha[(acc >> bits) & 0x1f];
		}
	}
	if (bits > 0)
		out[o++] = kb_b32_alpha[(acc << (5 - bits)) & 0x1f];
	out[o] = '\0';

	return ((int)o);
}

int
kb_base32_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	size_t		i, o;
	uint32_t	acc;
	int		bits, v;

	/* 8 characters carry 5 bytes; 1, 3 or 6 left over is impossible. */
	switch (len % 8) {
	case 1:
	case 3:
	case 6:
		return (-1);
	}
	if (len / 8 * 5 + (len % 8) * 5 / 8 > outlen)
		return (-1);

	acc = 0;
	bits = 0;
	o = 0;
	for (i = 0; i < len; i++) {
		if ((v = kb_b32_value(in[i])) == -1)
			return (-1);
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return (-1);

	return ((int)o);
}

int
kb_base64_encode(const uint8_t *in, size_t len, int url, char *out,
    size_t outlen)
{
	const char	*alpha;
	size_t		i, o;
	uint32_t	acc;
	int		bits;

	if (outlen < KB_BASE64_ENCLEN(len))
		return (-1);

	alpha = url ? kb_b64_url : kb_b64_std;
	acc = 0;
	bits = 0;
	o = 0;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = alpha[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (6 - bits)) & 0x3f];
	out[o] = '\0';

	return ((int)o);
}

int
kb_base64_decode(const char *in, size_t len, int url, uint8_t *out,
    size_t outlen)
{
	size_t		i, o;
	uint32_t	acc;
	int		bits, v;

	if (len % 4 == 1)
		return (-1);
	if (len / 4 * 3 + (len % 4) * 3 / 4 > outlen)
		return (-1);

	acc = 0;
	bits = 0;
	o = 0;
	for (i = 0; i < len; i++) {
		if ((v = kb_b64_value(in[i], url)) == -1)
			return (-1);
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return (-1);

	return ((int)o);
}

int
kb_hex_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	if (outlen < KB_HEX_ENCLEN(len))
		return (-1);

	for (i = 0; i < len; i++) {
		out[i * 2] = hex[in[i] >> 4];
		out[i * 2 + 1] = hex[in[i] & 0x0f];
	}
	out[len * 2] = '\0';

	return ((int)(len * 2));
}

static int
kb_b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a');
	if (c >= '2' && c <= '7')
		return (c - '2' + 26);

	return (-1);
}

static int
kb_b64_value(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == (url ? '-' : '+'))
		return (62);
	if (c == (url ? '_' : '/'))
		return (63);

	return (-1);
}
