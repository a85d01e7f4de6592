# Training engine tests (issue 8). The gradient rules' finite-difference
# checks run in unit_tests (tests/unit/test_train.c); this target checks the
# verbs end to end: a short training run that must learn, ONNX Runtime on the
# trained model (BatchNormalization running statistics), eval agreeing with
# the trainer, structured and unstructured pruning (the graph shrinks, masks
# hold through training), distillation, and bad labels / diverging loss
# (exit 2). About a minute on the 2-core machine.
#   make test-train [NNEDGE=build-san/nnedge]
test-train: $(BUILD)/nnedge
	NNEDGE=$(or $(NNEDGE),$(BUILD)/nnedge) OUT=$(BUILD)/test-train bash tests/train/run.sh
.PHONY: test-train
