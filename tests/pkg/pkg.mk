# tests/pkg/pkg.mk - tests of .nne packages (issue 9). Included by the Makefile.
#
#   make test-pkg        keys, pack/verify/run/install, the tamper test (10^4 flips,
#                        10^3 truncations, 10^3 tails in process + a sample through
#                        the CLI), one test per attack, 50 kill -9 points; a couple
#                        of minutes under ASan (`make test` runs it with SAN=1)
#   make test-pkg-crash  the kill -9 test at 1,000 random points (a few minutes)
#   make test-pkg-tamper-cli  10^4 flips, 10^3 truncations, 10^3 tails through
#                        `nnedge verify` and `nnedge run --trust` (24,000 runs; ~10 min)
#   make test-pkg-lazy   resnet50 package: open + manifest time, RSS, full integrity
#                        pass, decryption time (release build; needs build/models)

$(BUILD)/pkg_tamper: $(BUILD)/obj/tests/pkg/tamper.o $(BUILD)/libnnedge_pkg.a $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(BUILD)/pkg_lazy: $(BUILD)/obj/tests/pkg/lazy.o $(BUILD)/libnnedge_pkg.a $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

test-pkg: $(BUILD)/nnedge $(BUILD)/pkg_tamper
	NNEDGE=$(BUILD)/nnedge PKG_TAMPER=$(BUILD)/pkg_tamper OUT=$(BUILD)/pkg bash tests/pkg/run.sh
test-pkg-crash: $(BUILD)/nnedge
	NNEDGE=$(BUILD)/nnedge OUT=$(BUILD)/pkg-crash /usr/bin/python3 tests/pkg/crash.py 1000
test-pkg-tamper-cli: $(BUILD)/nnedge
	rm -rf $(BUILD)/pkg-tamper-cli && mkdir -p $(BUILD)/pkg-tamper-cli && \
	$(BUILD)/nnedge keygen -o $(BUILD)/pkg-tamper-cli/root >/dev/null && \
	$(BUILD)/nnedge pack tests/pkg/small_mlp.onnx -o $(BUILD)/pkg-tamper-cli/p.nne --golden x=tests/pkg/small_mlp_x.npy \
	  --sign $(BUILD)/pkg-tamper-cli/root.sec >/dev/null && \
	/usr/bin/python3 tests/pkg/cli_tamper.py $(BUILD)/nnedge $(BUILD)/pkg-tamper-cli/p.nne $(BUILD)/pkg-tamper-cli/root.pub \
	  x=tests/pkg/small_mlp_x.npy $(BUILD)/pkg-tamper-cli/work 10000,1000,1000
test-pkg-lazy: $(BUILD)/nnedge $(BUILD)/pkg_lazy
	NNEDGE=$(BUILD)/nnedge PKG_LAZY=$(BUILD)/pkg_lazy OUT=$(BUILD)/pkg-lazy bash tests/pkg/lazy.sh

.PHONY: test-pkg test-pkg-crash test-pkg-lazy test-pkg-tamper-cli
