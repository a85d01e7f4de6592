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
