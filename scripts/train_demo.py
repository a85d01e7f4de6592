#!/usr/bin/python3
"""Train the seed Fashion-MNIST CNN for `make demo` and export it to ONNX.

Usage: /usr/bin/python3 scripts/train_demo.py [--epochs N] [--threads N] [--out models]

Needs Debian python3-torch, python3-numpy, python3-onnx and dataset-fashion-mnist
(IDX gz files in /usr/share/datasets/fashion-mnist/).

Writes:
  models/fashion_cnn.onnx  opset 13, input "input" float [N,1,28,28] (pixels/255),
                           output "logits" float [N,10], dynamic batch dim N,
                           all weights embedded (no external data)
  models/fashion_cnn.json  torch test-set top-1/top-5 on the 10,000 test images
                           plus the training settings

Training is seeded and deterministic (CPU, deterministic algorithms, one thread by
default; two runs give a bit-identical .onnx): about 270 s of CPU for 5 epochs,
~90.8% test top-1. The exported model is checked with onnx.checker and compared
with torch on 8 test images by onnx.reference.ReferenceEvaluator, or, where the
installed onnx predates it (Debian bookworm ships 1.12), by a small numpy
interpreter of the graph that reads only the ONNX file.

`--verify MODEL.onnx` re-runs those checks (and torch's test accuracy, with the
weights taken from the file) on an existing export.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_idx(path):
    """Read an IDX (ubyte) gz file into a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims).copy()


def load_split(split):
    prefix = "train" if split == "train" else "t10k"
    x = load_idx(os.path.join(DATA_DIR, prefix + "-images-idx3-ubyte.gz"))
    y = load_idx(os.path.join(DATA_DIR, prefix + "-labels-idx1-ubyte.gz"))
    return x.reshape(-1, 1, 28, 28), y.astype(np.int64)


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(576, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 26 -> 13
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 11 -> 5
        x = F.relu(self.conv3(x))                    # 3
        x = torch.flatten(x, 1)                      # 64*3*3 = 576
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def to_float(x_u8):
    return torch.from_numpy(x_u8).float() / 255.0


def evaluate(model, x_u8, y, batch=1000):
    """Top-1 / top-5 accuracy with pixels/255 scaling."""
    model.eval()
    top1 = top5 = 0
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            logits = model(to_float(x_u8[i:i + batch]))
            t = torch.from_numpy(y[i:i + batch])
            top = logits.topk(5, dim=1).indices
            top1 += int((top[:, 0] == t).sum())
            top5 += int((top == t[:, None]).any(dim=1).sum())
    return top1 / len(x_u8), top5 / len(x_u8)


def numpy_reference_run(m, feeds):
    """Minimal numpy interpreter for the ops this model exports to (Conv, Relu,
    MaxPool, Flatten, Gemm). Used when onnx.reference is not available (python3-onnx
    1.12 in Debian bookworm predates it). Independent of torch: reads the graph and
    the initializers straight from the ONNX file."""
    from onnx import helper, numpy_helper
    from numpy.lib.stride_tricks import sliding_window_view

    env = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    env.update(feeds)
    for node in m.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        ins = [env[n] for n in node.input if n]
        op = node.op_type
        if op == "Conv":
            x, w = ins[0].astype(np.float64), ins[1].astype(np.float64)
            if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])) \
                    or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise NotImplementedError("Conv attributes %r" % a)
            pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
            x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
            sh, sw = a.get("strides", [1, 1])
            kh, kw = w.shape[2:]
            win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
            y = np.einsum("nchwij,ocij->nohw", win, w)
            if len(ins) > 2:
                y = y + ins[2].astype(np.float64)[None, :, None, None]
            out = y
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            if any(a.get("pads", [0, 0, 0, 0])) or a.get("ceil_mode", 0) \
                    or any(d != 1 for d in a.get("dilations", [1, 1])):
                raise NotImplementedError("MaxPool attributes %r" % a)
            kh, kw = a["kernel_shape"]
            sh, sw = a.get("strides", [1, 1])
            x = ins[0]
            win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
            out = win.max(axis=(4, 5))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            x = ins[0]
            out = x.reshape(int(np.prod(x.shape[:ax])), -1)
        elif op == "Gemm":
            A, B = ins[0].astype(np.float64), ins[1].astype(np.float64)
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            out = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2:
                out = out + a.get("beta", 1.0) * ins[2].astype(np.float64)
        else:
            raise NotImplementedError("op %s" % op)
        env[node.output[0]] = out
    return [env[o.name].astype(np.float32) for o in m.graph.output]


def torch_from_onnx(m):
    """A FashionCNN whose weights are the ONNX file's initializers."""
    from onnx import numpy_helper
    model = FashionCNN()
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    sd = {k: torch.from_numpy(inits[k].copy()) for k in model.state_dict()}
    model.load_state_dict(sd)
    return model.eval()


