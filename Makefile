# nnedge build. `make` builds build/libnnedge.{a,so} and build/nnedge.
# `make SAN=1` builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/.
CC      ?= cc
SHARED  ?= ../shared
OPT     ?= -O2
CFLAGS_BASE := -std=c11 -g $(OPT) -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc -D_GNU_SOURCE -fPIC -pthread
ifeq ($(SAN),1)
BUILD   ?= build-san
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDSAN   := -fsanitize=address,undefined
else
BUILD   ?= build
endif
# -MMD -MP: each object also writes a .d file listing the headers it included
# (see the "Header dependencies" block below).
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS) -MMD -MP
LDLIBS  := -lm -pthread

LIB_SRC := $(sort $(wildcard src/core/*.c src/ir/*.c src/ops/*.c src/io/*.c src/kernels/ref/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/op_table.o
CLI_SRC := $(sort $(wildcard tools/cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/*.c))

all: $(BUILD)/libnnedge.a $(BUILD)/libnnedge.so $(BUILD)/nnedge $(BUILD)/conformance $(BUILD)/unit_tests

$(BUILD)/obj/%.o: %.c $(BUILD)/obj/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The op table: every NNE_OP_REGISTER(sym, ...) in src/ops/*.c.
$(BUILD)/gen/op_table.c: $(wildcard src/ops/*.c) scripts/gen_op_table.sh
	@mkdir -p $(dir $@)
	sh scripts/gen_op_table.sh src/ops/*.c > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/op_table.o: $(BUILD)/gen/op_table.c $(BUILD)/obj/gen/op_table.d
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
$(BUILD)/unit_tests: $(UNIT_OBJ) $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

setup:
	sh scripts/setup.sh

# `make test`: everything under AddressSanitizer + UndefinedBehaviorSanitizer.
test: setup
	$(MAKE) SAN=1 all
	build-san/unit_tests
	CONFORMANCE=build-san/conformance sh tests/conformance/check.sh
	CONFORMANCE=build-san/conformance OUT=build-san/opcases sh tests/opcases/run.sh
	@if [ -f tests/fuzz/fuzz.mk ]; then $(MAKE) test-bad-input NNEDGE=build-san/nnedge && $(MAKE) fuzz-smoke; fi
	NNEDGE=build-san/nnedge bash tests/diff/run.sh

# Conformance without sanitizers (fast) and updating the committed pass list.
conformance: all
	sh tests/conformance/check.sh
conformance-update: all
	sh tests/conformance/check.sh --update

demo:
	sh scripts/setup.sh --demo
	$(MAKE) all
	sh scripts/demo.sh

clean:
	rm -rf build build-san build-fuzz

.PHONY: FORCE all clean setup test conformance conformance-update demo

# Header dependencies: the compiler writes obj/X.d next to obj/X.o (-MMD) with
# a phony target per header (-MP), so a removed header does not break the
# build. An object whose .d is missing (a build from before -MMD, or a .d
# deleted by hand) is rebuilt once: the empty rule below "makes" the .d, which
# then counts as newer than the object. The .d files are named explicitly
# because make never remakes a target for a missing *intermediate* prerequisite.
DEP_OBJ := $(LIB_OBJ) $(CLI_OBJ) $(UNIT_OBJ) $(BUILD)/obj/tests/conformance/runner.o \
           $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/*.c))
DEP_FILES := $(DEP_OBJ:.o=.d)
$(DEP_FILES):
-include $(wildcard $(DEP_FILES))

# Fuzzing (libFuzzer + ASan/UBSan, clang) and bad-input tests live in their own makefiles.
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
