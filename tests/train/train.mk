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

# The Done-when epoch time (issue 8): one epoch of the seed CNN, nnedge train
# vs python3-torch alternately, 1 thread, batch 64, Adam; ROUNDS=3. Run on a
# quiet machine (about 2 x 30-60 s per round); SAMPLES=2000 for a smoke run.
train-epoch-time: $(BUILD)/nnedge
	NNEDGE=$(BUILD)/nnedge bash bench/train_epoch_time.sh $(or $(ROUNDS),3)
.PHONY: train-epoch-time