def verify_onnx(path, model, x_u8, n=8):
    """onnx.checker + a reference evaluator vs torch on n test images, at batch n
    and batch 1. Returns (max |diff|, argmax equal, evaluator name)."""
    import onnx

    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    for init in m.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise RuntimeError("initializer %s stored as external data" % init.name)
    if [i.name for i in m.graph.input] != ["input"] or \
            [o.name for o in m.graph.output] != ["logits"]:
        raise RuntimeError("unexpected graph inputs/outputs")
    try:
        from onnx.reference import ReferenceEvaluator
        sess = ReferenceEvaluator(m)
        run, name = (lambda x: sess.run(None, {"input": x})[0]), "onnx.reference.ReferenceEvaluator"
    except ImportError:
        run = lambda x: numpy_reference_run(m, {"input": x})[0]
        name = "numpy graph interpreter (onnx %s has no onnx.reference)" % onnx.__version__
    x = to_float(x_u8[:n])
    model.eval()
    with torch.no_grad():
        ref = model(x).numpy()
    got = run(x.numpy())
    diff = float(np.abs(got - ref).max())
    got1 = run(x[:1].numpy())
    diff = max(diff, float(np.abs(got1 - ref[:1]).max()))
    same_argmax = bool((got.argmax(1) == ref.argmax(1)).all())
    return diff, same_argmax, name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="models")
    ap.add_argument("--verify", metavar="MODEL.onnx",
                    help="only verify an exported model (checker, reference vs torch, "
                         "torch test accuracy) and exit")
    args = ap.parse_args()

    if args.verify:
        import onnx
        torch.set_num_threads(args.threads)
        x_test, y_test = load_split("test")
        model = torch_from_onnx(onnx.load(args.verify))
        diff, same, name = verify_onnx(args.verify, model, x_test)
        top1, top5 = evaluate(model, x_test, y_test)
        print("%s: checker ok; %s vs torch: max |diff| %.3g, argmax equal: %s; "
              "torch test top-1 %.4f top-5 %.4f" % (args.verify, name, diff, same, top1, top5))
        return 0 if diff <= 1e-4 and same else 1

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load_split("train")
    x_test, y_test = load_split("test")
    xt = to_float(x_train)
    yt = torch.from_numpy(y_train)

    model = FashionCNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps = args.epochs * ((len(xt) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)

    t0 = time.time()
    c0 = time.process_time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), args.batch):
            idx = perm[i:i + args.batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        top1, _ = evaluate(model, x_test, y_test)
        print("epoch %d: loss %.4f  test top-1 %.4f  (%.0f s)"
              % (epoch + 1, total / len(xt), top1, time.time() - t0), flush=True)
    train_s = time.time() - t0
    train_cpu_s = time.process_time() - c0

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), onnx_path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        opset_version=13, export_params=True, do_constant_folding=True)

    top1, top5 = evaluate(model, x_test, y_test)
    diff, same, ref_name = verify_onnx(onnx_path, model, x_test)
    print("torch test top-1 %.4f top-5 %.4f; checker ok; %s vs torch: max |diff| %.3g, "
          "argmax equal: %s" % (top1, top5, ref_name, diff, same))
    if diff > 1e-4 or not same:
        print("error: exported model disagrees with torch", file=sys.stderr)
        return 1

    info = {
        "model": "fashion_cnn.onnx",
        "dataset": "Fashion-MNIST (dataset-fashion-mnist, %s)" % DATA_DIR,
        "input": {"name": "input", "dtype": "float32", "shape": ["N", 1, 28, 28],
                  "scaling": "pixels/255"},
        "output": {"name": "logits", "dtype": "float32", "shape": ["N", 10]},
        "classes": CLASSES,
        "architecture": "Conv2d(1,32,3) ReLU MaxPool2 -> Conv2d(32,64,3) ReLU MaxPool2 -> "
                        "Conv2d(64,64,3) ReLU -> Flatten -> Linear(576,64) ReLU -> Linear(64,10)",
        "params": sum(p.numel() for p in model.parameters()),
        "torch_test": {"top1": round(top1, 4), "top5": round(top5, 4), "n": len(x_test)},
        "training": {
            "epochs": args.epochs, "batch": args.batch, "optimizer": "adam",
            "lr": args.lr, "lr_schedule": "cosine to 0 over all steps (per batch)", "seed": args.seed, "threads": args.threads,
            "loss": "cross_entropy", "augmentation": "none",
            "train_seconds": round(train_s, 1),
            "train_cpu_seconds": round(train_cpu_s, 1),
            "torch": torch.__version__,
        },
        "opset": 13,
        "onnx_check": {"checker": "ok", "reference": ref_name,
                       "max_abs_diff_vs_torch": diff, "images": 8},
    }
    with open(os.path.join(args.out, "fashion_cnn.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print("wrote %s and %s (trained in %.0f s wall, %.0f s CPU)"
          % (onnx_path, os.path.join(args.out, "fashion_cnn.json"), train_s, train_cpu_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
