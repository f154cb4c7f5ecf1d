# korebase tables: the pure-C core of the Tables API (no Kore, no libpq):
# the schema model, the query grammar, the SQL builder, response shaping.
#
# Included by the top Makefile (`include tables/tables.mk`), or standalone:
#	make -f tables/tables.mk BUILD=build test-tables
#
# KB_TABLES_SRCS and KB_TABLES_LIBS are for whoever links tables/ into the
# module; test-tables builds its own copies under $(BUILD)/tables-test
# with AddressSanitizer and UBSan.  test-tables-catalog runs the catalog
# query on a throwaway PostgreSQL cluster.  fuzz runs the libFuzzer
# target over the parser and builder for FUZZ_SECONDS (clang).

BUILD			?= build
CC			?= cc

KB_TABLES_SRCS		:= $(filter-out tables/fuzz_%.c,$(wildcard tables/*.c))
KB_TABLES_HDRS		:= $(wildcard tables/*.h)
KB_TABLES_LIBS		:= -ljansson

KB_TABLES_TEST_DIR	 = $(BUILD)/tables-test
KB_TABLES_TEST_SRCS	:= $(wildcard tests/unit/tables/test_*.c)
KB_TABLES_TEST_BINS	 = $(patsubst tests/unit/tables/%.c, \
			    $(KB_TABLES_TEST_DIR)/%,$(KB_TABLES_TEST_SRCS))
KB_TABLES_TEST_OBJS	 = $(patsubst tables/%.c,$(KB_TABLES_TEST_DIR)/obj/%.o, \
			    $(KB_TABLES_SRCS))
KB_TABLES_SAN		 = -fsanitize=address,undefined \
			    -fno-sanitize-recover=all -fno-omit-frame-pointer
KB_TABLES_CFLAGS	 = -O1 -g -std=gnu11 -Wall -Wextra -Werror \
			    -Wmissing-prototypes -Wshadow \
			    -Wno-unused-parameter $(KB_TABLES_SAN) -Itables

.PHONY: test-tables test-tables-catalog

# Each suite's output goes to its .log; only the summary lines are shown,
# the whole log when a suite fails.
test-tables: $(KB_TABLES_TEST_BINS)
	@total=0; for t in $(KB_TABLES_TEST_BINS); do \
		if ! ASAN_OPTIONS=detect_leaks=1 \
		    UBSAN_OPTIONS=print_stacktrace=1 $$t >$$t.log 2>&1; then \
			cat $$t.log; echo "test-tables: $$t FAILED"; exit 1; \
		fi; \
		grep -h '^\[==========\] Running\|^\[  PASSED  \]\|^\[  FAILED  \]' \
		    $$t.log || true; \
		n=$$(sed -n 's/^\[  PASSED  \] \([0-9]*\) .*/\1/p' \
		    $$t.log); \
		total=$$((total + n)); \
	done; \
	echo "test-tables: $$total tests passed (ASan+UBSan)"

test-tables-catalog:
	@BUILD=$(BUILD) tests/unit/tables/catalog.sh

$(KB_TABLES_TEST_DIR)/obj/%.o: tables/%.c $(KB_TABLES_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(KB_TABLES_CFLAGS) -c -o $@ $<

$(KB_TABLES_TEST_DIR)/%: tests/unit/tables/%.c \
    tests/unit/tables/kb_tables_test.h $(KB_TABLES_TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(KB_TABLES_CFLAGS) -Itests/unit/tables -o $@ $< \
	    $(KB_TABLES_TEST_OBJS) $(KB_TABLES_LIBS) -lcmocka

# The live cases' driver (libpq, for tests only).
$(KB_TABLES_TEST_DIR)/live: tests/unit/tables/live.c $(KB_TABLES_TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(KB_TABLES_CFLAGS) $$(pkg-config --cflags libpq) -o $@ $< \
	    $(KB_TABLES_TEST_OBJS) $(KB_TABLES_LIBS) $$(pkg-config --libs libpq)

# Keep the sanitizer objects between runs (they are intermediate files).
.SECONDARY: $(KB_TABLES_TEST_OBJS)

# The libFuzzer target (clang): parser, builder and response shaping.
FUZZ_SECONDS		?= 60
KB_FUZZ_DIR		 = $(BUILD)/fuzz
KB_FUZZ_CFLAGS		 = -O1 -g -std=gnu11 -Wall -Wextra \
			    -Wno-unused-parameter -Itables \
			    -fsanitize=fuzzer,address,undefined \
			    -fno-sanitize-recover=all

.PHONY: fuzz

$(KB_FUZZ_DIR)/fuzz_query: tables/fuzz_query.c $(KB_TABLES_SRCS) \
    $(KB_TABLES_HDRS)
	@mkdir -p $(dir $@)
	clang $(KB_FUZZ_CFLAGS) -o $@ tables/fuzz_query.c $(KB_TABLES_SRCS) \
	    $(KB_TABLES_LIBS)

# New inputs go to $(KB_FUZZ_DIR)/corpus; tables/fuzz_corpus holds seeds.
fuzz: $(KB_FUZZ_DIR)/fuzz_query
	@mkdir -p $(KB_FUZZ_DIR)/corpus
	ASAN_OPTIONS=detect_leaks=1 $(KB_FUZZ_DIR)/fuzz_query \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(KB_FUZZ_DIR)/ \
	    $(KB_FUZZ_DIR)/corpus tables/fuzz_corpus
