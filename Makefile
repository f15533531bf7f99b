# groupchat: a WebSocket group-chat server (C11, pthreads, CivetWeb).
#
#   make            build build/release/groupchat
#   make run        install what is missing, build, serve on :8080
#   make test       install what is missing, then unit + integration tests
#                   three times (release, ASan+UBSan, TSan), a short fuzz run
#                   (tests of src/cluster start their own redis-server)
#                   and the browser test (headless Chromium + playwright-core)
#   make bench      build the load generator and run the benchmark scenarios
#   make soak       SOAK_MINUTES (5) of members, deletes and Redis and node
#                   faults against three ASan nodes (SOAK_VARIANT=release
#                   for the release build), judged by test/support's
#                   history checker; not part of make test
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
#   make docs       render flow.png from docs/flow.dot
#   make install    PREFIX=/usr/local DESTDIR= : binary and man page

VERSION   := 1.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
VARIANT   ?= release
BUILD     := build/$(VARIANT)
FUZZ_SECONDS ?= 60
SOAK_MINUTES ?= 5
SOAK_VARIANT ?= asan
FUZZ_SMOKE_SECONDS ?= 5
ARGS      ?=
# V=1 shows every command.
Q         := $(if $(V),,@)

CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS  += -Iinclude -I$(CW_OUT)/include -D_GNU_SOURCE -DGROUPCHAT_VERSION='"$(VERSION)"'
BASEFLAGS := -std=c11 $(WARN) -pthread -MMD -MP
JWT_LIBS  := $(shell pkg-config --libs libjwt 2>/dev/null || echo -ljwt)
HIREDIS_LIBS := $(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis)
LDLIBS    := $(JWT_LIBS) $(HIREDIS_LIBS) -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

ifeq ($(VARIANT),release)
VFLAGS := -O2 -g
else ifeq ($(VARIANT),asan)
VFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(VARIANT),tsan)
VFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
else
$(error VARIANT must be release, asan or tsan)
endif
CFLAGS ?=
ALL_CFLAGS := $(BASEFLAGS) $(VFLAGS) $(CFLAGS)

# CivetWeb, in the tree (third_party/civetweb/README.md): the pristine
# release is copied to $(CW_OUT), the patch queue applied there in the
# order of patches/series, and civetweb.c built with the features
# groupchat uses and nothing else (no TLS, CGI, files, Lua, caching).
CW_DIR     := third_party/civetweb
CW_OUT     := $(BUILD)/civetweb
CW_SERIES  := $(CW_DIR)/patches/series
CW_PATCHES := $(addprefix $(CW_DIR)/patches/,$(shell cat $(CW_SERIES) 2>/dev/null))
CW_STAMP   := $(CW_OUT)/.patched
CW_OBJ     := $(CW_OUT)/civetweb.o
CW_DEFS    := -DUSE_WEBSOCKET -DNO_SSL -DNO_CGI -DNO_FILES -DNO_CACHING -DUSE_STACK_SIZE=102400
# The TSan build leaves CivetWeb uninstrumented, as the Debian .so was:
# 1.15 reads and writes stop_flag and must_close as plain ints across
# threads (upstream made stop_flag atomic after 1.16), so TSan would
# report CivetWeb's own design rather than ours.
CW_VFLAGS  := $(if $(filter tsan,$(VARIANT)),-O1 -g,$(VFLAGS))
CW_CFLAGS  := -std=c11 -pthread -Wall -Wextra -Werror $(CW_VFLAGS) $(CFLAGS)

