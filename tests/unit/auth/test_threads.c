/*
 * korebase auth tests: the functions are reentrant.  Several threads hash,
 * verify, issue and check at once (as Kore tasks will); every result must
 * be what a single thread gets.
 */

#include <pthread.h>

#include "kb_auth_test.h"

#define THREADS		4
#define ROUNDS		20

static const struct kb_jwt_config	cfg = {
	(const uint8_t *)"0123456789abcdef0123456789abcdef", 32,
	"https://api.korebase.test", "korebase", 900
};

static void *
worker(void *arg)
{
	const struct kb_password_params	cheap = { KB_PASSWORD_M_MIN, 1, 1 };
	struct kb_jwt_claims		in = { "u", "r", "s", NULL, NULL,
					    0, 0 };
	struct kb_jwt_claims		out;
	char				enc[KB_PASSWORD_ENCODED_MAX];
	char				pw[32], code[7], *tok;
	int64_t				step;
	int				i, *failed;

	failed = arg;
	snprintf(pw, sizeof(pw), "password-%p", arg);

	if (kb_password_hash(pw, strlen(pw), &cheap, enc, sizeof(enc)) != 0 ||
	    kb_password_verify(pw, strlen(pw), enc) != 0)
		*failed = 1;

	for (i = 0; i < ROUNDS; i++) {
		if (kb_jwt_issue(&cfg, &in, 1700000000 + i, &tok) != 0) {
			*failed = 1;
			continue;
		}
		if (kb_jwt_verify(&cfg, tok, 1700000000 + i, &out) != 0)
			*failed = 1;
		kb_jwt_claims_free(&out);
		free(tok);

		if (kb_totp_code((const uint8_t *)"12345678901234567890", 20,
		    NULL, 1111111111 + i * 30, code, sizeof(code)) != 0 ||
		    kb_totp_verify((const uint8_t *)"12345678901234567890", 20,
		    NULL, code, 1111111111 + i * 30, -1, &step) != 0)
			*failed = 1;
	}

	return (NULL);
}

static void
concurrent_calls_all_succeed(void **state)
{
	pthread_t	t[THREADS];
	int		failed[THREADS];
	int		i;

	for (i = 0; i < THREADS; i++) {
		failed[i] = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker,
		    &failed[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(failed[i], 0);
	}
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(concurrent_calls_all_succeed),
	};

	return (cmocka_run_group_tests_name("auth/threads", tests, NULL,
	    NULL));
}
