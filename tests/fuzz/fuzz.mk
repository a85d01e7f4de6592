# tests/fuzz/fuzz.mk - libFuzzer harnesses and the CLI bad-input test.
# Included by the top-level Makefile (LIB_SRC and BUILD come from it).
#
#   make fuzz-build        build-fuzz/fuzz_{model,npy,tensor,roundtrip,serve,tflite,pkg,wav,jpeg,png,agent}: every library source
#                          compiled with clang -fsanitize=fuzzer,address,undefined
#   make fuzz              run each harness FUZZ_SECONDS (default 600), one at a time,
#                          on build-fuzz/corpus/<h> (seeded from tests/fuzz/corpus/<h>);
#                          crashes go to build-fuzz/crashes/<h>/
#   make fuzz-smoke        replay tests/fuzz/corpus and tests/fuzz/crashes, then fuzz each
#                          harness FUZZ_SMOKE_SECONDS (default 8); `make test` runs it
#   make test-bad-input    tests/cli/bad_input.sh against $(BUILD)/nnedge or $(NNEDGE)
#                          (`make SAN=1 test-bad-input` checks the sanitizer build)
#
# tests/fuzz/<h>.dict, when present, is the harness's libFuzzer dictionary:
# model.dict (ONNX protobuf field tags and hostile values) is written by
#   /usr/bin/python3 tests/fuzz/gen_model_dict.py > tests/fuzz/model.dict
#
# A crash found by `make fuzz` is minimized with
#   build-fuzz/fuzz_<h> -minimize_crash=1 -runs=10000 build-fuzz/crashes/<h>/crash-...
# and committed under tests/fuzz/crashes/<h>/ so fuzz-smoke replays it forever.

FUZZ_CC            ?= clang
FUZZ_BUILD         := build-fuzz
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 8
# A fixed seed keeps `make test` repeatable; long runs (`make fuzz`) explore freely.
FUZZ_SMOKE_SEED    ?= 1
FUZZ_FLAGS         ?=
FUZZ_HARNESSES     := model npy tensor roundtrip serve tflite pkg wav jpeg png agent
FUZZ_SAN           := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS        := -std=c11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc -D_GNU_SOURCE \
                      -pthread $(FUZZ_SAN) -DNNE_DEBUG_VALIDATE
# header dependencies written by the compiler (.d next to each .o), as in the Makefile
FUZZ_DEPFLAGS      := -MMD -MP
# -timeout: a unit running longer is a hang; -rss_limit_mb also caps single mallocs.
FUZZ_RUN_FLAGS     := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_LIB_OBJ       := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/op_table.o
FUZZ_BINS          := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
# the ISA folders get their own flags, as in the normal build (kernels.mk):
# intrinsics need them, and the kernel table picks a variant at run time
ifneq ($(findstring x86_64,$(shell $(FUZZ_CC) -dumpmachine 2>/dev/null)),)
$(FUZZ_BUILD)/obj/src/kernels/x86_avx2/%.o: FUZZ_CFLAGS += -mavx2 -mfma
$(FUZZ_BUILD)/obj/src/kernels/x86_avx512/%.o: FUZZ_CFLAGS += -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma
$(FUZZ_BUILD)/obj/src/kernels/x86_avx512vnni/%.o: FUZZ_CFLAGS += -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx512vnni -mavx2 -mfma
endif

# Arithmetic kernels whose loops run over sizes fixed by their parameters, not
# by the input, get edge coverage and the sanitizers but no comparison tracing
# (-fsanitize-coverage=trace-cmp calls a hook on every loop test: it made
# fuzz_wav's log-mel FFT 75% of its time and tells the fuzzer nothing). The
# kernels are such code too: in fuzz_tflite their loop tests were a quarter
# of the tracing calls, which took 45% of its time.
FUZZ_NO_CMP_TRACE  := src/pipeline/audio_mel.c $(wildcard src/kernels/*.c src/kernels/*/*.c)
$(FUZZ_NO_CMP_TRACE:%.c=$(FUZZ_BUILD)/obj/%.o): FUZZ_CFLAGS += -fno-sanitize-coverage=trace-cmp

