#!/usr/bin/python3
"""gen_files.py OUTDIR - hostile files for issue 14 items 2 and 3 (cases-files.txt).

Writes OUTDIR/files/: models whose external data escapes the model's directory
through a symlink (file link, directory link, absolute symlink to /dev/zero),
external data that is a FIFO or a directory, external data ranges past the
end of the file, a FIFO model, a directory named like a model, FIFO and
directory .npy inputs, plus a good model with external data and its input
(which must keep working). Deterministic; no network.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

out = os.path.join(sys.argv[1], "files")
os.makedirs(out, exist_ok=True)


def model_with_external(name, location, offset=0, length=16):
    """y = x + w, w float[4] stored as external data at location."""
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([4])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(out, name), "wb") as f:
        f.write(m.SerializeToString())


def link(target, name):
    p = os.path.join(out, name)
    if os.path.lexists(p):
        os.remove(p)
    os.symlink(target, p)


def fifo(name):
    p = os.path.join(out, name)
    if os.path.lexists(p):
        os.remove(p)
    os.mkfifo(p)


# the good case: 16 bytes of weights next to the model
with open(os.path.join(out, "weights.bin"), "wb") as f:
    f.write(np.arange(4, dtype="<f4").tobytes())
model_with_external("good.onnx", "weights.bin")
np.save(os.path.join(out, "x.npy"), np.ones(4, dtype=np.float32))
# a symlink that stays inside the directory is fine
link("weights.bin", "inside_link.bin")
model_with_external("inside_link.onnx", "inside_link.bin")

# item 2: escapes through symlinks
link("/etc/passwd", "link.bin")
model_with_external("ext_file_symlink.onnx", "link.bin")
link("/etc", "etc")
model_with_external("ext_dir_symlink.onnx", "etc/passwd")
link("/dev/zero", "zero.bin")
model_with_external("ext_devzero_symlink.onnx", "zero.bin")
os.makedirs(os.path.join(out, "sub"), exist_ok=True)
with open(os.path.join(sys.argv[1], "files_outside.bin"), "wb") as f:
    f.write(b"\x7f" * 16)
link("../../files_outside.bin", "sub/up.bin")   # a relative link climbing out
model_with_external("ext_relative_up_symlink.onnx", "sub/up.bin")
link("../..", "sub/parent")                      # a directory link to the model's parent
model_with_external("ext_dotdot_dir_symlink.onnx", "sub/parent/files_outside.bin")
model_with_external("ext_absolute.onnx", "/etc/passwd")
model_with_external("ext_dotdot.onnx", "../files/weights.bin")
model_with_external("ext_proc_self.onnx", "proc/mem")
link("/proc/self", "proc")

# item 2/3: non-regular external data
fifo("fifo.bin")
model_with_external("ext_fifo.onnx", "fifo.bin")
os.makedirs(os.path.join(out, "adir.bin"), exist_ok=True)
model_with_external("ext_directory.onnx", "adir.bin")

# ranges past the end of the 16-byte file
model_with_external("ext_offset_past_end.onnx", "weights.bin", offset=64, length=16)
model_with_external("ext_length_past_end.onnx", "weights.bin", offset=8, length=16)
model_with_external("ext_offset_huge.onnx", "weights.bin", offset=2**62, length=16)

# item 3: the model or an input that is not a regular file
fifo("model_fifo.onnx")
os.makedirs(os.path.join(out, "model_dir.onnx"), exist_ok=True)
fifo("input_fifo.npy")
os.makedirs(os.path.join(out, "input_dir.npy"), exist_ok=True)
link("/dev/zero", "input_zero.npy")
