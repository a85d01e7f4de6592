# tests/tflite/tflite.mk - TFLite importer tests (tests/tflite/run.sh), included
# by the top-level Makefile; `make test` runs them on the sanitizer build.
#   make test-tflite [NNEDGE=build-san/nnedge]
#   make tflite-models   regenerate tests/tflite/models/ (committed) with gen_models.py
test-tflite: $(NNEDGE)
	NNEDGE=$(NNEDGE) bash tests/tflite/run.sh

tflite-models:
	cd tests/tflite && /usr/bin/python3 gen_models.py models

.PHONY: test-tflite tflite-models

# The Python package (python/nnedge) against the CLI: tests/python/test_python.py.
test-python: $(BUILD)/libnnedge.so $(NNEDGE)
	PYTHONPATH=python NNEDGE_LIBRARY=$(BUILD)/libnnedge.so /usr/bin/python3 tests/python/test_python.py $(NNEDGE) $(BUILD)/test-python

.PHONY: test-python
