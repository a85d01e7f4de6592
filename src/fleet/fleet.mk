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

# nnedge-agent: the agent's own small program (tools/agent/main.c), which
# `nnedge agent` runs; beside nnedge in build/ and after `make install`. It
# links only libmosquitto and jansson (no libcurl, no libnnedge): the agent
# must stay under 5 MB of resident memory (tools/cli/agent.c says why).
AGENT_OBJ := $(BUILD)/obj/tools/agent/main.o $(BUILD)/obj/src/fleet/agent.o $(BUILD)/obj/src/fleet/mqtt.o \
             $(BUILD)/obj/src/fleet/httpc.o $(BUILD)/obj/src/fleet/parse.o
$(BUILD)/nnedge-agent: $(AGENT_OBJ)
	$(CC) $(LDSAN) -o $@ $(AGENT_OBJ) -lmosquitto -ljansson -pthread
all: $(BUILD)/nnedge-agent
# `nnedge agent` needs it: whoever builds nnedge gets it
$(BUILD)/nnedge: | $(BUILD)/nnedge-agent
-include $(BUILD)/obj/tools/agent/main.d
install: install-agent
install-agent: $(BUILD)/nnedge-agent
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/nnedge-agent $(DESTDIR)$(BINDIR)/nnedge-agent
uninstall: uninstall-agent
uninstall-agent:
	rm -f $(DESTDIR)$(BINDIR)/nnedge-agent
.PHONY: install-agent uninstall-agent

-include tests/fleet/fleet_tests.mk
-include tests/fleet/controller.mk
-include tests/fleet/agent.mk
# messages and paths are cut to their buffers on purpose
$(BUILD)/obj/src/fleet/%.o: CFLAGS_ALL += -Wno-format-truncation
