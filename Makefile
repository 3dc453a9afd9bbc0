# ims: top-level build. GNU make only; no configure step.
#
#   make                 static + shared library and imsctl (debug build, -Werror)
#   make test            build and run every test
#   make sanitize        every test under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan            the concurrent tests (*_mt) under ThreadSanitizer
#   make soak            10^7 simulation steps at 4 seeds, 60 s threaded under TSan
#   make demo            run the demo
#   make bench           run the benchmarks on an optimized build
#   make install PREFIX=/usr/local
#
# BUILD selects the variant: debug (default), release, asan, tsan. Each
# variant builds into its own directory under build/.

BUILD   ?= debug
CC      ?= cc
ifeq ($(origin CC),default)
CC      := gcc
endif
PREFIX  ?= /usr/local
O       := build/$(BUILD)
VERSION := 0.1.0

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wformat=2 -Wundef -Wvla -Wcast-qual -Wwrite-strings \
        -Wmissing-declarations -Wnull-dereference -Wdouble-promotion
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -fPIC -fvisibility=hidden -pthread $(WARN)

ifeq ($(BUILD),debug)
OPT := -O1 -Werror
else ifeq ($(BUILD),release)
OPT := -O2 -DNDEBUG
else ifeq ($(BUILD),asan)
OPT := -O1 -Werror -fsanitize=address,undefined -fno-sanitize-recover=undefined \
       -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(BUILD),tsan)
OPT := -O1 -Werror -fsanitize=thread -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=thread
else ifeq ($(BUILD),fuzz)
OPT := -O1 -Werror -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
       -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined
else
$(error BUILD must be debug, release, asan, tsan or fuzz)
endif

CFLAGS  ?=
V       ?= 0
ifeq ($(V),0)
Q = @printf '  %-6s %s\n' CC $@;
else
Q =
endif
LDFLAGS ?=
ALL_CFLAGS  = $(BASE_CFLAGS) $(OPT) -Iinclude $(CFLAGS)
ALL_LDFLAGS = -pthread $(SAN_LDFLAGS) $(LDFLAGS)
LIBS        = -lm

