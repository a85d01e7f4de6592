# Per-ISA kernel flags (included by the Makefile). Each ISA folder is
# compiled with only its own flags, so the rest of the library stays
# baseline code and a CPU without the ISA never runs an instruction it lacks
# (the kernel table picks the variant at run time). The files guard
# themselves with #if on the architecture, so other targets build them empty.
# -ffp-contract=fast lets `c += a * b` on vectors become FMAs (-std=c11
# turns contraction off by default).
KERNEL_ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq ($(findstring x86_64,$(KERNEL_ARCH)),)
$(BUILD)/obj/src/kernels/x86_avx2/%.o: CFLAGS_ALL += -mavx2 -mfma -ffp-contract=fast
$(BUILD)/obj/src/kernels/x86_avx512/%.o: CFLAGS_ALL += -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma -ffp-contract=fast
$(BUILD)/obj/src/kernels/x86_avx512vnni/%.o: CFLAGS_ALL += -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx512vnni -mavx2 -mfma -ffp-contract=fast
endif
$(BUILD)/obj/src/kernels/arm_neon/%.o: CFLAGS_ALL += -ffp-contract=fast
$(BUILD)/obj/src/kernels/sgemm_portable.o: CFLAGS_ALL += -ffp-contract=fast
# The int8 kernels' plain-C loops (packing, depthwise taps) want the
# vectorizer's full cost model.
$(BUILD)/obj/src/kernels/qgemm_portable.o $(BUILD)/obj/src/kernels/x86_avx2/qgemm.o \
    $(BUILD)/obj/src/kernels/x86_avx512/qgemm.o $(BUILD)/obj/src/kernels/x86_avx512vnni/qgemm.o \
    $(BUILD)/obj/src/kernels/arm_neon/qgemm.o: CFLAGS_ALL += -O3
