# bb - one static binary: `make` builds ./bb, `make check` runs every test.
#
#   make              static musl build of ./bb (builds the dependencies once)
#   make check        build, then unit + shell tests; ends with "N passed, N failed"
#   make demo         a bottle with a scripted agent: allowed, refused, and why (root)
#   make asan         sanitizer build (clang, ASan+UBSan, Debian's -dev libraries)
#   make check MODE=asan   the same tests against the sanitizer build
#   make size         size of ./bb and what it is made of
#   make fuzz         libFuzzer builds of tests/fuzz/fuzz_*.c (corpora replayed by make check)
#   make deps         only the dependencies (scripts/deps.sh)

MODE ?= musl
DEPS_DIR ?= $(or $(BB_DEPS_DIR),$(CURDIR)/.deps)
export BB_DEPS_DIR := $(DEPS_DIR)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Werror=implicit-function-declaration -Werror=format-security
CPPFLAGS := -D_GNU_SOURCE -Ilib -Ihost -Iimage -DBB_VERSION=\"$(VERSION)\"

ifeq ($(MODE),asan)
O := build/asan
CC := clang
CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined $(WARN)
LDFLAGS := -fsanitize=address,undefined
CPPFLAGS += -I/usr/include/bearssl -DBB_BEARSSL_VERSION=\"$(shell dpkg-query -W -f='$${Version}' libbearssl-dev 2>/dev/null)\" \
	$(shell pkg-config --cflags libgit2 yaml-0.1 libcjson libssh2 libsodium liblzma 2>/dev/null)
LIBS := $(shell pkg-config --libs libgit2 yaml-0.1 libcjson libssh2 libsodium zlib libzstd libbrotlidec liblzma 2>/dev/null) -lbearssl -lm
BB := $(O)/bb
DEPS_STAMP :=
else
O := build/musl
CC := musl-gcc
CFLAGS := -std=c11 -O2 -ffunction-sections -fdata-sections $(WARN)
LDFLAGS := -static -Wl,--gc-sections -Wl,-Map=$(O)/bb.map
DEPS_STAMP := $(DEPS_DIR)/flags.mk
-include $(DEPS_STAMP)
# musl's headers stop at libc: netlink and friends come from the kernel's (linux-libc-dev), linked in alone.
KHDR := $(O)/kernel-include
CPPFLAGS += $(DEPS_CFLAGS) $(DEPS_DEFS) -isystem $(KHDR)
DEPS_STAMP += $(KHDR)/.stamp
LDFLAGS += $(DEPS_LDFLAGS)
LIBS := $(DEPS_LIBS)
BB := bb
endif

