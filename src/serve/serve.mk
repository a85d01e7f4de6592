# `nnedge serve` (src/serve/): built into the nnedge command only; the
# library stays libc-only. Needs libmicrohttpd, jansson and GnuTLS
# (scripts/setup.sh installs them).
# Included before the Makefile's first rule: `make` alone still builds `all`.
.DEFAULT_GOAL := all

# The gRPC messages: protoc-c (Debian protobuf-c-compiler) writes
# $(BUILD)/gen/grpc_predict_v2.pb-c.{c,h} from src/serve/grpc_predict_v2.proto.
SERVE_SRC := $(sort $(wildcard src/serve/*.c))
SERVE_OBJ := $(SERVE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/grpc_predict_v2.pb-c.o
CLI_OBJ += $(SERVE_OBJ)
$(BUILD)/nnedge: LDLIBS += -lmicrohttpd -ljansson -lgnutls -lnghttp2 -lprotobuf-c
$(BUILD)/gen/grpc_predict_v2.pb-c.c: src/serve/grpc_predict_v2.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=src/serve --c_out=$(BUILD)/gen src/serve/grpc_predict_v2.proto
$(BUILD)/gen/grpc_predict_v2.pb-c.h: $(BUILD)/gen/grpc_predict_v2.pb-c.c
$(BUILD)/obj/gen/grpc_predict_v2.pb-c.o: $(BUILD)/gen/grpc_predict_v2.pb-c.c $(BUILD)/cflags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -I$(BUILD)/gen -c $< -o $@
$(BUILD)/obj/src/serve/grpc.o: $(BUILD)/gen/grpc_predict_v2.pb-c.h
$(BUILD)/obj/src/serve/grpc.o: CFLAGS_ALL += -I$(BUILD)/gen

# Test and bench clients (not part of nnedge): the request fuzzer's client
# and the loopback floor server of tests/serve/bench.sh.
SERVE_TOOL_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -pthread
$(BUILD)/serve_fuzz_client: tests/serve/fuzz_client.c
	@mkdir -p $(BUILD)
	$(CC) $(SERVE_TOOL_CFLAGS) $< -o $@ -ljansson
$(BUILD)/serve_http_floor: tests/serve/http_floor.c
	@mkdir -p $(BUILD)
	$(CC) $(SERVE_TOOL_CFLAGS) $< -o $@

# ------------------------------------------------------------ serve tests --
# tests/serve/ (python3-requests, curl, openssl, promtool as clients):
#   make test-serve        protocol cases, tokens/TLS, gRPC, hot swap under load
#                          (3000 requests), batching (wide MLP), request fuzzer (20000 requests) and
#                          load/unload cycles against the ASan/UBSan build, then
#                          500 load/unload cycles against the release build (RSS
#                          growth <= 2 MB after cycle 10), the hot swap again under
#                          ThreadSanitizer (build-tsan/nnedge). `make test` runs it.
#   make test-serve-load   10^5 requests at concurrency 32 with a hot swap midway
#                          (explicit and poll mode), release build, p99 checked
#   make test-serve-fuzz   SERVE_FUZZ_N (default 10^6) fuzzed requests, ASan build
#                          (tests/serve/fuzz_client.c: SERVE_FUZZ_THREADS connections)
#   make bench-serve       tests/serve/bench.sh: overhead, batching, full queue
SERVE_FUZZ_N ?= 1000000
SERVE_FUZZ_THREADS ?= 8
test-serve:
	$(MAKE) -j$(J) SAN=1 build-san/nnedge
	$(MAKE) -j$(J) build/nnedge build/serve_fuzz_client
	rm -rf build-san/serve-test && mkdir -p build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_protocol.py build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_security.py build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_grpc.py build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_packages.py build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_swap.py build-san/serve-test 3000 32
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_batching.py build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/fuzz_requests.py build-san/serve-test 20000
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/test_cycles.py build-san/serve-test 30 --no-rss
	NNEDGE=build/nnedge /usr/bin/python3 tests/serve/test_cycles.py build-san/serve-test 500
	$(MAKE) -j$(J) TSAN=1 build-tsan/nnedge
	NNEDGE=build-tsan/nnedge TSAN_OPTIONS=halt_on_error=0 /usr/bin/python3 tests/serve/test_swap.py build-san/serve-test 2000 16
test-serve-load:
	$(MAKE) build/nnedge
	mkdir -p build/serve-test
	NNEDGE=build/nnedge /usr/bin/python3 tests/serve/test_swap.py build/serve-test 100000 32 --strict-p99
test-serve-fuzz:
	$(MAKE) -j$(J) SAN=1 build-san/nnedge
	$(MAKE) build/serve_fuzz_client
	mkdir -p build-san/serve-test
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/serve/fuzz_requests.py build-san/serve-test $(SERVE_FUZZ_N) $$(date +%s) $(SERVE_FUZZ_THREADS)
bench-serve:
	$(MAKE) build/nnedge build/serve_http_floor
	NNEDGE=build/nnedge bash tests/serve/bench.sh
.PHONY: test-serve test-serve-load test-serve-fuzz bench-serve
