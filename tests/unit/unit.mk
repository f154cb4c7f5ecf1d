# Unit tests for kbgen and the runtime (cmocka, data-driven cases in
# tests/cases/), plus generated-code checks.  Included by the top-level
# Makefile; usable alone with
#	make -f codegen/codegen.mk -f tests/unit/unit.mk test-unit
#
#   test-unit        all of the below except the third-party run
#   test-thirdparty  GitHub's OpenAPI description (npm @octokit/openapi):
#                    generate, compile with -Werror, route every path

BUILD ?= build
UNIT_BUILD = $(BUILD)/unit
UNIT_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer
# -Wno-format-truncation: gcc 12 sees a "null format string" in va_list
# wrappers once UBSan instruments them (a false positive).
UNIT_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
	-Wno-format-truncation \
	$(UNIT_SAN) -Icodegen $(KB_RT_CFLAGS) $(KB_PKG_CFLAGS)
UNIT_LIBS = $(KB_PKG_LIBS) $(shell pkg-config --libs cmocka) -lm
GEN_CFLAGS = -std=c11 -Wall -Wextra -Werror -O0 -g $(KB_RT_CFLAGS)
UNIT_ENV = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1

UNIT_FIXTURE = tests/fixtures/petstore/openapi.yaml
UNIT_COMPILE_FIXTURES = tests/fixtures/names/openapi.yaml \
	tests/fixtures/empty/openapi.json

.PHONY: test-unit test-unit-cases test-unit-runtime test-unit-generated \
	test-unit-determinism test-thirdparty

test-unit: test-unit-cases test-unit-runtime test-unit-determinism \
	test-unit-generated

$(UNIT_BUILD)/test_cases: tests/unit/test_cases.c $(KBGEN_SRCS) \
    $(KBGEN_HDRS) $(KB_RT_SRCS) $(KB_RT_HDRS)
	@mkdir -p $(UNIT_BUILD)
	$(CC) $(UNIT_CFLAGS) -o $@ tests/unit/test_cases.c $(KBGEN_SRCS) \
	    $(KB_RT_SRCS) $(UNIT_LIBS)

$(UNIT_BUILD)/test_runtime: tests/unit/test_runtime.c $(KBGEN_SRCS) \
    $(KBGEN_HDRS) $(KB_RT_SRCS) $(KB_RT_HDRS)
	@mkdir -p $(UNIT_BUILD)
	$(CC) $(UNIT_CFLAGS) -o $@ tests/unit/test_runtime.c $(KBGEN_SRCS) \
	    $(KB_RT_SRCS) $(UNIT_LIBS)

test-unit-cases: $(UNIT_BUILD)/test_cases
	$(UNIT_ENV) $(UNIT_BUILD)/test_cases tests/cases

test-unit-runtime: $(UNIT_BUILD)/test_runtime
	$(UNIT_ENV) $(UNIT_BUILD)/test_runtime

# Same input, same bytes: generate twice into fresh directories.
test-unit-determinism: $(BUILD)/kbgen
	@rm -rf $(UNIT_BUILD)/det1 $(UNIT_BUILD)/det2
	$(BUILD)/kbgen -q $(UNIT_FIXTURE) -o $(UNIT_BUILD)/det1
	$(BUILD)/kbgen -q $(UNIT_FIXTURE) -o $(UNIT_BUILD)/det2
	diff -r $(UNIT_BUILD)/det1 $(UNIT_BUILD)/det2
	@echo "determinism: identical output"

# The generated code compiles with -Werror, links with the runtime and a
# tiny program routes, validates and invokes through it.
test-unit-generated: $(BUILD)/kbgen tests/unit/sample_main.c
	@rm -rf $(UNIT_BUILD)/gen
	$(BUILD)/kbgen -q $(UNIT_FIXTURE) -o $(UNIT_BUILD)/gen
	$(CC) $(GEN_CFLAGS) $(UNIT_SAN) -I$(UNIT_BUILD)/gen \
	    -o $(UNIT_BUILD)/sample tests/unit/sample_main.c \
	    $(UNIT_BUILD)/gen/kbg_api.c $(UNIT_BUILD)/gen/kbg_types.c \
	    $(UNIT_BUILD)/gen/kbg_spec.c $(KB_RT_SRCS) $(UNIT_LIBS)
	$(UNIT_ENV) $(UNIT_BUILD)/sample
	@for f in $(UNIT_COMPILE_FIXTURES); do \
		rm -rf $(UNIT_BUILD)/genc && \
		$(BUILD)/kbgen -q $$f -o $(UNIT_BUILD)/genc 2>/dev/null && \
		for c in kbg_api.c kbg_types.c kbg_spec.c; do \
			$(CC) $(GEN_CFLAGS) -Wshadow -c \
			    -o $(UNIT_BUILD)/genc/$$c.o \
			    $(UNIT_BUILD)/genc/$$c || exit 1; \
		done && echo "compiles with -Werror: $$f" || exit 1; \
	done

THIRDPARTY = $(BUILD)/thirdparty
THIRDPARTY_PKG = @octokit/openapi
THIRDPARTY_SPEC = $(THIRDPARTY)/package/generated/api.github.com.json

$(THIRDPARTY_SPEC):
	@mkdir -p $(THIRDPARTY)
	cd $(THIRDPARTY) && rm -f *.tgz && npm pack --silent $(THIRDPARTY_PKG) \
	    >/dev/null && tar xzf *.tgz package/generated/api.github.com.json

test-thirdparty: $(BUILD)/kbgen $(THIRDPARTY_SPEC) tests/unit/thirdparty_main.c
	@rm -rf $(THIRDPARTY)/gen
	@ls -l $(THIRDPARTY_SPEC)
	@start=$$(date +%s%N); \
	$(BUILD)/kbgen $(THIRDPARTY_SPEC) -o $(THIRDPARTY)/gen \
	    2>$(THIRDPARTY)/kbgen.log || { cat $(THIRDPARTY)/kbgen.log; \
	    exit 1; }; \
	end=$$(date +%s%N); grep -v warning $(THIRDPARTY)/kbgen.log; \
	echo "kbgen: $$(( (end - start) / 1000000 )) ms," \
	    "$$(grep -c warning $(THIRDPARTY)/kbgen.log) warning(s)"
	$(CC) $(GEN_CFLAGS) -c -o $(THIRDPARTY)/gen/kbg_api.o \
	    $(THIRDPARTY)/gen/kbg_api.c
	$(CC) $(GEN_CFLAGS) -c -o $(THIRDPARTY)/gen/kbg_types.o \
	    $(THIRDPARTY)/gen/kbg_types.c
	$(CC) $(GEN_CFLAGS) -c -o $(THIRDPARTY)/gen/kbg_spec.o \
	    $(THIRDPARTY)/gen/kbg_spec.c
	$(CC) $(GEN_CFLAGS) -I$(THIRDPARTY)/gen -o $(THIRDPARTY)/routes \
	    tests/unit/thirdparty_main.c $(THIRDPARTY)/gen/kbg_api.o \
	    $(THIRDPARTY)/gen/kbg_types.o $(THIRDPARTY)/gen/kbg_spec.o \
	    $(KB_RT_SRCS) $(KB_PKG_LIBS) -lm
	$(THIRDPARTY)/routes $(THIRDPARTY_SPEC)
