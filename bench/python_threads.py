# Two Python threads, each with its own nnedge.Interpreter (1 thread each),
# against one: invoke() releases the GIL when the ratio stays near 1.
# Usage: NNEDGE_LIBRARY=build/libnnedge.so python3 bench/python_threads.py [MODEL.tflite]
import sys, time, threading, statistics
import numpy as np
sys.path.insert(0, 'python')
from nnedge import Interpreter
m = sys.argv[1] if len(sys.argv) > 1 else 'build/test-python/fashion.tflite'  # made by make test-python
xb = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
def work(n):
    ip = Interpreter(model_path=m, num_threads=1)
    ip.resize_tensor_input(0, xb.shape); ip.allocate_tensors(); ip.set_tensor(0, xb)
    for _ in range(n): ip.invoke()
N = 400
r = []
for rnd in range(5):
    t0 = time.perf_counter(); work(N); t1 = time.perf_counter() - t0
    ths = [threading.Thread(target=work, args=(N,)) for _ in range(2)]
    t0 = time.perf_counter()
    for t in ths: t.start()
    for t in ths: t.join()
    t2 = time.perf_counter() - t0
    r.append(t2 / t1); print('round %d: one %.3f s, two %.3f s, ratio %.2f' % (rnd, t1, t2, t2 / t1))
print('median ratio %.2f' % statistics.median(r))
