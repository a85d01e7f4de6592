#!/usr/bin/python3
"""Generates the small test models committed under tests/models/ (used by the
unit tests and the CLI tests). Run: /usr/bin/python3 scripts/gen_test_models.py
Needs Debian's python3-onnx and python3-numpy."""
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models")


def save(model, name, **kw):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name), **kw)


def shape_chain():
    """Symbolic batch; Shape->Gather->Concat->Reshape (folded at prepare), then Relu.
    x[N,3,4] -> reshape to [N,12] -> relu -> add 1 -> y."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 12])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Concat", ["n1", "twelve"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["x", "newshape"], ["r"]),
        helper.make_node("Relu", ["r"], ["a"]),
        helper.make_node("Add", ["a", "one"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "ax0"),
        numpy_helper.from_array(np.array([12], np.int64), "twelve"),
        numpy_helper.from_array(np.array([1.0], np.float32), "one"),
    ]
    g = helper.make_graph(nodes, "shape_chain", [x], [y], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "shape_chain.onnx")


def chain():
    """A chain of 6 equal-size Relu/Neg nodes: the planner should need only
    two (ping-pong) buffers plus the output."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])
    names = ["x", "t1", "t2", "t3", "t4", "t5", "y"]
    nodes = [helper.make_node("Neg" if i % 2 else "Relu", [names[i]], [names[i + 1]]) for i in range(6)]
    g = helper.make_graph(nodes, "chain", [x], [y])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "chain.onnx")


def nonzero_dynamic():
    """NonZero makes everything after it data-dependent (shaped at run time)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, [2, None])
    nodes = [helper.make_node("NonZero", ["x"], ["nz"]), helper.make_node("Identity", ["nz"], ["y"])]
    g = helper.make_graph(nodes, "nonzero", [x], [y])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "nonzero.onnx")


def unsupported_op():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [helper.make_node("FancyOp", ["x"], ["y"], name="fancy_1", domain="com.example")]
    g = helper.make_graph(nodes, "unsupported", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    onnx.save(m, os.path.join(OUT, "unsupported_op.onnx"))


def external_data():
    """Weights in an external file, one tensor at an offset past 2**31 in a
    sparse file made by the test (tests/unit/test_models.c): W is read at
    offset 3 GiB of ext_big.bin."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "ext_big.bin"), ("offset", str(3 << 30)), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = k, v
    b = TensorProto(name="b", data_type=TensorProto.FLOAT, dims=[4])
    b.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "ext_small.bin"), ("offset", "8"), ("length", "16")):
        e = b.external_data.add()
        e.key, e.value = k, v
    nodes = [helper.make_node("Mul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])]
    g = helper.make_graph(nodes, "external", [x], [y], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, os.path.join(OUT, "external_data.onnx"))
    with open(os.path.join(OUT, "ext_small.bin"), "wb") as f:
        f.write(b"\0" * 8 + np.array([0.5, 1.5, -2, 4], np.float32).tobytes())


def nested_if():
    """If inside If; the inner branch reads the top-level input x two scopes
    out (outer-scope links through an intermediate graph)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])
    def branch(name, nodes, out):
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, [3])])
    inner_then = branch("inner_then", [helper.make_node("Neg", ["x"], ["it"])], "it")
    inner_else = branch("inner_else", [helper.make_node("Abs", ["x"], ["ie"])], "ie")
    outer_then = branch("outer_then", [helper.make_node("If", ["c"], ["ot"], then_branch=inner_then,
                                                        else_branch=inner_else)], "ot")
    outer_else = branch("outer_else", [helper.make_node("Relu", ["x"], ["oe"])], "oe")
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=outer_then, else_branch=outer_else)]
    g = helper.make_graph(nodes, "nested_if", [x, c], [y])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "nested_if.onnx")


def loop_accum():
    """Loop with a trip count from input n (data-dependent: shaped at run
    time): acc += x * i for i in 0..n-1, with every acc as a scan output.
    The body reads x from the outer scope."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    n = helper.make_tensor_value_info("n", TensorProto.INT64, [])
    acc = helper.make_tensor_value_info("acc", TensorProto.FLOAT, [4])
    steps = helper.make_tensor_value_info("steps", TensorProto.FLOAT, [None, 4])
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["x", "fi"], ["t"]),
         helper.make_node("Add", ["a_in", "t"], ["a_out"]),
         helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Identity", ["a_out"], ["s_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("a_in", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("a_out", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [4])])
    init = [numpy_helper.from_array(np.array(True), "cond"), numpy_helper.from_array(np.zeros(4, np.float32), "zero")]
    nodes = [helper.make_node("Loop", ["n", "cond", "zero"], ["acc", "steps"], body=body)]
    g = helper.make_graph(nodes, "loop_accum", [x, n], [acc, steps], init)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "loop_accum.onnx")


