# The fleet (issue 13): `nnedge agent` and `nnedge fleet` (src/fleet/, the
# verbs in tools/cli/agent.c and tools/cli/fleet.c). Built into the nnedge
# command only; libnnedge stays libc-only. Needs libmosquitto (MQTT) and
# libcurl (package downloads); scripts/setup.sh installs them. The engines
# themselves (mosquitto, haproxy) are Debian's, started by the tests and by
# `make fleet-demo`. Protocol: docs/fleet.md.
FLEET_SRC := $(sort $(wildcard src/fleet/*.c))
FLEET_OBJ := $(FLEET_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ += $(FLEET_OBJ)
$(BUILD)/nnedge: LDLIBS += -lmosquitto -lcurl

-include tests/fleet/fleet_tests.mk
-include tests/fleet/controller.mk
