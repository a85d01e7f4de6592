#!/usr/bin/python3
"""Export random-weight torchvision models and small MLPs to ONNX for the
differential tests (tests/diff).

    /usr/bin/python3 scripts/export_torchvision.py OUTDIR [--force] [--list] [NAME...]

Uses Debian's python3-torch / python3-torchvision; downloads nothing
(weights=None). Every model is seeded, put in eval mode, and its BatchNorm
layers get non-trivial running statistics and affine parameters so that
BatchNorm really does something. Writes OUTDIR/<name>.onnx with the weights
embedded; files that already exist are skipped unless --force is given (and
then torch is not even imported, so reruns are cheap).
"""

import argparse
import os
import sys
import time

SEED = 20240601
IMG = (1, 3, 224, 224)

# name -> (torchvision constructor or local class, input shape, opset, keep BN)
# keep BN: export with TrainingMode.PRESERVE so that BatchNormalization stays a
# node of its own; otherwise the exporter folds it into the preceding Conv.
# "N" in a shape marks a dynamic (symbolic) dimension (exported with size 2).
MODELS = {
    "mobilenet_v2": ("mobilenet_v2", IMG, 17, False),
    "mobilenet_v3_small": ("mobilenet_v3_small", IMG, 17, True),
    "resnet18": ("resnet18", IMG, 13, True),
    "resnet50": ("resnet50", IMG, 17, False),
    "squeezenet1_1": ("squeezenet1_1", IMG, 13, False),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", IMG, 17, False),
    "efficientnet_b0": ("efficientnet_b0", IMG, 17, True),
    "mnasnet1_0": ("mnasnet1_0", IMG, 15, False),
    "googlenet": ("googlenet", IMG, 17, False),
    "mlp": ("MLP", ("N", 1, 28, 28), 13, False),
    "mlp_gelu_ln": ("MLPGeluLN", ("N", 784), 17, False),
}


def build(kind):
    import torch
    import torch.nn as nn
    import torchvision.models as tvm

    class MLP(nn.Module):
        """784-256-128-10 with ReLU."""

        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Flatten(),
                nn.Linear(784, 256), nn.ReLU(),
                nn.Linear(256, 128), nn.ReLU(),
                nn.Linear(128, 10),
            )

        def forward(self, x):
            return self.net(x)

    class MLPGeluLN(nn.Module):
        """784-256-128-10 with LayerNorm + GELU blocks, a residual branch, softmax."""

        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 256)
            self.ln1 = nn.LayerNorm(256)
            self.fc2 = nn.Linear(256, 128)
            self.ln2 = nn.LayerNorm(128)
            self.skip = nn.Linear(256, 128, bias=False)
            self.head = nn.Linear(128, 10)
            self.act = nn.GELU()

        def forward(self, x):
            h = self.act(self.ln1(self.fc1(x)))
            h = self.act(self.ln2(self.fc2(h))) + self.skip(h)
            return torch.softmax(self.head(h), dim=-1)

    if kind == "MLP":
        return MLP()
    if kind == "MLPGeluLN":
        return MLPGeluLN()
    if kind == "googlenet":
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=True)
    return getattr(tvm, kind)(weights=None)


def randomize_batchnorm(model, gen):
    import torch
    import torch.nn as nn

    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(c, generator=gen) * 0.8 + 0.6)
                    m.bias.copy_(torch.randn(c, generator=gen) * 0.1)


def export(name, path):
    import torch

    kind, shape, opset, keep_bn = MODELS[name]
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED + 1)
    model = build(kind)
    randomize_batchnorm(model, gen)
    model.eval()
    x = torch.rand(tuple(2 if d == "N" else d for d in shape), generator=gen) * 2 - 1
    dynamic = {i: "N" for i, d in enumerate(shape) if d == "N"}
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": dynamic, "output": {0: "N"}}
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, input_names=["input"], output_names=["output"],
                          opset_version=opset, do_constant_folding=True, training=mode, **kwargs)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("names", nargs="*", help="subset of models (default: all)")
    ap.add_argument("--force", action="store_true", help="re-export existing files")
    ap.add_argument("--list", action="store_true", help="list model names and exit")
    args = ap.parse_args()
    if args.list:
        for n, (_, shape, opset, keep_bn) in MODELS.items():
            dims = "x".join(str(d) for d in shape)
            print(f"{n}\tinput float32[{dims}]\topset {opset}{chr(9) + 'BatchNormalization kept' if keep_bn else ''}")
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    names = args.names or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print("unknown model(s): " + ", ".join(unknown), file=sys.stderr)
        return 2
    os.makedirs(args.outdir, exist_ok=True)
    todo = []
    for n in names:
        path = os.path.join(args.outdir, n + ".onnx")
        if os.path.exists(path) and not args.force:
            print(f"skip {n} (exists)")
        else:
            todo.append((n, path))
    if not todo:
        return 0
    import warnings

    import torch

    warnings.filterwarnings("ignore")  # exporter chatter about constant folding etc.
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for n, path in todo:
        t0 = time.time()
        export(n, path)
        print(f"exported {n} -> {path} ({os.path.getsize(path)} bytes, {time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
