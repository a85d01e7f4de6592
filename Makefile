# nnedge build. `make` builds build/libnnedge.{a,so} and build/nnedge.
# `make SAN=1` builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
CC      ?= cc
SHARED  ?= ../shared
OPT     ?= -O2
# -fvisibility=hidden: libnnedge.so exports only what nnedge.h marks NNE_API.
CFLAGS_BASE := -std=c11 -g $(OPT) -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc -D_GNU_SOURCE -fPIC -pthread \
               -fvisibility=hidden
ifeq ($(SAN),1)
BUILD   ?= build-san
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# debug build: the graph validator runs after loading and after every optimization pass
CFLAGS_BASE += -DNNE_DEBUG_VALIDATE
LDSAN   := -fsanitize=address,undefined
else ifeq ($(TSAN),1)
# ThreadSanitizer build (make test-tsan): the library and the concurrency test.
BUILD   ?= build-tsan
CFLAGS_BASE += -fsanitize=thread -fno-omit-frame-pointer
LDSAN   := -fsanitize=thread
else
BUILD   ?= build
endif
# -MMD -MP: each object also writes a .d file listing the headers it included
# (see the "Header dependencies" block below).
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS) -MMD -MP
LDLIBS  := -lm -pthread

# Version: read from nnedge.h, the one place it is written.
nne_ver = $(shell sed -n 's/^\#define NNE_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' include/nnedge.h)
VERSION_MAJOR := $(call nne_ver,MAJOR)
VERSION_MINOR := $(call nne_ver,MINOR)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(call nne_ver,PATCH)
# The shared library's soname changes when its ABI may: with every minor
# version while the major is 0 (no ABI promise yet), then with the major.
SOVERSION := $(if $(filter 0,$(VERSION_MAJOR)),$(VERSION_MAJOR).$(VERSION_MINOR),$(VERSION_MAJOR))
SONAME := libnnedge.so.$(SOVERSION)

