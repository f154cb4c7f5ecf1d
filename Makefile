# korebase.  `make run` and `make test` are all a new user needs; both
# install what is missing first (scripts/deps.sh).

BUILD		?= build
CC		?= cc
KORE_FEATURES	:= $(shell cat /usr/share/kore/features 2>/dev/null)
PKGS		:= jansson libpq libpcre2-8 openssl libcurl
PKG_CFLAGS	 = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS		?= -O2 -g
WARN		 = -Wall -Wextra -Wmissing-prototypes -Wshadow \
		   -Wno-unused-parameter
MOD_CFLAGS	 = $(CFLAGS) $(WARN) -std=gnu11 -fPIC $(KORE_FEATURES) \
		   -Iruntime -Iserver -Igenerated -Iauth -Itables -Itools \
		   $(PKG_CFLAGS)

SPEC		 = spec/openapi.yaml
SPEC_FILES	:= $(shell find spec -name '*.yaml' -o -name '*.json' 2>/dev/null)
MODULE		 = $(BUILD)/korebase.so
MOD_LIBS	 = -largon2 -ljwt -lpthread -lm

SERVER_SRCS	:= $(wildcard server/*.c)
HANDLER_SRCS	:= $(wildcard handlers/*.c)
RUNTIME_SRCS	:= $(wildcard runtime/*.c)
GEN_SRCS	 = $(wildcard generated/*.c)
AUTH_SRCS	:= $(wildcard auth/*.c)
TABLES_SRCS	 = $(KB_TABLES_SRCS)
# The migration runner's core, shared with build/kbmigrate.
TOOL_SRCS	:= tools/kb_migrate.c
MOD_SRCS	 = $(SERVER_SRCS) $(HANDLER_SRCS) $(RUNTIME_SRCS) $(GEN_SRCS) \
		   $(AUTH_SRCS) $(TABLES_SRCS) $(TOOL_SRCS)
MOD_OBJS	 = $(patsubst %.c,$(BUILD)/mod/%.o,$(MOD_SRCS))

.PHONY: all deps codegen generate module run migrate test test-lint \
	test-generated test-integration test-asan bench clean

all: module $(BUILD)/kbmigrate

include codegen/codegen.mk
include tests/unit/unit.mk
include auth/auth.mk
include tables/tables.mk

deps:
	@scripts/deps.sh

codegen: $(BUILD)/kbgen

# generated/ is checked in; it is rebuilt whenever the spec or kbgen
# changes, and `make test` fails if the checked-in copy is stale.
generate: $(BUILD)/kbgen
	$(BUILD)/kbgen $(SPEC) -o generated
	@touch $(BUILD)/.generated

$(BUILD)/.generated: $(SPEC_FILES) $(BUILD)/kbgen
	$(BUILD)/kbgen $(SPEC) -o generated
	@touch $@

module: $(BUILD)/.generated
	@$(MAKE) --no-print-directory $(MODULE)

$(MODULE): $(MOD_OBJS)
	$(CC) -shared -o $@ $(MOD_OBJS) $(PKG_LIBS) $(MOD_LIBS)
	@missing=$$(nm $@ | awk '$$1 == "w" && $$2 ~ /^kbh_/ { sub(/^kbh_/, "", $$2); printf " %s", $$2 }'); \
	if [ -n "$$missing" ]; then \
		echo "unimplemented operations (answer 501):$$missing"; \
	else \
		echo "every operation has a handler"; \
	fi

$(BUILD)/mod/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(MOD_CFLAGS) -MMD -MP -c -o $@ $<

# The module the integration suite runs: the shipped objects, except that
# kb_main.c and kb_test.c are built with -DKB_TEST, which adds the
# test-only routes under /__test/ (server/kb_test.c).
TEST_MODULE	 = $(BUILD)/korebase-test.so
TEST_MOD_OBJS	 = $(filter-out $(BUILD)/mod/server/kb_main.o \
		   $(BUILD)/mod/server/kb_test.o,$(MOD_OBJS)) \
		   $(BUILD)/tmod/server/kb_main.o $(BUILD)/tmod/server/kb_test.o

$(BUILD)/tmod/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(MOD_CFLAGS) -DKB_TEST -MMD -MP -c -o $@ $<

$(TEST_MODULE): $(TEST_MOD_OBJS)
	$(CC) -shared -o $@ $(TEST_MOD_OBJS) $(PKG_LIBS) $(MOD_LIBS)

$(BUILD)/kbmigrate: tools/kbmigrate.c tools/kb_migrate.c tools/kb_migrate.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -std=gnu11 $(PKG_CFLAGS) -Itools -o $@ \
	    tools/kbmigrate.c tools/kb_migrate.c $(PKG_LIBS)

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

# Apply pending migrations to DATABASE_URL (default: the embedded cluster).
migrate: deps $(BUILD)/kbmigrate
	@if [ -z "$$DATABASE_URL" ]; then \
		scripts/pg.sh start $(CURDIR)/var/pg $${KB_PG_PORT:-5432}; \
		DATABASE_URL="postgresql://postgres@/korebase?host=$(CURDIR)/var/pg/run&port=$${KB_PG_PORT:-5432}"; \
	fi; \
	$(BUILD)/kbmigrate -d "$$DATABASE_URL" migrations

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-generated test-lint test-unit test-auth \
	    test-tables test-tables-catalog test-integration test-thirdparty

test-generated: $(BUILD)/kbgen
	@rm -rf $(BUILD)/gen-check
	@$(BUILD)/kbgen $(SPEC) -o $(BUILD)/gen-check
	@if diff -r generated $(BUILD)/gen-check >/dev/null; then \
		echo "generated/ is up to date with spec/"; \
	else \
		diff -r generated $(BUILD)/gen-check | head -20; \
		echo "generated/ is stale: run 'make generate' and commit"; \
		exit 1; \
	fi

test-lint:
	@tests/lint-spec.sh

# The test module after `all` (not beside it: both build the same
# objects, and two makes writing one object at once corrupt it).
test-integration: all
	@$(MAKE) --no-print-directory $(TEST_MODULE)
	@tests/integration/run.sh

# The integration suite against a module built with AddressSanitizer
# (kore itself is not instrumented; libasan is preloaded).
ASAN_OBJS	 = $(patsubst %.c,$(BUILD)/asan/%.o,$(MOD_SRCS))

# -MMD: an object must follow its headers (a struct that grew in a
# header otherwise leaves stale objects reading the wrong offsets).
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(MOD_CFLAGS) -DKB_TEST -O1 -fsanitize=address \
	    -fno-omit-frame-pointer -MMD -MP -c -o $@ $<

$(BUILD)/asan/korebase.so: $(ASAN_OBJS)
	$(CC) -shared -fsanitize=address -o $@ $(ASAN_OBJS) $(PKG_LIBS) \
	    $(MOD_LIBS)

test-asan: all $(BUILD)/asan/korebase.so
	@KB_MODULE=$(CURDIR)/$(BUILD)/asan/korebase.so \
	    KB_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	    tests/integration/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench.sh

clean:
	rm -rf $(BUILD)

-include $(MOD_OBJS:.o=.d) $(TEST_MOD_OBJS:.o=.d) $(ASAN_OBJS:.o=.d)
