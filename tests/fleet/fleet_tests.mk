# Tests of the fleet on the real engines (tests/fleet/: fleetlib.py renders
# conf/mosquitto and conf/haproxy into a temporary directory and starts
# Mosquitto, HAProxy, nnedge serve/agent/fleet on free loopback ports):
#   make test-fleet       meant for `make test` (about 1.5 min): release build
#                         (timings, agent RSS) and the canary test again under
#                         ASan/UBSan:
#                         - test_acl.py: TLS, passwords, the ACL (60 cases);
#                         - test_failover.py: kill -9 of one of 3 servers during
#                           FLEET_N (3*10^4) requests at concurrency 32 through
#                           HAProxy: 0 client errors, marked down <= 1.5 s;
#                         - test_agent.py: agent kill -9/SIGSTOP -> OFFLINE <= 7.5 s,
#                           birth <= 2 s, broker down / nodes cut off for
#                           FLEET_OUTAGE_S (10) s: 0 inference errors, a
#                           deployment meanwhile applied <= 5 s after the
#                           reconnection, agent RSS < 5 MB;
#                         - test_canary.py: a canary failing its accuracy check
#                           rolled back <= 5 s, rollout aborted, others untouched;
#                           unsigned / wrongly signed packages refused by every agent
#   make test-fleet-full  the Done-when figures in full: 10^5 requests, 60 s outages
#   make fleet-demo       a local fleet (FLEET_DEMO_ARGS="--nodes N --keep"): a
#                         rollout, a node failure and a bad model rolled back,
#                         printed as a timeline (tests/fleet/demo.py)
FLEET_N ?= 30000
FLEET_OUTAGE_S ?= 10
FLEET_FULL_N ?= 100000
FLEET_FULL_OUTAGE_S ?= 60
FLEET_DIR ?= build/fleet-test
FLEET_PY := /usr/bin/python3 tests/fleet
test-fleet:
	$(MAKE) build/nnedge
	$(MAKE) SAN=1 build-san/nnedge
	rm -rf $(FLEET_DIR) && mkdir -p $(FLEET_DIR)
	$(FLEET_PY)/test_acl.py $(FLEET_DIR)
	NNEDGE=build/nnedge $(FLEET_PY)/test_failover.py $(FLEET_DIR) $(FLEET_N) 32
	NNEDGE=build/nnedge $(FLEET_PY)/test_canary.py $(FLEET_DIR)
	NNEDGE=build-san/nnedge $(FLEET_PY)/test_canary.py $(FLEET_DIR)
	NNEDGE=build/nnedge $(FLEET_PY)/test_agent.py $(FLEET_DIR) $(FLEET_OUTAGE_S)
test-fleet-full:
	$(MAKE) build/nnedge
	rm -rf $(FLEET_DIR) && mkdir -p $(FLEET_DIR)
	$(FLEET_PY)/test_acl.py $(FLEET_DIR)
	NNEDGE=build/nnedge $(FLEET_PY)/test_failover.py $(FLEET_DIR) $(FLEET_FULL_N) 32
	NNEDGE=build/nnedge $(FLEET_PY)/test_canary.py $(FLEET_DIR)
	NNEDGE=build/nnedge $(FLEET_PY)/test_agent.py $(FLEET_DIR) $(FLEET_FULL_OUTAGE_S)
fleet-demo:
	$(MAKE) build/nnedge
	NNEDGE=build/nnedge $(FLEET_PY)/demo.py $(FLEET_DEMO_ARGS)
.PHONY: test-fleet test-fleet-full fleet-demo
