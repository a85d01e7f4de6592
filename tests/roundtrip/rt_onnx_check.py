#!/usr/bin/python3
"""rt_onnx_check.py - the onnx.checker half of the round-trip test (tests/roundtrip/run.sh).

    rt_onnx_check.py LIST

LIST: tab-separated lines "ORIG CONV ..." (the same list rt_check reads). Wherever
onnx.checker.check_model(ORIG, full_check=True) passes, it must pass on CONV (the
model written by `nnedge convert --optimize none`); a CONV missing where nnedge
could not load ORIG is counted, not failed (rt_check checks that). One process
for every model. Prints counts and one FAIL line per failure; exit 1 on any.
"""
import os
import sys
import warnings

import onnx


def check(path):
    # Never pass the path to check_model: with full_check, onnx (1.12) runs
    # infer_shapes_path, which REWRITES the file in place with inferred shapes.
    # Load the model (and its external data) and check it in memory instead.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
        return None
    except Exception as e:  # the checker raises several exception types
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def main():
    n = orig_bad = conv_missing = passed = fails = 0
    with open(sys.argv[1]) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                continue
            orig, conv = fields[0], fields[1]
            n += 1
            if check(orig) is not None:
                orig_bad += 1
                continue
            if not os.path.exists(conv):
                conv_missing += 1
                continue
            err = check(conv)
            if err is not None:
                print(f"FAIL {orig}: the checker passes the original but not the converted model: {err}")
                fails += 1
            else:
                passed += 1
    print(f"rt_onnx_check: {n} models: the checker passes {n - orig_bad} originals; {passed} of their "
          f"conversions pass, {conv_missing} not converted (nnedge cannot load them); {fails} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
