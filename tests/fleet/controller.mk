# `make test-fleet-controller` (issue 13, tests/fleet/controller_test.py):
# `nnedge fleet` (the controller and its client commands) against a real
# Mosquitto and HAProxy on loopback, agents played by the script; ASan/UBSan
# build. About 40 s. Included from the Makefile; `make test` runs it.
test-fleet-controller:
	$(MAKE) SAN=1 build-san/nnedge
	mkdir -p build-san
	NNEDGE=build-san/nnedge /usr/bin/python3 tests/fleet/controller_test.py build-san/fleet-ctl-test
.PHONY: test-fleet-controller
