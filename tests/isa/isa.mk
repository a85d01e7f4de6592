# Kernel tests beyond the default build (included by the Makefile; `make
# test` runs test-kernels):
#   test-isa    unit + conformance + diff tests at every ISA level the CPU
#               allows (NNE_MAX_ISA=..., NNE_FORCE_REFERENCE=1), tests/isa/run.sh
#   test-idle   an idle process holding a prepared 2-thread plan uses < 1% CPU
#   test-neon   the kernel unit tests cross-compiled for aarch64 (static) and
#               run under qemu-aarch64 (tests/isa/neon.sh)
test-kernels: test-isa test-idle test-neon

test-isa: all
	@mkdir -p $(BUILD)/isa
	BUILD=$(BUILD) bash tests/isa/run.sh

$(BUILD)/idle_cpu: $(BUILD)/obj/tests/isa/idle_cpu.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
test-idle: $(BUILD)/idle_cpu
	$(BUILD)/idle_cpu models/fashion_cnn.onnx

test-neon:
	bash tests/isa/neon.sh

.PHONY: test-kernels test-isa test-idle test-neon