def conv_f16():
    """float16 Conv with constant weights: plans convert the weights to float
    once, into the model's packed-weight cache (shared by plans of any batch)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 2, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 3, 5, 5])
    w = np.linspace(-1, 1, 3 * 2 * 3 * 3).astype(np.float16).reshape(3, 2, 3, 3)
    b = np.array([0.5, -0.25, 0.125], np.float16)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "conv_f16", [x], [y],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "conv_f16.onnx")


def matmul_const():
    """MatMul and Gemm (transB=1) with initializer weights: plans pack them
    once for the blocked GEMM when the batch is large enough."""
    rng = np.random.default_rng(7)
    w1 = rng.standard_normal((37, 19)).astype(np.float32)
    w2 = rng.standard_normal((11, 19)).astype(np.float32)
    c2 = rng.standard_normal(11).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 37])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 11])
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]),
             helper.make_node("Gemm", ["h", "w2", "c2"], ["y"], transB=1, alpha=0.5)]
    g = helper.make_graph(nodes, "matmul_const", [x], [y], [numpy_helper.from_array(w1, "w1"),
                          numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(c2, "c2")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "matmul_const.onnx")


def _layernorm(x, gamma, beta, eps=1e-5):
    x = x.astype(np.float64)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def fold_scratch():
    """Constant folding of ops that take scratch memory: MatMul -> Softmax ->
    LayerNormalization -> ReduceMean on initializers run at prepare, then
    y = (x + c) * r with the folded c [2,4] and r [2,1]. Writes the expected
    y for x = arange(8)/8 - 0.5 (numpy, float64) as fold_scratch_y.npy."""
    a = (np.arange(6, dtype=np.float32).reshape(2, 3) / 6 - 0.3).astype(np.float32)
    b = (np.arange(12, dtype=np.float32).reshape(3, 4) / 12 - 0.4).astype(np.float32)
    gamma = np.array([1.0, 0.5, 2.0, -1.0], np.float32)
    beta = np.array([0.1, 0.0, -0.2, 0.3], np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])
    nodes = [
        helper.make_node("MatMul", ["a", "b"], ["m"]),
        helper.make_node("Softmax", ["m"], ["s"], axis=-1),
        helper.make_node("LayerNormalization", ["s", "gamma", "beta"], ["c"], axis=-1),
        helper.make_node("ReduceMean", ["c"], ["r"], axes=[1], keepdims=1),
        helper.make_node("Add", ["x", "c"], ["t"]),
        helper.make_node("Mul", ["t", "r"], ["y"]),
    ]
    inits = [numpy_helper.from_array(v, n) for n, v in (("a", a), ("b", b), ("gamma", gamma), ("beta", beta))]
    g = helper.make_graph(nodes, "fold_scratch", [x], [y], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), "fold_scratch.onnx")
    m = a.astype(np.float64) @ b
    e = np.exp(m - m.max(-1, keepdims=True))
    c = _layernorm(e / e.sum(-1, keepdims=True), gamma, beta)
    xv = np.arange(8, dtype=np.float64).reshape(2, 4) / 8 - 0.5
    np.save(os.path.join(OUT, "fold_scratch_y.npy"), ((xv + c) * c.mean(-1, keepdims=True)).astype(np.float32))


def loop_scratch():
    """A Loop (trip count M, an input) whose body reads outer-scope
    initializers and runs ops that take scratch memory at run time:
    s' = LayerNormalization(MatMul(s, w)); scan output ReduceMean(s', axis 1).
    Writes the expected final state and scan outputs for x = arange(8)/8 - 0.5
    and M = 3 (numpy, float64) as loop_scratch_state.npy / loop_scratch_scan.npy."""
    w = (np.arange(16, dtype=np.float32).reshape(4, 4) / 16 - 0.45).astype(np.float32)
    gamma = np.array([1.5, -0.5, 1.0, 0.25], np.float32)
    beta = np.array([0.0, 0.2, -0.1, 0.05], np.float32)
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["s_in", "w"], ["mm"]),
            helper.make_node("LayerNormalization", ["mm", "gamma", "beta"], ["s_out"], axis=-1),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("ReduceMean", ["s_out"], ["scan"], axes=[1], keepdims=0),
        ],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", f, [2, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", f, [2, 4]),
         helper.make_tensor_value_info("scan", f, [2])])
    g = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "x"], ["state", "scans"], body=body)],
        "loop_scratch",
        [helper.make_tensor_value_info("x", f, [2, 4]), helper.make_tensor_value_info("M", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("state", f, [2, 4]), helper.make_tensor_value_info("scans", f, [None, 2])],
        [numpy_helper.from_array(np.array(True), "cond"), numpy_helper.from_array(w, "w"),
         numpy_helper.from_array(gamma, "gamma"), numpy_helper.from_array(beta, "beta")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), "loop_scratch.onnx")
    s = np.arange(8, dtype=np.float64).reshape(2, 4) / 8 - 0.5
    scans = []
    for _ in range(3):
        s = _layernorm(s @ w, gamma, beta)
        scans.append(s.mean(1))
    np.save(os.path.join(OUT, "loop_scratch_state.npy"), s.astype(np.float32))
    np.save(os.path.join(OUT, "loop_scratch_scan.npy"), np.array(scans, np.float32))


def opt_passes():
    """For the optimization pass tests: something for every pass, in the
    main graph and in If branches (Identity chains, constant subexpressions
    also inside a branch over outer constants, duplicate nodes, dead nodes,
    Identity into graph and subgraph outputs, an input straight to an output)."""
    f3 = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [3])
    x = f3("x")
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    inits = [numpy_helper.from_array(np.array([1, 2, 3], np.float32), "a"),
             numpy_helper.from_array(np.array([0.5, 0.5, -0.5], np.float32), "b")]
    then_g = helper.make_graph([helper.make_node("Add", ["q", "ns"], ["t1"]),
                                helper.make_node("Mul", ["a", "b"], ["tc"]),
                                helper.make_node("Add", ["t1", "tc"], ["t2"])], "then", [], [f3("t2")])
    else_g = helper.make_graph([helper.make_node("Sub", ["r", "ns"], ["e1"]),
                                helper.make_node("Identity", ["e1"], ["eo"])], "else", [], [f3("eo")])
    nodes = [helper.make_node("Identity", ["a"], ["ia"]),
             helper.make_node("Add", ["ia", "b"], ["s"]),
             helper.make_node("Neg", ["s"], ["ns"]),
             helper.make_node("Mul", ["x", "ns"], ["p1"]),
             helper.make_node("Mul", ["x", "ns"], ["p2"]),
             helper.make_node("Add", ["p1", "p2"], ["q"]),
             helper.make_node("Sigmoid", ["x"], ["dead1"]),
             helper.make_node("Exp", ["dead1"], ["dead2"]),
             helper.make_node("Identity", ["x"], ["xi"]),
             helper.make_node("Relu", ["xi"], ["r"]),
             helper.make_node("If", ["c"], ["y_if"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Identity", ["y_if"], ["y"]),
             helper.make_node("Identity", ["x"], ["z"]),
             helper.make_node("Relu", ["q"], ["w"])]
    g = helper.make_graph(nodes, "opt_passes", [x, c], [f3("y"), f3("z"), f3("w")], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "opt_passes.onnx")


def cli_models():
    """For tests/cli/bad_input.sh: float32 [2,3] models to feed wrong inputs to.
    passthrough_2x3 has no nodes (output x is input x), so it runs on any build;
    identity_2x3 and add_2x3 need those ops."""
    def vi(name):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, 3])

    def model(g):
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 7
        return m

    save(model(helper.make_graph([], "passthrough", [vi("x")], [vi("x")])), "passthrough_2x3.onnx")
    save(model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="id")], "identity", [vi("x")],
                                 [vi("y")])), "identity_2x3.onnx")
    save(model(helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"], name="add")], "add",
                                 [vi("x"), vi("y")], [vi("z")])), "add_2x3.onnx")
    # An initializer claiming 256 GiB of external data in a missing file: the
    # load must fail before anything is allocated.
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 18, 1 << 18])
    big.data_location = TensorProto.EXTERNAL
    e = big.external_data.add()
    e.key, e.value = "location", "no-such-weights.bin"
    onnx.save(model(helper.make_graph([], "external_huge", [vi("x")], [vi("x")], [big])),
              os.path.join(OUT, "external_huge.onnx"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    shape_chain()
    chain()
    nonzero_dynamic()
    unsupported_op()
    external_data()
    nested_if()
    loop_accum()
    conv_f16()
    matmul_const()
    fold_scratch()
    loop_scratch()
    opt_passes()
    cli_models()
