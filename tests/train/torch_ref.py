#!/usr/bin/python3
"""Reference models and timings for `nnedge train` (python3-torch, CPU).

Usage:
  /usr/bin/python3 tests/train/torch_ref.py export {seed,teacher,student,fire,res} OUT.onnx [--seed N]
      export the model with torch's default initialization (for nnedge train)
  /usr/bin/python3 tests/train/torch_ref.py train {seed,teacher,student} OUT.onnx --data DIR
      [--epochs N] [--lr F] [--seed N] [--threads N]
      train with torch (Adam, batch 64, pixels/255) and export; prints test accuracy
  /usr/bin/python3 tests/train/torch_ref.py epoch-time {seed,...} --data DIR [--threads 1] [--epochs 1]
      seconds per training epoch (Adam lr 1e-3, batch 64, shuffled), one JSON line per epoch

DIR holds train_x.npy/train_y.npy/test_x.npy/test_y.npy (tests/train/fashion_data.py).

Models (Fashion-MNIST 1x28x28):
  seed     the demo CNN of models/fashion_cnn.onnx (scripts/train_demo.py)
  teacher  3x [Conv3x3 pad 1, BatchNorm, ReLU, MaxPool2] with 32/64/128 channels,
           Linear 1152->256, ReLU, Linear 256->10
  student  the same with 8/16/16 channels, Linear 144->64->10
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


class Seed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(576, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class BNNet(nn.Module):
    def __init__(self, chans, hidden):
        super().__init__()
        layers, cin = [], 1
        for c in chans:
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(cin * 9, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.fc2(F.relu(self.fc1(x)))


class Fire(nn.Module):
    """A SqueezeNet-style block (Concat of two expand convolutions) for the
    structured-pruning test; not a Done-when model."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2)
        self.e1 = nn.Conv2d(8, 6, 1)
        self.e3 = nn.Conv2d(8, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(12)
        self.head = nn.Conv2d(12, 16, 3)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)
        x = F.relu(self.head(F.relu(self.bn(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Res(nn.Module):
    """A small ResNet (stem, one identity block, one block with a strided
    1x1 shortcut) for structured pruning through residual Adds: the
    channels of the stem and of each block's last conv meet in an Add and
    must be pruned alike; not a Done-when model."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.a1 = nn.Conv2d(8, 8, 3, padding=1)
        self.abn1 = nn.BatchNorm2d(8)
        self.a2 = nn.Conv2d(8, 8, 3, padding=1)
        self.abn2 = nn.BatchNorm2d(8)
        self.b1 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bbn1 = nn.BatchNorm2d(16)
        self.b2 = nn.Conv2d(16, 16, 3, padding=1)
        self.bbn2 = nn.BatchNorm2d(16)
        self.short = nn.Conv2d(8, 16, 1, stride=2)
        self.fc = nn.Linear(16, 10)
        # distinct BatchNorm affine parameters (equal ones are merged by the
        # exporter behind Identity nodes, which would tie them)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.2, 0.2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn0(self.stem(x))), 2)
        x = F.relu(x + self.abn2(self.a2(F.relu(self.abn1(self.a1(x))))))
        x = F.relu(self.short(x) + self.bbn2(self.b2(F.relu(self.bbn1(self.b1(x))))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make(name):
    if name == "seed":
        return Seed()
    if name == "teacher":
        return BNNet([32, 64, 128], 256)
    if name == "student":
        return BNNet([8, 16, 16], 64)
    if name == "fire":
        return Fire()
    if name == "res":
        return Res()
    raise SystemExit("unknown model %s" % name)


def export(model, path):
    # A fresh BatchNorm's running stats equal its weight/bias (1 and 0), and
    # the exporter would merge those initializers into one behind Identity
    # nodes: one training-mode batch of noise makes them differ.
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) and not getattr(model, "trained", False):
        model.train()
        with torch.no_grad():
            model(torch.randn(16, 1, 28, 28))
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)


def load(d, split):
    x = np.load(os.path.join(d, split + "_x.npy"))
    y = np.load(os.path.join(d, split + "_y.npy"))
    return torch.from_numpy(x).float() / 255.0, torch.from_numpy(y)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum()) for i in range(0, len(x), 1000))
    return hits / len(x)


def train(model, x, y, epochs, lr, seed, report):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for ep in range(epochs):
        model.train()
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(len(x), generator=g)
        tot = 0.0
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            tot += float(loss) * len(idx)
        report(ep + 1, time.perf_counter() - t0, time.process_time() - c0, tot / len(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["export", "train", "epoch-time"])
    ap.add_argument("model")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--data")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = make(a.model)
    if a.cmd == "export":
        export(model, a.out)
        return 0
    x, y = load(a.data, "train")

    def report(ep, secs, cpu, loss):
        print(json.dumps({"framework": "torch", "model": a.model, "epoch": ep, "seconds": round(secs, 3),
                          "cpu_seconds": round(cpu, 3),
                          "loss": round(loss, 5), "threads": a.threads}), flush=True)

    train(model, x, y, a.epochs, a.lr, a.seed, report)
    if a.cmd == "train":
        tx, ty = load(a.data, "test")
        print(json.dumps({"model": a.model, "test_top1": accuracy(model, tx, ty)}), flush=True)
        model.trained = True
        export(model, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
