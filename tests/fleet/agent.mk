# tests/fleet/agent.mk - `nnedge agent` (issue 13; tests/fleet/agent_test.py):
# its own mosquitto, nnedge serve and agent on loopback, under ASan/UBSan;
# the agent's RSS measured on the release build (build/nnedge-agent).
#   make test-fleet-agent    about a minute
test-fleet-agent:
	$(MAKE) SAN=1 build-san/nnedge build-san/nnedge-agent
	$(MAKE) build/nnedge build/nnedge-agent
	NNEDGE=build-san/nnedge NNEDGE_RSS=build/nnedge /usr/bin/python3 tests/fleet/agent_test.py build-san
.PHONY: test-fleet-agent
