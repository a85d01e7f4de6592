# src/pipeline/audio.mk - audio pre-processing, score post-processing and
# `nnedge app wakeword` (issue 12, audio side). Included by the Makefile
# before its first rule (like serve.mk), so the lists below reach the
# library, the command and the fuzz build.
#
#   libnnedge (libc + libm only): post.c (sigmoid, softmax, top-k,
#     hysteresis, fusion), audio_mel.c (framing, log-mel), audio_wakeword.c
#     (openWakeWord's streaming pipeline on sessions)
#   the nnedge command only: audio_file.c (libsndfile decoding, libsamplerate
#     resampling)
#
#   make test-app-wakeword [NNEDGE=build-san/nnedge]   tests/wakeword/run.sh
.DEFAULT_GOAL := all

PIPE_AUDIO_LIB_SRC := $(sort $(wildcard src/pipeline/post*.c src/pipeline/audio_mel*.c src/pipeline/audio_wakeword*.c))
LIB_SRC += $(PIPE_AUDIO_LIB_SRC)
LIB_OBJ += $(PIPE_AUDIO_LIB_SRC:%.c=$(BUILD)/obj/%.o)

PIPE_AUDIO_TOOL_SRC := src/pipeline/audio_file.c
PIPE_AUDIO_TOOL_OBJ := $(PIPE_AUDIO_TOOL_SRC:%.c=$(BUILD)/obj/%.o)
PIPE_AUDIO_LIBS := $(shell pkg-config --libs sndfile samplerate 2>/dev/null || echo -lsndfile -lsamplerate)
CLI_OBJ += $(PIPE_AUDIO_TOOL_OBJ)
$(BUILD)/nnedge: LDLIBS += $(PIPE_AUDIO_LIBS)

NNEDGE ?= $(BUILD)/nnedge
test-app-wakeword: $(NNEDGE) $(BUILD)/libnnedge.so
	NNEDGE=$(NNEDGE) NNEDGE_LIBRARY=$(BUILD)/libnnedge.so bash tests/wakeword/run.sh

.PHONY: test-app-wakeword
