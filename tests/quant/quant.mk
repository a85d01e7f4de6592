# The int8 quantizer (tests/quant/README: run.sh is fast and part of `make
# test`; accuracy.py writes the full 10,000-image accuracy table).
test-quant: $(NNEDGE)
	NNEDGE=$(NNEDGE) bash tests/quant/run.sh
quant-accuracy: $(BUILD)/nnedge
	/usr/bin/python3 tests/quant/accuracy.py --nnedge $(BUILD)/nnedge
.PHONY: test-quant quant-accuracy
# resnet18, mobilenet_v2, squeezenet1_1 (random weights) quantized with random
# calibration data into build/models/<name>.int8.onnx, checked against ONNX Runtime
quant-cnn-models: $(BUILD)/nnedge
	/usr/bin/python3 tests/quant/cnn_models.py --nnedge $(BUILD)/nnedge
.PHONY: quant-cnn-models
# int8 runtime tests (included from the Makefile).
#   make test-int8    the qdq_fusion pass and the int8 kernels on the small
#                     QDQ models of tests/quant/models against ONNX Runtime
#                     (npm onnxruntime-node, test-only): every output within
#                     one quantization step of ORT running the QDQ graph as
#                     written (--ort-level disabled), with the int8 kernels,
#                     with NNE_FORCE_REFERENCE=1 (the int32 reference ops) and
#                     at 2 threads; the 7-bit-weight models (*_rr) also against
#                     ORT's own int8 kernels (level all). The kernels
#                     themselves are checked bit for bit by tests/unit/test_qgemm.c.
#   make quant-models the QDQ versions of resnet18, mobilenet_v2 and
#                     squeezenet1_1 in $(BUILD)/models, random calibration
#                     data: <name>-int8.onnx by `nnedge quantize` (its default
#                     7-bit weights; `make bench BENCH_ARGS=--int8`) and
#                     <name>-int8-fr.onnx by scripts/qdq_insert.py (ORT's
#                     layout, full-range weights: nnedge's exact int16 path;
#                     BENCH_ARGS="--int8 --int8-file int8-fr")
QUANT_PYTHON ?= /usr/bin/python3
QUANT_MODELS ?= resnet18 mobilenet_v2 squeezenet1_1

test-int8: $(BUILD)/nnedge
	@if [ ! -d tests/diff/node_modules/onnxruntime-node ]; then \
	    echo "test-int8: installing test packages (npm ci in tests/diff)"; \
	    (cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error); \
	fi
	NNEDGE=$(BUILD)/nnedge node tests/quant/qdq_diff.mjs --small --ort-level disabled
	NNEDGE=$(BUILD)/nnedge NNE_FORCE_REFERENCE=1 node tests/quant/qdq_diff.mjs --small --ort-level disabled
	NNEDGE=$(BUILD)/nnedge node tests/quant/qdq_diff.mjs --small --ort-level disabled --threads 2
	NNEDGE=$(BUILD)/nnedge node tests/quant/qdq_diff.mjs tests/quant/models/*_rr.onnx --ort-level all

quant-models: $(BUILD)/nnedge
	$(QUANT_PYTHON) scripts/export_torchvision.py $(BUILD)/models $(QUANT_MODELS) >/dev/null
	$(QUANT_PYTHON) -c "import numpy as np; np.save('$(BUILD)/models/calib-random.npy', \
	    np.random.default_rng(7).random((4, 3, 224, 224), dtype=np.float32))"
	@for m in $(QUANT_MODELS); do \
	    $(BUILD)/nnedge quantize $(BUILD)/models/$$m.onnx -o $(BUILD)/models/$$m-int8.onnx \
	        --calib $(BUILD)/models/calib-random.npy || exit 1; \
	    $(BUILD)/nnedge convert $(BUILD)/models/$$m.onnx -o $(BUILD)/models/$$m-f32folded.onnx --optimize basic && \
	    $(QUANT_PYTHON) scripts/qdq_insert.py $(BUILD)/models/$$m-f32folded.onnx $(BUILD)/models/$$m-int8-fr.onnx \
	        --nnedge $(BUILD)/nnedge --samples 2 || exit 1; \
	    rm -f $(BUILD)/models/$$m-f32folded.onnx; \
	done

.PHONY: test-int8 quant-models
