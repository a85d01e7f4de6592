#!/usr/bin/env python3
"""Self-test of the conformance runner's verdicts (tests/conformance/runner.c).

Writes small cases with tests/opcases/onnxgen.py into a temporary directory
and checks the runner's verdict on each:
  - a test with two data sets of different shapes passes only when both do,
    and a wrong output in data set 1 fails it;
  - a data file that cannot be parsed fails the test (never a skip);
  - --expect-reject: a case nnedge refuses passes, a case nnedge runs fails
    even when its expected output is wrong (a wrong value is never a refusal).
Usage: selftest.py RUNNER   (exit 0 when every verdict is right)
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "opcases"))
from onnxgen import FLOAT, f_bytes, f_int, make_test, node, tensor, vinfo  # noqa: E402


def relu_model(d, sets):
    """Relu with an input of unknown shape; sets: list of (dims, x, expected y)."""
    g = f_bytes(1, node("Relu", ["x"], ["y"])) + f_bytes(2, "g")
    g += f_bytes(11, vinfo("x", FLOAT, None)) + f_bytes(12, vinfo("y", FLOAT, None))
    m = f_int(1, 8) + f_bytes(2, "selftest") + f_bytes(8, f_int(2, 14)) + f_bytes(7, g)
    os.makedirs(d)
    open(os.path.join(d, "model.onnx"), "wb").write(m)
    for k, (dims, x, y) in enumerate(sets):
        sd = os.path.join(d, "test_data_set_%d" % k)
        os.makedirs(sd)
        open(os.path.join(sd, "input_0.pb"), "wb").write(tensor("x", FLOAT, dims, x))
        open(os.path.join(sd, "output_0.pb"), "wb").write(tensor("y", FLOAT, dims, y))


def main():
    runner = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="nne_selftest_")
    t = lambda n: os.path.join(tmp, "self", n)  # noqa: E731
    relu_model(t("two_sets"), [([2, 3], [-1, 2, -3, 4, -5, 6], [0, 2, 0, 4, 0, 6]), ([4], [1, -1, 2, -2], [1, 0, 2, 0])])
    relu_model(t("set1_wrong"), [([2], [-1, 2], [0, 2]), ([3], [1, -1, 5], [1, 0, 4])])
    relu_model(t("bad_input_file"), [([2], [-1, 2], [0, 2])])
    with open(os.path.join(t("bad_input_file"), "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(b"\x0a\xff\xff\xff\xff\x0f")  # a length far past the end
    # --expect-reject cases: refused (shapes cannot broadcast) / run with a wrong expected value
    make_test(t("refused"), [node("Add", ["a", "b"], ["c"])],
              [("a", FLOAT, [2, 3], [0.0] * 6), ("b", FLOAT, [4], [0.0] * 4)], [("c", FLOAT, [1], [0.0])], {"": 14})
    make_test(t("runs_wrong_value"), [node("Add", ["a", "b"], ["c"])],
              [("a", FLOAT, [2], [1.0, 2.0]), ("b", FLOAT, [2], [1.0, 1.0])], [("c", FLOAT, [2], [5.0, 5.0])], {"": 14})
    make_test(t("runs_right_value"), [node("Add", ["a", "b"], ["c"])],
              [("a", FLOAT, [2], [1.0, 2.0]), ("b", FLOAT, [2], [1.0, 1.0])], [("c", FLOAT, [2], [2.0, 3.0])], {"": 14})

    def verdicts(args):
        out = subprocess.run([runner] + args, capture_output=True, text=True).stdout
        return {line.split()[1].rstrip(":"): line for line in out.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")}

    want = {"self/two_sets": "PASS", "self/set1_wrong": "FAIL", "self/bad_input_file": "FAIL",
            "self/runs_right_value": "PASS"}
    got = verdicts([t(n.split("/")[1]) for n in want])
    bad = 0
    for name, verdict in want.items():
        line = got.get(name, "(no result)")
        if not line.startswith(verdict):
            print("selftest: %s: expected %s, got: %s" % (name, verdict, line))
            bad += 1
    if "data set 1" not in got.get("self/set1_wrong", ""):
        print("selftest: set1_wrong: the failure does not name data set 1: %s" % got.get("self/set1_wrong"))
        bad += 1
    if "(2 data sets)" not in got.get("self/two_sets", ""):
        print("selftest: two_sets: the pass does not count 2 data sets: %s" % got.get("self/two_sets"))
        bad += 1
    want_r = {"self/refused": "PASS", "self/runs_wrong_value": "FAIL", "self/runs_right_value": "FAIL"}
    got_r = verdicts(["--expect-reject"] + [t(n.split("/")[1]) for n in want_r])
    for name, verdict in want_r.items():
        line = got_r.get(name, "(no result)")
        if not line.startswith(verdict):
            print("selftest: --expect-reject %s: expected %s, got: %s" % (name, verdict, line))
            bad += 1
    subprocess.run(["rm", "-rf", tmp])
    print("conformance runner selftest: %d of %d verdicts right" % (len(want) + len(want_r) + 2 - bad,
                                                                    len(want) + len(want_r) + 2))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