# One folder per layer under src/ (core, cluster, actors, web, gocompat); the
# program itself (main.c, config.c) sits at the top. Objects mirror the paths.
LIB_SRC     := $(wildcard src/*/*.c) $(filter-out src/main.c,$(wildcard src/*.c))
# The web page, turned into C by scripts/embed.sh and served by src/web/webui.c.
WEBUI_C     := $(BUILD)/gen/webui_page.c
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o) $(WEBUI_C:.c=.o) $(CW_OBJ)
SUPPORT_SRC := $(wildcard test/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC    := $(wildcard test/test_*.c)
IT_SRC      := $(wildcard test/it_*.c)
TEST_BIN    := $(UNIT_SRC:test/%.c=$(BUILD)/test/%) $(IT_SRC:test/%.c=$(BUILD)/test/%)
BENCH_SRC   := $(wildcard bench/*.c)
FUZZ_SRC    := $(wildcard fuzz/fuzz_*.c)

.PHONY: all run test test-variant deps bench soak fuzz fuzz-smoke docs install clean
.DELETE_ON_ERROR:
# Keep objects of chained rules, so test binaries do not rebuild every run.
.SECONDARY:

all: $(BUILD)/groupchat

deps:
	@scripts/deps.sh build

run: deps
	@$(MAKE) --no-print-directory VARIANT=release all
	./build/release/groupchat $(ARGS)

test: deps
	@scripts/deps.sh fuzz redis
	@for v in release asan tsan; do \
		$(MAKE) --no-print-directory VARIANT=$$v test-variant || exit 1; \
	done
	@$(MAKE) --no-print-directory fuzz-smoke
	@test/browser/run.sh >build/browser-summary; rc=$$?; cat build/browser-summary; exit $$rc
	@test/summary.sh build/release build/asan build/tsan

# Builds and runs every test binary of one variant; test/run.sh prints the
# per-binary verdicts and the closing "N passed, N failed" line.
test-variant: $(BUILD)/groupchat $(TEST_BIN)
	@test/run.sh $(VARIANT) $(BUILD) $(TEST_BIN)

$(BUILD)/groupchat: $(BUILD)/src/main.o $(LIB_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test/%: $(BUILD)/test/%.o $(SUPPORT_OBJ) $(LIB_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The files that print VERSION rebuild when it changes.
$(BUILD)/src/config.o $(BUILD)/src/main.o: Makefile

$(CW_STAMP): $(CW_SERIES) $(CW_PATCHES) $(wildcard $(CW_DIR)/src/* $(CW_DIR)/include/*)
	@echo "  PATCH   $(CW_OUT)"
	$(Q)scripts/civetweb-patch.sh $(CW_DIR) $(CW_OUT)
	$(Q)touch $@

$(CW_OBJ): $(CW_STAMP) Makefile
	@echo "  CC      $@"
	$(Q)$(CC) -D_GNU_SOURCE $(CW_DEFS) -I$(CW_OUT)/include $(CW_CFLAGS) -c -o $@ $(CW_OUT)/src/civetweb.c

$(BUILD)/%.o: %.c | $(CW_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(WEBUI_C): web/index.html scripts/embed.sh
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)scripts/embed.sh webui_page_data web/index.html >$@

$(WEBUI_C:.c=.o): $(WEBUI_C) | $(CW_STAMP)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# Load generator: no dependency but libc, always optimised.
build/bench/groupchat-bench: $(BENCH_SRC) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) -D_GNU_SOURCE -O2 -g -pthread -o $@ $(BENCH_SRC) -lm

bench: deps build/bench/groupchat-bench
	@$(MAKE) --no-print-directory VARIANT=release all
	bench/run.sh

# The soak (test/soak.c): its own binary, run once, its report on stdout.
soak: deps
	@scripts/deps.sh redis
	@$(MAKE) --no-print-directory VARIANT=$(SOAK_VARIANT) build/$(SOAK_VARIANT)/groupchat build/$(SOAK_VARIANT)/test/soak
	@SOAK_MINUTES=$(SOAK_MINUTES) CK_FORK=yes \
	ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=23" \
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=24" \
	TSAN_OPTIONS="halt_on_error=1:exitcode=66" \
	build/$(SOAK_VARIANT)/test/soak

# libFuzzer targets, built with clang against the library sources.
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SAN   := -g -O1 -pthread -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS := -std=c11 $(WARN) -D_GNU_SOURCE -DGROUPCHAT_VERSION='"$(VERSION)"' -Iinclude \
	-I$(CW_OUT)/include $(FUZZ_SAN) -fsanitize=fuzzer
# The patched CivetWeb of the release build, compiled once with clang.
build/fuzz/civetweb.o: $(CW_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)clang -std=c11 -Wall -Wextra -Werror -Wno-null-pointer-subtraction -D_GNU_SOURCE $(CW_DEFS) -I$(CW_OUT)/include $(FUZZ_SAN) -c -o $@ $(CW_OUT)/src/civetweb.c
build/fuzz/%: fuzz/%.c $(LIB_SRC) $(WEBUI_C) build/fuzz/civetweb.o
	@mkdir -p $(dir $@)
	@echo "  FUZZ-LD $@"
	$(Q)clang $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		mkdir -p build/fuzz/corpus/$$(basename $$f); \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			build/fuzz/corpus/$$(basename $$f) 2>build/fuzz/$$(basename $$f).log || \
			{ tail -40 build/fuzz/$$(basename $$f).log; exit 1; }; \
	done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

docs: flow.png

flow.png: docs/flow.dot
	@scripts/deps.sh docs
	dot -Tpng -Gdpi=110 -o $@ $<

install: $(BUILD)/groupchat
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/groupchat $(DESTDIR)$(PREFIX)/bin/groupchat
	install -m 0644 docs/groupchat.1 $(DESTDIR)$(PREFIX)/share/man/man1/groupchat.1

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