# The benchmarks (bench/) are built into the library behind ims_bench_run().
LIB_SRCS  := $(sort $(shell find src -name '*.c')) $(sort $(wildcard bench/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(O)/%.o)
TOOL_SRCS := $(sort $(wildcard tools/imsctl/*.c))
TOOL_OBJS := $(TOOL_SRCS:%.c=$(O)/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
API_SRCS  := $(sort $(wildcard tests/api/*.c))
STRESS_SRCS := $(sort $(wildcard tests/stress/*.c))
SOAK    := $(O)/tests/soak/soak
TEST_BINS := $(UNIT_SRCS:%.c=$(O)/%) $(API_SRCS:%.c=$(O)/%) $(STRESS_SRCS:%.c=$(O)/%) \
             $(O)/tests/api_symbols $(SOAK)
MT_BINS   := $(filter %_mt,$(TEST_BINS))
TEST_HELPER_SRCS := $(sort $(wildcard tests/helpers/*.c))
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(O)/%.o)

STATIC := $(O)/libims.a
SHARED := $(O)/libims.so.0
IMSCTL := $(O)/imsctl
DEPS_STAMP := build/.deps-ok

.PHONY: all lib test soak sanitize tsan demo bench install clean deps check-deps tests-build fmt fuzz fuzz-run fuzz-smoke tsan-run
all: $(STATIC) $(SHARED) $(IMSCTL)
lib: $(STATIC) $(SHARED)

# Missing packages are installed by scripts/deps (apt-get); the stamp keeps
# the check out of every incremental build.
$(DEPS_STAMP): scripts/deps
	@scripts/deps
	@mkdir -p build && touch $@
deps:
	@scripts/deps

$(O)/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc -I. -MMD -MP -c $< -o $@

$(O)/tools/%.o: tools/%.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(SHARED): $(LIB_OBJS)
	$(Q)$(CC) -shared -Wl,-soname,libims.so.0 $(if $(SAN_LDFLAGS),,-Wl,--no-undefined) -o $@ $^ $(ALL_LDFLAGS) $(LIBS)
	@ln -sf libims.so.0 $(O)/libims.so

$(IMSCTL): $(TOOL_OBJS) $(STATIC)
	$(Q)$(CC) -o $@ $(TOOL_OBJS) $(STATIC) $(ALL_LDFLAGS) -ljansson $(LIBS)

# White-box unit and stress tests see src/ and link the static archive.
TEST_CC = $(CC) $(ALL_CFLAGS) -Isrc -Itests -I. -MMD -MP -o $@ $< $(TEST_HELPER_OBJS) $(STATIC) $(ALL_LDFLAGS) -lcmocka $(LIBS)
$(O)/tests/unit/%: tests/unit/%.c $(STATIC) $(TEST_HELPER_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(TEST_CC)
$(O)/tests/stress/%: tests/stress/%.c $(STATIC) $(TEST_HELPER_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(TEST_CC)
# The soak program: public headers only. Without arguments (in `make test`)
# it runs a few seconds; `make soak` runs it long, and threaded under TSan.
$(SOAK): tests/soak/soak.c $(STATIC)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(STATIC) $(ALL_LDFLAGS) $(LIBS)
SOAK_STEPS ?= 10000000
SOAK_SEEDS ?= 4
SOAK_SECONDS ?= 60
soak:
	@$(MAKE) --no-print-directory BUILD=release build/release/tests/soak/soak
	build/release/tests/soak/soak $(SOAK_STEPS) $(SOAK_SEEDS) 0
	@$(MAKE) --no-print-directory BUILD=tsan CC=$(SAN_CC) build/tsan/tests/soak/soak
	TSAN_OPTIONS="halt_on_error=1" build/tsan/tests/soak/soak 0 0 $(SOAK_SECONDS)

# API tests see only include/ and link the shared library: every symbol they
# use must be exported.
$(O)/tests/api/%: tests/api/%.c $(SHARED) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< -L$(O) -l:libims.so.0 -Wl,-rpath,$(CURDIR)/$(O) $(ALL_LDFLAGS) -lcmocka $(LIBS)

$(O)/tests/helpers/%.o: tests/helpers/%.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc -Itests -MMD -MP -c $< -o $@

tests-build: $(TEST_BINS) $(IMSCTL)

test: tests-build
	@scripts/check-exports $(SHARED)
	@$(if $(filter debug,$(BUILD)),scripts/check-fault-coverage,true)
	@$(if $(filter debug,$(BUILD)),$(MAKE) --no-print-directory fuzz-smoke,true)
	@IMSCTL=$(IMSCTL) scripts/run-tests $(O) $(TEST_BINS) tests/report/run -- tests/cli

# The sanitizer runs build with clang, so that CI builds with both compilers
# under -Werror (gcc for the plain run, clang here).
SAN_CC := $(shell command -v clang >/dev/null 2>&1 && echo clang || echo gcc)
sanitize:
	@$(MAKE) --no-print-directory BUILD=asan CC=$(SAN_CC) test

tsan:
	@$(MAKE) --no-print-directory BUILD=tsan CC=$(SAN_CC) tsan-run
tsan-run: $(MT_BINS)
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" scripts/run-tests $(O) $(MT_BINS)

# libFuzzer targets (clang): fuzz/fuzz_NAME.c with a seed corpus in
# fuzz/corpus/NAME. `make test` runs each for a few seconds (fuzz-smoke);
# `make fuzz FUZZ_SECONDS=600` runs longer.
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(O)/fuzz/%)
FUZZ_HELPERS := $(O)/tests/helpers/fake_msi.o
FUZZ_SECONDS ?= 5
$(O)/fuzz/%: fuzz/%.c $(STATIC) $(FUZZ_HELPERS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc -Itests -fsanitize=fuzzer -o $@ $< $(FUZZ_HELPERS) $(STATIC) $(ALL_LDFLAGS) $(LIBS)

fuzz-run: $(FUZZ_BINS)
	@scripts/run-fuzz $(O) $(FUZZ_SECONDS) $(FUZZ_BINS)
fuzz-smoke:
	@if command -v clang >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory BUILD=fuzz CC=clang fuzz-run FUZZ_SECONDS=$(FUZZ_SECONDS); \
	else echo "fuzz: SKIPPED: clang is not installed"; fi
fuzz:
	@$(MAKE) --no-print-directory BUILD=fuzz CC=clang fuzz-run FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600)

demo: $(IMSCTL)
	@$(IMSCTL) demo

# The benchmarks, on an optimized build (imsctl bench; see docs/imsctl.1).
bench:
	@$(MAKE) --no-print-directory BUILD=release build/release/imsctl
	@build/release/imsctl bench $(BENCH_ARGS)

# Rewritten on every install: it carries the PREFIX of that install.
$(O)/ims.pc: FORCE
	@mkdir -p $(dir $@)
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: ims\nDescription: Interrupt Message Store and the interrupt machinery around it\nVersion: %s\nLibs: -L$${libdir} -lims\nLibs.private: -pthread -lm\nCflags: -I$${includedir}\n' '$(PREFIX)' '$(VERSION)' > $@

install: all $(O)/ims.pc
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/ims $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/ims/*.h $(DESTDIR)$(PREFIX)/include/ims/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libims.so.0 $(DESTDIR)$(PREFIX)/lib/libims.so
	install -m 644 $(O)/ims.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 755 $(IMSCTL) $(DESTDIR)$(PREFIX)/bin/

# Every IMS_API declaration must link from the shared library.
$(O)/tests/api_symbols.c: scripts/gen-api-symbols $(wildcard include/ims/*.h)
	@mkdir -p $(dir $@)
	@scripts/gen-api-symbols > $@
$(O)/tests/api_symbols: $(O)/tests/api_symbols.c $(SHARED)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< -L$(O) -l:libims.so.0 -Wl,-rpath,$(CURDIR)/$(O) $(ALL_LDFLAGS)

.PHONY: FORCE
FORCE:

.SECONDARY:

clean:
	rm -rf build

-include $(shell find $(O) -name '*.d' 2>/dev/null)
