#!/bin/bash
# Figures of issue 10 for `nnedge serve` on an MNIST-size model
# (models/fashion_cnn.onnx), release build, loopback, wrk as the client:
#   overhead: p50 at concurrency 1 (binary request) minus the in-process
#             median of `nnedge bench` (same model, batch 1)
#   batching: requests/s at concurrency 16 with dynamic batching (max batch 8,
#             --batch-delay-us $DELAY) and without (max_batch_size 0), and the
#             p50 each adds at concurrency 1
#   503:      latency of the answers of a full queue (python client)
# Each figure is measured ROUNDS times, alternating, on a possibly busy box.
# Usage: NNEDGE=build/nnedge D=5 ROUNDS=2 DELAY=200 bash tests/serve/bench.sh
set -e
NNEDGE=${NNEDGE:-build/nnedge}
W=${W:-build/serve-bench}
D=${D:-5}
ROUNDS=${ROUNDS:-2}
DELAY=${DELAY:-200}
THREADS=${THREADS:-2}
rm -rf "$W" && mkdir -p "$W/repo/fb/1" "$W/repo/fn/1"
cp models/fashion_cnn.onnx "$W/repo/fb/1/model.onnx"
cp models/fashion_cnn.onnx "$W/repo/fn/1/model.onnx"
echo '{"max_batch_size": 0}' > "$W/repo/fn/config.json"
echo '{"max_batch_size": 8}' > "$W/repo/fb/config.json"
/usr/bin/python3 - "$W" <<'PY'
import json, sys
import numpy as np
x = np.random.default_rng(0).random([1, 1, 28, 28], dtype=np.float32)
h = json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                            "parameters": {"binary_data_size": x.nbytes}}],
                "parameters": {"binary_data_output": True}}).encode()
open(sys.argv[1] + "/body.bin", "wb").write(h + x.tobytes())
open(sys.argv[1] + "/hl", "w").write(str(len(h)))
PY
cat > "$W/post.lua" <<'LUA'
local f = io.open(os.getenv("BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = os.getenv("HL")
LUA
export BODY="$W/body.bin" HL=$(cat "$W/hl")
"$NNEDGE" serve --repo "$W/repo" --http 127.0.0.1:0 --threads "$THREADS" --batch-delay-us "$DELAY" > "$W/out" 2> "$W/err" &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q listening "$W/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.*:\([0-9]*\) (.*/\1/p' "$W/out")
U="http://127.0.0.1:$PORT/v2/models"
p50() { awk '$1 == "50%" {print $2}'; }
rps() { awk '/^Requests\/sec/ {print $2}'; }
non2xx() { awk '/Non-2xx/ {print $NF}'; }
for r in $(seq "$ROUNDS"); do
    inproc=$("$NNEDGE" bench models/fashion_cnn.onnx --shape input=1x1x28x28 --runs 3000 --warmup 200 --json |
             sed 's/.*"median_ms": \([0-9.]*\).*/\1/')
    wrk -t1 -c1 -d"${D}s" --latency -s "$W/post.lua" "$U/fn/infer" > "$W/c1_nb.txt"
    wrk -t1 -c1 -d"${D}s" --latency -s "$W/post.lua" "$U/fb/infer" > "$W/c1_b.txt"
    wrk -t2 -c16 -d"${D}s" --latency -s "$W/post.lua" "$U/fn/infer" > "$W/c16_nb.txt"
    wrk -t2 -c16 -d"${D}s" --latency -s "$W/post.lua" "$U/fb/infer" > "$W/c16_b.txt"
    echo "round $r: in-process median ${inproc} ms;" \
         "c=1 p50 no-batching $(p50 < "$W/c1_nb.txt") batching $(p50 < "$W/c1_b.txt");" \
         "c=16 req/s no-batching $(rps < "$W/c16_nb.txt") (p50 $(p50 < "$W/c16_nb.txt"))" \
         "batching $(rps < "$W/c16_b.txt") (p50 $(p50 < "$W/c16_b.txt"));" \
         "non-2xx: $(cat "$W"/c1_nb.txt "$W"/c1_b.txt "$W"/c16_nb.txt "$W"/c16_b.txt | non2xx | tr '\n' ' ')"
done
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^nnedge_batch_size_(sum|count)\{model="fb"' | tr '\n' ' '
echo
kill $PID; wait $PID 2>/dev/null || true
trap - EXIT

# A full queue: one worker busy on long runs, queue of 1; time the 503s.
/usr/bin/python3 tests/serve/gen_models.py "$W/repo2" > /dev/null
"$NNEDGE" serve --repo "$W/repo2" --http 127.0.0.1:0 --threads 1 --max-queue 1 > "$W/out2" 2> "$W/err2" &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q listening "$W/out2" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.*:\([0-9]*\) (.*/\1/p' "$W/out2")
/usr/bin/python3 - "$PORT" <<'PY'
import json, socket, sys, threading, time
import numpy as np
port = int(sys.argv[1])
huge = json.dumps({"inputs": [{"name": "x", "shape": [512, 256], "datatype": "FP32", "data": [0.01] * (512 * 256)}]}).encode()
small = json.dumps({"inputs": [{"name": "x", "shape": [1, 256], "datatype": "FP32", "data": [0.01] * 256}]}).encode()
def post(body, timeout=60):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.perf_counter()
    s.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    resp = s.recv(4096)
    dt = time.perf_counter() - t0
    s.close()
    return resp.split(b" ", 2)[1] if resp else b"none", dt
stop = [False]
def keep_busy():
    while not stop[0]:
        try:
            post(huge)
        except OSError:  # refused with 503 while still sending: the server closed
            pass
bg = [threading.Thread(target=keep_busy) for _ in range(3)]
[t.start() for t in bg]
time.sleep(1.0)
lat, codes = [], {}
for _ in range(300):
    c, dt = post(small, timeout=5)
    codes[c] = codes.get(c, 0) + 1
    if c == b"503":
        lat.append(dt * 1000)
stop[0] = True
[t.join() for t in bg]
lat = np.array(lat)
print("full queue: %d requests, statuses %s; 503 latency p50 %.3f ms p99 %.3f ms max %.3f ms" %
      (sum(codes.values()), {k.decode(): v for k, v in codes.items()}, np.percentile(lat, 50), np.percentile(lat, 99), lat.max()))
PY
kill $PID; wait $PID 2>/dev/null || true
