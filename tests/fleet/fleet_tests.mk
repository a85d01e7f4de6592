# Tests of the fleet on the real engines (tests/fleet/, fleetlib.py starts
# Mosquitto, HAProxy, nnedge serve/agent/fleet on loopback; conf/ holds the
# engines' configuration):
#   make test-fleet       what `make test` runs (about 1-2 min): the broker's
#                         ACL/TLS/password cases; kill -9 of one of 3 servers
#                         during FLEET_N (3*10^4) requests at concurrency 32
#                         through HAProxy (0 client errors, marked down <= 1.5 s)
#   make test-fleet-full  the Done-when figures in full: 10^5 requests
#   make fleet-demo       a local fleet, a rollout, a node failure and a bad
#                         model rolled back, printed as a timeline
FLEET_N ?= 30000
FLEET_FULL_N ?= 100000
FLEET_DIR ?= build/fleet-test
test-fleet:
	$(MAKE) build/nnedge
	rm -rf $(FLEET_DIR) && mkdir -p $(FLEET_DIR)
	/usr/bin/python3 tests/fleet/test_acl.py $(FLEET_DIR)
	NNEDGE=build/nnedge /usr/bin/python3 tests/fleet/test_failover.py $(FLEET_DIR) $(FLEET_N) 32
test-fleet-full:
	$(MAKE) build/nnedge
	rm -rf $(FLEET_DIR) && mkdir -p $(FLEET_DIR)
	/usr/bin/python3 tests/fleet/test_acl.py $(FLEET_DIR)
	NNEDGE=build/nnedge /usr/bin/python3 tests/fleet/test_failover.py $(FLEET_DIR) $(FLEET_FULL_N) 32
.PHONY: test-fleet test-fleet-full fleet-demo
