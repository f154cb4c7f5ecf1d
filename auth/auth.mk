# korebase auth: the pure-C security core (no Kore, no libpq).
#
# Included by the top Makefile (`include auth/auth.mk`), or standalone:
#	make -f auth/auth.mk BUILD=build test-auth
#
# KB_AUTH_SRCS and KB_AUTH_LIBS are for whoever links auth/ into the module
# (which compiles the sources with its own flags); test-auth builds its own
# copies under $(BUILD)/auth-test with AddressSanitizer and UBSan.

BUILD			?= build
CC			?= cc

KB_AUTH_SRCS		:= $(wildcard auth/*.c)
KB_AUTH_LIBS		:= -largon2 -ljwt -ljansson -lcrypto

KB_AUTH_TEST_DIR	 = $(BUILD)/auth-test
KB_AUTH_TEST_SRCS	:= $(wildcard tests/unit/auth/test_*.c)
KB_AUTH_TEST_BINS	 = $(patsubst tests/unit/auth/%.c, \
			    $(KB_AUTH_TEST_DIR)/%,$(KB_AUTH_TEST_SRCS))
KB_AUTH_TEST_OBJS	 = $(patsubst auth/%.c,$(KB_AUTH_TEST_DIR)/obj/%.o, \
			    $(KB_AUTH_SRCS))
KB_AUTH_SAN		 = -fsanitize=address,undefined \
			    -fno-sanitize-recover=all -fno-omit-frame-pointer
KB_AUTH_CFLAGS		 = -O1 -g -std=gnu11 -Wall -Wextra -Werror \
			    -Wmissing-prototypes -Wshadow \
			    -Wno-unused-parameter $(KB_AUTH_SAN) -Iauth

.PHONY: test-auth

# Each suite's output goes to its .log; only the summary lines are shown,
# the whole log when a suite fails.
test-auth: $(KB_AUTH_TEST_BINS)
	@total=0; for t in $(KB_AUTH_TEST_BINS); do \
		if ! ASAN_OPTIONS=detect_leaks=1 \
		    UBSAN_OPTIONS=print_stacktrace=1 $$t >$$t.log 2>&1; then \
			cat $$t.log; echo "test-auth: $$t FAILED"; exit 1; \
		fi; \
		grep -h '^argon2id\|^\[==========\] Running\|^\[  PASSED  \]\|^\[  FAILED  \]' \
		    $$t.log || true; \
		n=$$(sed -n 's/^\[  PASSED  \] \([0-9]*\) .*/\1/p' \
		    $$t.log); \
		total=$$((total + n)); \
	done; \
	echo "test-auth: $$total tests passed (ASan+UBSan)"

$(KB_AUTH_TEST_DIR)/obj/%.o: auth/%.c auth/kb_auth.h
	@mkdir -p $(dir $@)
	$(CC) $(KB_AUTH_CFLAGS) -c -o $@ $<

$(KB_AUTH_TEST_DIR)/%: tests/unit/auth/%.c tests/unit/auth/kb_auth_test.h \
    $(KB_AUTH_TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(KB_AUTH_CFLAGS) -Itests/unit/auth -o $@ $< \
	    $(KB_AUTH_TEST_OBJS) $(KB_AUTH_LIBS) -lcmocka -pthread

# Keep the sanitizer objects between runs (they are intermediate files).
.SECONDARY: $(KB_AUTH_TEST_OBJS)
