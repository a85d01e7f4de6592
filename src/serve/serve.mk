# `nnedge serve` (src/serve/): built into the nnedge command only; the
# library stays libc-only. Needs libmicrohttpd, jansson and GnuTLS
# (scripts/setup.sh installs them).
SERVE_SRC := $(sort $(wildcard src/serve/*.c))
SERVE_OBJ := $(SERVE_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ += $(SERVE_OBJ)
$(BUILD)/nnedge: LDLIBS += -lmicrohttpd -ljansson -lgnutls