LIB_SRC := $(sort $(wildcard src/core/*.c src/ir/*.c src/ops/*.c src/io/*.c src/quant/*.c src/train/*.c src/kernels/*.c src/kernels/ref/*.c \
                             src/kernels/x86_avx2/*.c src/kernels/x86_avx512/*.c src/kernels/x86_avx512vnni/*.c src/kernels/arm_neon/*.c \
                             src/pipeline/image.c src/pipeline/ocr.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/op_table.o
CLI_SRC := $(sort $(wildcard tools/cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# .nne packages (src/pkg/): the tools-side library with libsodium, linked into
# the nnedge command only (libnnedge itself stays libc/libm/pthreads).
PKG_SRC := $(sort $(wildcard src/pkg/*.c))
PKG_OBJ := $(PKG_SRC:%.c=$(BUILD)/obj/%.o)
PKG_LIBS := $(shell pkg-config --libs libsodium 2>/dev/null || echo -lsodium)
-include src/serve/serve.mk
-include src/fleet/fleet.mk
-include src/pipeline/audio.mk
include src/pipeline/image.mk
-include src/train/train.mk
UNIT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/*.c))

all: $(BUILD)/libnnedge.a $(BUILD)/libnnedge.so $(BUILD)/nnedge $(BUILD)/conformance $(BUILD)/unit_tests \
     $(BUILD)/nnedge.pc $(BUILD)/rt_check $(BUILD)/load_rss $(BUILD)/contexts_rss $(BUILD)/concurrency

$(BUILD)/obj/%.o: %.c $(BUILD)/cflags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The op table: every NNE_OP_REGISTER(sym, ...) in src/ops/*.c.
$(BUILD)/gen/op_table.c: $(wildcard src/ops/*.c) scripts/gen_op_table.sh
	@mkdir -p $(dir $@)
	sh scripts/gen_op_table.sh src/ops/*.c > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/op_table.o: $(BUILD)/gen/op_table.c $(BUILD)/cflags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The object list is a prerequisite too, so removing a source rebuilds the library.
$(BUILD)/objlist: FORCE
	@mkdir -p $(BUILD)
	@echo '$(LIB_OBJ)' | cmp -s - $@ || echo '$(LIB_OBJ)' > $@
# Likewise the compiler and flags: changing them (CFLAGS=, OPT=) rebuilds every object.
$(BUILD)/cflags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS_ALL)' | cmp -s - $@ || echo '$(CC) $(CFLAGS_ALL)' > $@
$(BUILD)/libnnedge.a: $(LIB_OBJ) $(BUILD)/objlist
	rm -f $@ && ar rcs $@ $(LIB_OBJ)
# build/libnnedge.so.$(SOVERSION) links to it, so programs linked against
# build/ run with LD_LIBRARY_PATH=build.
$(BUILD)/libnnedge.so: $(LIB_OBJ) $(BUILD)/objlist
	$(CC) -shared $(LDSAN) -Wl,-soname,$(SONAME) -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf libnnedge.so $(BUILD)/$(SONAME)
$(BUILD)/libnnedge_pkg.a: $(PKG_OBJ)
	rm -f $@ && ar rcs $@ $(PKG_OBJ)
$(BUILD)/nnedge: $(CLI_OBJ) $(BUILD)/libnnedge_pkg.a $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(BUILD)/conformance: $(BUILD)/obj/tests/conformance/runner.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/concurrency: $(BUILD)/obj/tests/concurrency/concurrency.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/rt_check: $(BUILD)/obj/tests/roundtrip/rt_check.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/load_rss: $(BUILD)/obj/tests/mem/load_rss.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/contexts_rss: $(BUILD)/obj/tests/mem/contexts_rss.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/unit_tests: $(UNIT_OBJ) $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

setup:
	sh scripts/setup.sh

# ------------------------------------------------------------ install --
# `make install PREFIX=/usr/local DESTDIR=` installs nnedge.h, libnnedge.a,
# libnnedge.so (real file libnnedge.so.$(VERSION), links .so.$(SOVERSION) and
# .so), nnedge.pc and the nnedge command; src/pipeline/io.mk adds libnnedge_io
# (nnedge_image.h, nnedge_audio.h, nnedge-io.pc). DESTDIR stages the files for a
# package; PREFIX is what nnedge.pc records.
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# nnedge.pc is rewritten when the directories change; paths under PREFIX are
# written relative to ${prefix}.
PC_VARS := $(PREFIX)|$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|$(VERSION)
$(BUILD)/pcvars: FORCE
	@mkdir -p $(BUILD)
	@echo '$(PC_VARS)' | cmp -s - $@ || echo '$(PC_VARS)' > $@
$(BUILD)/nnedge.pc: scripts/nnedge.pc.in $(BUILD)/pcvars
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' $< > $@.tmp
	mv $@.tmp $@

install: $(BUILD)/libnnedge.a $(BUILD)/libnnedge.so $(BUILD)/nnedge $(BUILD)/nnedge.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/nnedge.h $(DESTDIR)$(INCLUDEDIR)/nnedge.h
	install -m 644 $(BUILD)/libnnedge.a $(DESTDIR)$(LIBDIR)/libnnedge.a
	install -m 755 $(BUILD)/libnnedge.so $(DESTDIR)$(LIBDIR)/libnnedge.so.$(VERSION)
	ln -sf libnnedge.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libnnedge.so
	install -m 644 $(BUILD)/nnedge.pc $(DESTDIR)$(PKGCONFIGDIR)/nnedge.pc
	install -m 755 $(BUILD)/nnedge $(DESTDIR)$(BINDIR)/nnedge

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/nnedge.h $(DESTDIR)$(LIBDIR)/libnnedge.a $(DESTDIR)$(LIBDIR)/libnnedge.so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libnnedge.so.$(VERSION) \
	      $(DESTDIR)$(PKGCONFIGDIR)/nnedge.pc $(DESTDIR)$(BINDIR)/nnedge

# What the shared library exports (only NNE_API functions) and whether the
# option structs follow nnedge.h's growth rules; an install into a temporary
# prefix used through pkg-config. `make test` runs both.
test-exports: $(BUILD)/libnnedge.so
	python3 tests/abi/check_exports.py $(BUILD)/libnnedge.so include/nnedge.h
	python3 tests/abi/check_options.py include/nnedge.h src/core/abi.c
test-install:
	J=$(J) sh tests/abi/install.sh

# `make test`: everything under AddressSanitizer + UndefinedBehaviorSanitizer.
# Builds run $(J) jobs at once (the tests themselves one at a time); each
# step's wall time goes to build-san/phases.log, summed up at the end.
J ?= $(shell nproc 2>/dev/null || echo 2)
P = sh tests/phase.sh
test: setup
	@rm -f build-san/phases.log
	$(P) $(MAKE) -j$(J) SAN=1 all
	$(P) build-san/unit_tests
	$(P) build-san/concurrency
	$(P) $(MAKE) test-tsan
	$(P) $(MAKE) SAN=1 test-exports
	$(P) $(MAKE) -j$(J) all
	$(P) $(MAKE) test-install
	$(P) $(MAKE) test-exports
	$(P) python3 tests/conformance/selftest.py build-san/conformance
	$(P) CONFORMANCE=build-san/conformance sh tests/conformance/check.sh
	$(P) NNE_OPTIMIZE=all CONFORMANCE=build-san/conformance OUT=build-san/conformance-optimized.txt sh tests/conformance/check.sh
	$(P) CONFORMANCE=build-san/conformance OUT=build-san/opcases sh tests/opcases/run.sh
	$(P) NNEDGE=build-san/nnedge sh tests/cli/help.sh
	$(P) $(MAKE) test-bad-input NNEDGE=build-san/nnedge
	$(P) $(MAKE) -j$(J) fuzz-build
	$(P) $(MAKE) fuzz-smoke
	$(P) $(MAKE) test-hostile NNEDGE=build-san/nnedge
	$(P) $(MAKE) test-quant NNEDGE=build-san/nnedge
	$(P) $(MAKE) -j$(J) all
	$(P) $(MAKE) test-hostile NNEDGE=build/nnedge
	$(P) NNEDGE=build-san/nnedge bash tests/diff/run.sh
	$(P) $(MAKE) test-tflite NNEDGE=build-san/nnedge
	$(P) $(MAKE) test-app-wakeword NNEDGE=build-san/nnedge
	$(P) $(MAKE) test-python
	$(P) $(MAKE) SAN=1 test-roundtrip
	$(P) $(MAKE) test-mem
	$(P) $(MAKE) SAN=1 test-pkg
	$(P) $(MAKE) test-serve
	$(P) $(MAKE) test-kernels
	$(P) $(MAKE) SAN=1 test-int8
	$(P) $(MAKE) test-app-ocr
	$(P) $(MAKE) test-train NNEDGE=build-san/nnedge
	$(P) $(MAKE) test-fleet-controller
	$(P) $(MAKE) test-fleet-agent
	$(P) $(MAKE) test-fleet
	@sh tests/phase.sh --summary

# The concurrency test (8 threads, shared plans, >= 1000 runs per model)
# under ThreadSanitizer, built into build-tsan/.
test-tsan:
	$(MAKE) -j$(J) TSAN=1 build-tsan/concurrency
	TSAN_OPTIONS=halt_on_error=1 build-tsan/concurrency

# Conformance without sanitizers (fast) and updating the committed pass list.
conformance: all
	sh tests/conformance/check.sh
conformance-update: all
	sh tests/conformance/check.sh --update
# Every listed test (light/ models aside) and every valid opcase again under
# ASan, failing each of its allocations in turn: each must end in NNE_OK or
# NNE_ERR_OUT_OF_MEMORY with nothing left allocated (runner --oom; several
# minutes; not part of `make test`).
conformance-oom:
	$(MAKE) SAN=1 all
	build-san/conformance --oom $$(grep -v '^light/' tests/conformance/passing.txt | sed 's|^|$(SHARED)/onnx-tests/|') \
	    > build-san/conformance-oom.txt; status=$$?; grep -v '^PASS' build-san/conformance-oom.txt; \
	echo "conformance-oom: $$(grep -c '^PASS' build-san/conformance-oom.txt) tests pass with each allocation failed once" \
	     "($$(grep -c 'oom: not checked' build-san/conformance-oom.txt) not checked: over --oom-max allocations)"; \
	rm -rf build-san/opcases-oom; for g in tests/opcases/gen_*.py; do python3 $$g build-san/opcases-oom || exit 1; done; \
	build-san/conformance --oom build-san/opcases-oom/good/* > build-san/opcases-oom.txt || status=1; \
	grep -v '^PASS' build-san/opcases-oom.txt; \
	echo "conformance-oom: $$(grep -c '^PASS' build-san/opcases-oom.txt) opcases pass with each allocation failed once"; \
	exit $$status

# Round trip (tests/roundtrip/run.sh): every test and differential model written
# by `nnedge convert --optimize none` loads as the same graph, gives bit-identical
# outputs, passes onnx.checker and runs in ONNX Runtime wherever the original does.
test-roundtrip: all
	NNEDGE=$(BUILD)/nnedge RT_CHECK=$(BUILD)/rt_check OUT=$(BUILD)/roundtrip bash tests/roundtrip/run.sh

# Weights in place: loading resnet50 adds at most 5 MB of private memory;
# 16 contexts on one resnet50 plan cost about 16 arenas, not 16 copies of the
# weights (release build: sanitizers add their own allocations).
test-mem:
	$(MAKE) -j$(J) all
	bash tests/mem/run.sh

demo:
	sh scripts/setup.sh --demo
	$(MAKE) all
	sh scripts/demo.sh

# Hostile inputs (tests/hostile/README.md): NNEDGE=build-san/nnedge runs the
# sanitizer build under ASan's memory limits, build/nnedge runs under a 2 GiB
# address-space limit. `make test` runs both.
NNEDGE ?= $(BUILD)/nnedge
test-hostile: $(NNEDGE)
	NNEDGE=$(NNEDGE) bash tests/hostile/run.sh

clean:
	rm -rf build build-san build-tsan build-fuzz build-arm64

.PHONY: FORCE all clean setup test test-hostile conformance conformance-update conformance-oom demo test-tsan install uninstall \
        test-exports test-install test-roundtrip test-mem

# Header dependencies: the compiler writes obj/X.d next to obj/X.o (-MMD) with
# a phony target per header (-MP), so a removed header does not break the
# build. An object whose .d is missing (built before -MMD, or the .d deleted)
# is rebuilt once (FORCE). The .d is not a prerequisite of its object: clang
# writes it after the object, so it would always look newer.
DEP_OBJ := $(LIB_OBJ) $(CLI_OBJ) $(PKG_OBJ) $(UNIT_OBJ) $(BUILD)/obj/tests/conformance/runner.o \
           $(BUILD)/obj/tests/pkg/tamper.o $(BUILD)/obj/tests/pkg/lazy.o \
           $(BUILD)/obj/tests/roundtrip/rt_check.o $(BUILD)/obj/tests/mem/load_rss.o $(BUILD)/obj/tests/mem/contexts_rss.o $(BUILD)/obj/tests/concurrency/concurrency.o \
           $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/*.c))
DEP_FILES := $(wildcard $(DEP_OBJ:.o=.d))
$(filter-out $(DEP_FILES:.d=.o),$(DEP_OBJ)): FORCE
-include $(DEP_FILES)

# Fuzzing (libFuzzer + ASan/UBSan, clang) and bad-input tests live in their own makefiles.
-include tests/fuzz/fuzz.mk
include src/kernels/kernels.mk
include tests/isa/isa.mk
-include bench/bench.mk
include tests/pkg/pkg.mk
include tests/quant/quant.mk
-include tests/train/train.mk
-include tests/tflite/tflite.mk
include src/pipeline/io.mk