# host/ holds the host-only parts of `bb bottle` (runtime, dialer), image/ the sidecar image writer; they link like lib/.
LIB_SRC := $(sort $(wildcard lib/*.c host/*.c image/*.c))
APPLET_SRC := $(sort $(wildcard applets/*.c applets/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
APPLET_OBJ := $(APPLET_SRC:%.c=$(O)/%.o) $(O)/applets.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/fuzz/%)

.PHONY: all deps check asan size clean distclean unit fuzz setup-build setup-test demo
all: $(BB)

# Missing Debian packages are installed (as root) or named (otherwise) first.
setup-build:
	@scripts/setup.sh build $(if $(filter asan,$(MODE)),asan)
setup-test:
	@scripts/setup.sh test

deps: $(DEPS_DIR)/flags.mk
$(DEPS_DIR)/flags.mk: scripts/deps.sh | setup-build
	scripts/deps.sh

# One run makes both files (grouped target), so -j never races two generators.
$(O)/kernel-include/.stamp:
	@mkdir -p $(@D)
	@for d in linux asm-generic; do ln -sfn /usr/include/$$d $(@D)/$$d; done
	@ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(@D)/asm
	@touch $@

$(O)/applets.c $(O)/applets.h &: scripts/gen-applets.sh $(APPLET_SRC)
	@mkdir -p $(@D)
	@scripts/gen-applets.sh $(O)/applets.c $(APPLET_SRC)

$(O)/applets.o: $(O)/applets.c $(DEPS_STAMP)
	@echo "  CC      $@"
	@$(CC) $(CPPFLAGS) -I$(O) $(CFLAGS) -c -o $@ $<

# Applets see their own generated prototypes, so a misspelt main is a compile error.
$(O)/applets/%.o: applets/%.c $(O)/applets.h $(DEPS_STAMP) | setup-build
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CPPFLAGS) -include $(O)/applets.h $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/%.o: %.c $(DEPS_STAMP) | setup-build
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/libbb.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(O)/bb: $(APPLET_OBJ) $(O)/libbb.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(APPLET_OBJ) $(O)/libbb.a $(LIBS)

ifneq ($(BB),$(O)/bb)
$(BB): $(O)/bb
	cp $< $@
endif

$(O)/tests/%: tests/unit/%.c tests/unit/t.h tests/unit/t_dns.h $(O)/libbb.a
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libbb.a $(LIBS)

unit: $(UNIT_BIN)

# Each fuzzer linked with a replay driver: make check runs its corpus through it.
$(O)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(O)/libbb.a
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(O)/libbb.a $(LIBS)

check: $(BB) $(UNIT_BIN) $(REPLAY_BIN) | setup-test
	BB=$(CURDIR)/$(BB) UNIT_DIR=$(CURDIR)/$(O)/tests FUZZ_DIR=$(CURDIR)/$(O)/fuzz MODE=$(MODE) tests/run.sh

# libFuzzer builds (clang, ASan+UBSan, Debian's -dev libraries), lib/ and host/ instrumented once:
#   make fuzz && build/fuzz/fuzz_yml tests/fuzz/corpus/yml -max_total_time=60
#   make fuzz FUZZ_SECONDS=N   also runs every target N seconds, one after another (docs/fuzzing.md)
FUZZ_SECONDS ?= 0
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -D_GNU_SOURCE -DBB_VERSION=\"$(VERSION)\" -Ilib -Ihost -Iimage \
	-I/usr/include/bearssl $(shell pkg-config --cflags libgit2 yaml-0.1 libcjson libsodium liblzma 2>/dev/null)
FUZZ_LIBS := $(shell pkg-config --libs libgit2 yaml-0.1 libcjson libssh2 libsodium zlib libzstd libbrotlidec liblzma 2>/dev/null) -lbearssl -lm
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
fuzz: $(FUZZ_BIN)
	@set -e; [ "$(FUZZ_SECONDS)" -gt 0 ] || exit 0; mkdir -p build/fuzz/crashes; \
	for f in $(notdir $(FUZZ_BIN)); do \
		n=$${f#fuzz_}; mkdir -p build/fuzz/corpus/$$n; \
		nice -n 19 build/fuzz/$$f build/fuzz/corpus/$$n tests/fuzz/corpus/$$n -max_total_time=$(FUZZ_SECONDS) \
			-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$$f- \
			>build/fuzz/$$f.log 2>&1 || { tail -n 40 build/fuzz/$$f.log; echo "$$f: crash, see build/fuzz/crashes/"; exit 1; }; \
		printf '%-16s %s\n' $$f "$$(grep -E '^#[0-9]+.*DONE' build/fuzz/$$f.log | sed 's/ lim:.*//')"; \
	done
build/fuzz/obj/%.o: %.c | setup-build
	@mkdir -p $(@D)
	@scripts/setup.sh asan
	@echo "  FUZZCC  $@"
	@clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJ)
	@echo "  FUZZ    $@"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(FUZZ_LIBS)
# kept between runs (make would delete them as intermediate files)
.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d)

# A bottle on the embedded runtime with a harmless scripted agent (root: namespaces).
demo: $(BB) | setup-test
	BB=$(CURDIR)/$(BB) scripts/demo.sh

asan:
	$(MAKE) MODE=asan build/asan/bb

size: $(BB)
	scripts/size.sh $(BB) $(O)

clean:
	rm -rf build bb

distclean: clean
	rm -rf $(DEPS_DIR)

-include $(LIB_OBJ:.o=.d) $(APPLET_SRC:%.c=$(O)/%.d)
