# The training engine's element-wise loops (activations, col2im, pooling,
# BatchNormalization, optimizers) rely on the vectorizer: build src/train at -O3
# (the rest of the library keeps OPT).
$(BUILD)/obj/src/train/%.o: CFLAGS_ALL += -O3
