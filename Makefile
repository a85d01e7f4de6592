# nnedge build. `make` builds build/libnnedge.{a,so} and build/nnedge.
# `make SAN=1` builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
CC      ?= cc
SHARED  ?= ../shared
OPT     ?= -O2
CFLAGS_BASE := -std=c11 -g $(OPT) -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc -D_GNU_SOURCE -fPIC -pthread
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
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS)
LDLIBS  := -lm -pthread

LIB_SRC := $(sort $(wildcard src/core/*.c src/ir/*.c src/ops/*.c src/io/*.c src/kernels/*.c src/kernels/ref/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/op_table.o
CLI_SRC := $(sort $(wildcard tools/cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

all: $(BUILD)/libnnedge.a $(BUILD)/libnnedge.so $(BUILD)/nnedge $(BUILD)/conformance $(BUILD)/unit_tests \
     $(BUILD)/rt_check $(BUILD)/load_rss \
     $(BUILD)/concurrency

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h src/kernels/*/*.h src/kernels/*.inc tools/cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The op table: every NNE_OP_REGISTER(sym, ...) in src/ops/*.c.
$(BUILD)/gen/op_table.c: $(wildcard src/ops/*.c) scripts/gen_op_table.sh
	@mkdir -p $(dir $@)
	sh scripts/gen_op_table.sh src/ops/*.c > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/op_table.o: $(BUILD)/gen/op_table.c src/ops/op.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The object list is a prerequisite too, so removing a source rebuilds the library.
$(BUILD)/objlist: FORCE
	@mkdir -p $(BUILD)
	@echo '$(LIB_OBJ)' | cmp -s - $@ || echo '$(LIB_OBJ)' > $@
$(BUILD)/libnnedge.a: $(LIB_OBJ) $(BUILD)/objlist
	rm -f $@ && ar rcs $@ $(LIB_OBJ)
$(BUILD)/libnnedge.so: $(LIB_OBJ) $(BUILD)/objlist
	$(CC) -shared $(LDSAN) -o $@ $(LIB_OBJ) $(LDLIBS)
$(BUILD)/nnedge: $(CLI_OBJ) $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/conformance: $(BUILD)/obj/tests/conformance/runner.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/concurrency: $(BUILD)/obj/tests/concurrency/concurrency.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/rt_check: $(BUILD)/obj/tests/roundtrip/rt_check.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/load_rss: $(BUILD)/obj/tests/mem/load_rss.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
$(BUILD)/unit_tests: $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/*.c)) $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

setup:
	sh scripts/setup.sh

# `make test`: everything under AddressSanitizer + UndefinedBehaviorSanitizer.
test: setup
	$(MAKE) SAN=1 all
	build-san/unit_tests
	build-san/concurrency
	$(MAKE) test-tsan
	CONFORMANCE=build-san/conformance sh tests/conformance/check.sh
	NNE_OPTIMIZE=all CONFORMANCE=build-san/conformance OUT=build-san/conformance-optimized.txt sh tests/conformance/check.sh
	CONFORMANCE=build-san/conformance OUT=build-san/opcases sh tests/opcases/run.sh
	@if [ -f tests/fuzz/fuzz.mk ]; then $(MAKE) test-bad-input NNEDGE=build-san/nnedge && $(MAKE) fuzz-smoke; fi
	$(MAKE) test-hostile NNEDGE=build-san/nnedge
	$(MAKE) all
	$(MAKE) test-hostile NNEDGE=build/nnedge
	NNEDGE=build-san/nnedge bash tests/diff/run.sh
	$(MAKE) SAN=1 test-roundtrip
	$(MAKE) test-mem

# The concurrency test (8 threads, shared plans, >= 1000 runs per model)
# under ThreadSanitizer, built into build-tsan/.
test-tsan:
	$(MAKE) TSAN=1 build-tsan/concurrency
	TSAN_OPTIONS=halt_on_error=1 build-tsan/concurrency

# Conformance without sanitizers (fast) and updating the committed pass list.
conformance: all
	sh tests/conformance/check.sh
conformance-update: all
	sh tests/conformance/check.sh --update

# Round trip (tests/roundtrip/run.sh): every test and differential model written
# by `nnedge convert --optimize none` loads as the same graph, gives bit-identical
# outputs, passes onnx.checker and runs in ONNX Runtime wherever the original does.
test-roundtrip: all
	NNEDGE=$(BUILD)/nnedge RT_CHECK=$(BUILD)/rt_check OUT=$(BUILD)/roundtrip bash tests/roundtrip/run.sh

# Weights in place: loading resnet50 adds at most 5 MB of private memory
# (release build: sanitizers add their own allocations).
test-mem:
	$(MAKE) all
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
	rm -rf build build-san build-tsan build-fuzz

.PHONY: FORCE all clean setup test test-tsan test-hostile conformance conformance-update demo test-roundtrip test-mem

# Fuzzing (libFuzzer + ASan/UBSan, clang) and bad-input tests live in their own makefiles.
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
