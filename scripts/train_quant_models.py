#!/usr/bin/python3
"""Train the extra Fashion-MNIST test models of the int8 quantizer and export them to ONNX.

Usage: /usr/bin/python3 scripts/train_quant_models.py [--epochs N (default: 2 CNN, 3 MLP)] [--threads N] [--out models]
                                                      [--only cnn_bn|mlp]

Needs Debian python3-torch, python3-numpy, python3-onnx and dataset-fashion-mnist.
The seed CNN (models/fashion_cnn.onnx) comes from scripts/train_demo.py; this adds:

  models/fashion_cnn_bn.onnx  a wider CNN with BatchNormalization kept in the graph
                              (exported with TrainingMode.PRESERVE in eval mode), a
                              residual Add and a GlobalAveragePool:
      Conv(1,24,3,p1) BN ReLU MaxPool2 -> Conv(24,48,3,p1) BN ReLU ->
      Conv(48,48,3,p1) BN (+ skip) ReLU MaxPool2 -> Conv(48,96,3) BN ReLU ->
      GlobalAveragePool -> Flatten -> Linear(96,10)
  models/fashion_mlp.onnx     Flatten -> Linear(784,256) ReLU -> Linear(256,128) ReLU ->
                              Linear(128,10)
  models/<name>.json          torch test top-1/top-5 on the 10,000 test images, settings

Both: opset 13, input "input" float [N,1,28,28] (pixels/255), output "logits" [N,10],
dynamic batch dim. Seeded and deterministic (CPU, one thread by default).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_demo import CLASSES, DATA_DIR, evaluate, load_split, to_float  # noqa: E402


class FashionCNNBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 24, 3, padding=1), nn.BatchNorm2d(24)
        self.c2, self.b2 = nn.Conv2d(24, 48, 3, padding=1), nn.BatchNorm2d(48)
        self.c3, self.b3 = nn.Conv2d(48, 48, 3, padding=1), nn.BatchNorm2d(48)
        self.c4, self.b4 = nn.Conv2d(48, 96, 3), nn.BatchNorm2d(96)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)      # 28 -> 14
        y = F.relu(self.b2(self.c2(x)))
        x = F.max_pool2d(F.relu(self.b3(self.c3(y)) + y), 2)  # 14 -> 7
        x = F.relu(self.b4(self.c4(x)))                       # 5
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class FashionMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


# default epochs per model (2 for the CNN keeps its training near 10 minutes of one core)
EPOCHS = {"cnn_bn": 2, "mlp": 3}

MODELS = {
    "cnn_bn": ("fashion_cnn_bn", FashionCNNBN,
               "Conv(1,24,3,p1) BN ReLU MaxPool2 -> Conv(24,48,3,p1) BN ReLU -> Conv(48,48,3,p1) BN "
               "(+skip) ReLU MaxPool2 -> Conv(48,96,3) BN ReLU -> GlobalAveragePool -> Linear(96,10)"),
    "mlp": ("fashion_mlp", FashionMLP, "Flatten -> Linear(784,256) ReLU -> Linear(256,128) ReLU -> Linear(128,10)"),
}


def train_one(key, args, x_train, y_train, x_test, y_test):
    name, cls, arch = MODELS[key]
    epochs = args.epochs or EPOCHS[key]
    torch.manual_seed(args.seed)
    model = cls()
    xt, yt = to_float(x_train), torch.from_numpy(y_train)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps = epochs * ((len(xt) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), args.batch):
            idx = perm[i:i + args.batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        top1, _ = evaluate(model, x_test, y_test)
        print("%s epoch %d: test top-1 %.4f (%.0f s)" % (name, epoch + 1, top1, time.time() - t0), flush=True)
    train_s = time.time() - t0
    model.eval()
    path = os.path.join(args.out, name + ".onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                      export_params=True, do_constant_folding=True,
                      training=torch.onnx.TrainingMode.PRESERVE)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    top1, top5 = evaluate(model, x_test, y_test)
    info = {
        "model": name + ".onnx",
        "dataset": "Fashion-MNIST (dataset-fashion-mnist, %s)" % DATA_DIR,
        "input": {"name": "input", "dtype": "float32", "shape": ["N", 1, 28, 28], "scaling": "pixels/255"},
        "output": {"name": "logits", "dtype": "float32", "shape": ["N", 10]},
        "classes": CLASSES,
        "architecture": arch,
        "onnx_ops": ops,
        "params": sum(p.numel() for p in model.parameters()),
        "torch_test": {"top1": round(top1, 4), "top5": round(top5, 4), "n": len(x_test)},
        "training": {"epochs": epochs, "batch": args.batch, "optimizer": "adam", "lr": args.lr,
                     "lr_schedule": "cosine to 0 over all steps (per batch)", "seed": args.seed,
                     "threads": args.threads, "train_seconds": round(train_s, 1), "torch": torch.__version__},
        "opset": 13,
    }
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print("wrote %s: torch test top-1 %.4f, ops %s" % (path, top1, ops), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=0, help="0: the model's default (EPOCHS)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="models")
    ap.add_argument("--only", choices=sorted(MODELS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("test")
    os.makedirs(args.out, exist_ok=True)
    for key in ([args.only] if args.only else ["mlp", "cnn_bn"]):
        train_one(key, args, x_train, y_train, x_test, y_test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
