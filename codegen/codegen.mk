# kbgen (the OpenAPI -> C generator) and the pure-C runtime it targets.
# Included by the top-level Makefile; usable alone with
#	make -f codegen/codegen.mk build/kbgen

BUILD ?= build

KB_PKGS ?= yaml-0.1 jansson libpcre2-8
KB_PKG_CFLAGS := $(shell pkg-config --cflags $(KB_PKGS))
KB_PKG_LIBS := $(shell pkg-config --libs $(KB_PKGS))

# Runtime sources: pure C + jansson + pcre2, no Kore.  The server links
# these too (KB_RT_SRCS); kb_rt.h is the contract with generated code.
KB_RT_SRCS = runtime/kb_errors.c runtime/kb_validate.c runtime/kb_param.c \
	runtime/kb_router.c
KB_RT_HDRS = runtime/kb_rt.h
KB_RT_CFLAGS = -Iruntime

KBGEN_SRCS = codegen/util.c codegen/load.c codegen/ref.c codegen/bundle.c \
	codegen/schema.c codegen/model.c codegen/emit_types.c \
	codegen/emit_api.c
KBGEN_HDRS = codegen/kbc.h codegen/emit.h
KBGEN_CFLAGS ?= -std=c11 -D_GNU_SOURCE -Wall -Wextra -O2 -g

$(BUILD)/kbgen: $(KBGEN_SRCS) codegen/main.c $(KBGEN_HDRS) $(KB_RT_SRCS) \
    $(KB_RT_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(KBGEN_CFLAGS) -Icodegen $(KB_RT_CFLAGS) $(KB_PKG_CFLAGS) \
	    -o $@ $(KBGEN_SRCS) codegen/main.c $(KB_RT_SRCS) $(KB_PKG_LIBS) -lm