$(FUZZ_BUILD)/gen/op_table.c: $(wildcard src/ops/*.c) scripts/gen_op_table.sh
	@mkdir -p $(dir $@)
	sh scripts/gen_op_table.sh src/ops/*.c > $@.tmp && mv $@.tmp $@

$(FUZZ_BUILD)/obj/gen/op_table.o: $(FUZZ_BUILD)/gen/op_table.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -lm

# the serve request parser (src/serve/infer.c) also needs jansson
$(FUZZ_BUILD)/fuzz_serve: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_serve.o $(FUZZ_BUILD)/obj/src/serve/infer.o \
                          $(FUZZ_BUILD)/obj/src/serve/buf.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -ljansson -lm

# fuzz_agent: the fleet agent's parsers of its server's answers (src/fleet/parse.c, tools side)
$(FUZZ_BUILD)/fuzz_agent: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_agent.o $(FUZZ_BUILD)/obj/src/fleet/parse.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -lm

# fuzz_pkg: the .nne reader (src/pkg, tools side) needs libsodium.
FUZZ_PKG_OBJ       := $(PKG_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
$(FUZZ_BUILD)/fuzz_pkg: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_pkg.o $(FUZZ_PKG_OBJ) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

# fuzz_wav: the audio reader of `nnedge app wakeword` (src/pipeline/audio_file.c,
# tools side) needs libsndfile and libsamplerate.
$(FUZZ_BUILD)/fuzz_wav: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_wav.o $(FUZZ_BUILD)/obj/src/pipeline/audio_file.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -lsndfile -lsamplerate -lm

# fuzz_jpeg, fuzz_png: the image decoders (src/pipeline/io, tools side) link
# Debian's libjpeg-turbo and libpng (not instrumented: coverage guides the
# fuzzer through our wrapper and the kernels it feeds, the sanitizers check
# every buffer the libraries write into).
FUZZ_IMAGEIO_OBJ   := $(IMAGEIO_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
$(FUZZ_BUILD)/fuzz_jpeg $(FUZZ_BUILD)/fuzz_png: $(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o \
                                                 $(FUZZ_IMAGEIO_OBJ) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(IMAGEIO_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

# keep the objects between builds (they are intermediate files of the pattern rules)
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_PKG_OBJ) $(FUZZ_IMAGEIO_OBJ) $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o) \
            $(FUZZ_BUILD)/obj/src/pipeline/audio_file.o $(FUZZ_BUILD)/obj/src/fleet/parse.o

# The package reader must never allocate more than 64 MiB because of counts
# in the file (issue 9): fuzz_pkg runs with that malloc cap (a shell test, as
# the harness name is a shell variable in the recipes' loops).

# Run one harness: $(call fuzz_run,HARNESS,SECONDS,CORPUS_DIR)
define fuzz_run
$(FUZZ_BUILD)/fuzz_$(1) $(FUZZ_RUN_FLAGS) $$([ $(1) = pkg ] && echo -malloc_limit_mb=64) -max_total_time=$(2) \
  -artifact_prefix=$(FUZZ_BUILD)/crashes/$(1)/ \
  $(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict) $(FUZZ_FLAGS) $(3)
endef

fuzz: fuzz-build
	@fail=""; for h in $(FUZZ_HARNESSES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/crashes/$$h; \
	  cp tests/fuzz/corpus/$$h/* $(FUZZ_BUILD)/corpus/$$h/; \
	  echo "== fuzz_$$h for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/fuzz_$$h.log)"; \
	  $(call fuzz_run,$$h,$(FUZZ_SECONDS),$(FUZZ_BUILD)/corpus/$$h) > $(FUZZ_BUILD)/fuzz_$$h.log 2>&1 \
	    || fail="$$fail $$h"; \
	  grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' $(FUZZ_BUILD)/fuzz_$$h.log; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: findings in:$$fail (see $(FUZZ_BUILD)/crashes/)"; exit 1; fi

fuzz-smoke: fuzz-build
	@set -e; for h in $(FUZZ_HARNESSES); do \
	  echo "== fuzz_$$h: replay tests/fuzz/corpus/$$h and tests/fuzz/crashes/$$h"; \
	  mkdir -p $(FUZZ_BUILD)/crashes/$$h; \
	  $(FUZZ_BUILD)/fuzz_$$h -runs=0 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$h/ tests/fuzz/corpus/$$h \
	    > $(FUZZ_BUILD)/smoke_$$h.log 2>&1 || { tail -40 $(FUZZ_BUILD)/smoke_$$h.log; exit 1; }; \
	  crashes=$$(ls tests/fuzz/crashes/$$h/* 2>/dev/null || true); \
	  if [ -n "$$crashes" ]; then \
	    $(FUZZ_BUILD)/fuzz_$$h -timeout=60 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$h/ $$crashes >> $(FUZZ_BUILD)/smoke_$$h.log 2>&1 \
	      || { tail -40 $(FUZZ_BUILD)/smoke_$$h.log; exit 1; }; \
	  fi; \
	  echo "== fuzz_$$h: $(FUZZ_SMOKE_SECONDS) s of fuzzing"; \
	  rm -rf $(FUZZ_BUILD)/smoke/$$h; mkdir -p $(FUZZ_BUILD)/smoke/$$h; \
	  $(call fuzz_run,$$h,$(FUZZ_SMOKE_SECONDS),-seed=$(FUZZ_SMOKE_SEED) $(FUZZ_BUILD)/smoke/$$h tests/fuzz/corpus/$$h) \
	    >> $(FUZZ_BUILD)/smoke_$$h.log 2>&1 || { tail -40 $(FUZZ_BUILD)/smoke_$$h.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units' $(FUZZ_BUILD)/smoke_$$h.log; \
	done

# NNEDGE=path picks another binary (`make test` passes build-san/nnedge).
NNEDGE ?= $(BUILD)/nnedge
test-bad-input: $(NNEDGE)
	NNEDGE=$(NNEDGE) sh tests/cli/bad_input.sh

.PHONY: fuzz-build fuzz fuzz-smoke test-bad-input

# An object without its .d is rebuilt once (see the Makefile's header dependencies).
FUZZ_DEP_OBJ   := $(FUZZ_LIB_OBJ) $(FUZZ_PKG_OBJ) $(FUZZ_IMAGEIO_OBJ) $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o) \
                  $(FUZZ_BUILD)/obj/src/pipeline/audio_file.o $(FUZZ_BUILD)/obj/src/fleet/parse.o
FUZZ_DEP_FILES := $(wildcard $(FUZZ_DEP_OBJ:.o=.d))
$(filter-out $(FUZZ_DEP_FILES:.d=.o),$(FUZZ_DEP_OBJ)): FORCE
-include $(FUZZ_DEP_FILES)
