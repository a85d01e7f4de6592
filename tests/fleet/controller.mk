# The fleet controller's tests (issue 13). Included from src/fleet/fleet.mk.
#
#   make test-fleet-controller  tests/fleet/controller_test.py: `nnedge fleet`
#                               (ASan/UBSan build) against a real Mosquitto and
#                               HAProxy on loopback, the agents played by the
#                               script (about 25 s); then fuzz_fleet replays its
#                               seeds and fuzzes FLEET_FUZZ_SMOKE_SECONDS (8).
#                               `make test` runs it.
#   make fuzz-fleet             fuzz_fleet for FUZZ_SECONDS (600) on
#                               build-fuzz/corpus/fleet (seeded from
#                               tests/fuzz/corpus/fleet, made by
#                               tests/fleet/gen_fuzz_seeds.py)
#
# fuzz_fleet (tests/fuzz/fuzz_fleet.c) links only the controller's sources
# and Debian libraries, not libnnedge, so it is built here rather than in
# tests/fuzz/fuzz.mk (whose compile rule and flags it uses).
FLEET_FUZZ_SMOKE_SECONDS ?= 8
FLEET_FUZZ_OBJ = $(patsubst %.c,build-fuzz/obj/%.o,src/fleet/controller.c src/fleet/ctl_mqtt.c src/fleet/mqtt.c \
                 src/fleet/haproxy.c src/fleet/pkgserve.c tests/fuzz/fuzz_fleet.c)
build-fuzz/fuzz_fleet: $(FLEET_FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -ljansson -lmosquitto -lmicrohttpd $(PKG_LIBS)

test-fleet-controller:
	$(MAKE) SAN=1 build-san/nnedge
	$(MAKE) build-fuzz/fuzz_fleet
	mkdir -p build-san
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/fleet/controller_test.py build-san/fleet-ctl-test
	rm -rf build-fuzz/smoke-fleet && mkdir -p build-fuzz/smoke-fleet
	build-fuzz/fuzz_fleet -seed=1 -max_total_time=$(FLEET_FUZZ_SMOKE_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    build-fuzz/smoke-fleet tests/fuzz/corpus/fleet

fuzz-fleet: build-fuzz/fuzz_fleet
	mkdir -p build-fuzz/corpus/fleet build-fuzz/crashes/fleet
	cp -n tests/fuzz/corpus/fleet/* build-fuzz/corpus/fleet/ 2>/dev/null || true
	build-fuzz/fuzz_fleet -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crashes/fleet/ build-fuzz/corpus/fleet
.PHONY: test-fleet-controller fuzz-fleet
