#!/bin/bash
# Figures of issue 10 for `nnedge serve` in one command (`make bench-serve`),
# release build, loopback, wrk as the client, binary requests (the tensor
# extension), --threads $THREADS:
#   (a) overhead: p50 at concurrency 1 on models/fashion_cnn.onnx minus the
#       in-process median of `nnedge bench` (same model, batch 1). Beside it
#       what the machine's loopback + client cost by themselves: the p50 of
#       tests/serve/http_floor.c (a minimal HTTP server answering at once,
#       "floor"), and of the same server busy-waiting the in-process median
#       before each answer ("floor+run": a server with zero overhead).
#   (b) batching: requests/s at concurrency 16 with dynamic batching (max
#       batch 16, --batch-delay-us $DELAY) and without (max_batch_size 0), and
#       the p50 each has at concurrency 1, on fashion_cnn and on the wide MLP
#       of tests/serve/gen_wide_mlp.py (where a batch of 16 costs a fraction
#       of 16 single runs); the mean batch size the server formed.
#   (c) full queue: one worker slot busy with long runs (3 clients), a queue
#       of 1; the latency of the 503s a probe client gets, on a kept-alive
#       connection and on a new connection per request.
# Every figure is measured ROUNDS times, alternating, and the median printed
# with the load average (uptime) at the time: the machine may be shared.
# Usage: NNEDGE=build/nnedge FLOOR=build/serve_http_floor D=5 ROUNDS=3 \
#        DELAY=2000 bash tests/serve/bench.sh
set -e
NNEDGE=${NNEDGE:-build/nnedge}
FLOOR=${FLOOR:-build/serve_http_floor}
W=${W:-build/serve-bench}
D=${D:-5}
ROUNDS=${ROUNDS:-3}
DELAY=${DELAY:-2000}
THREADS=${THREADS:-2}
PROBES=${PROBES:-300}
for t in "$NNEDGE" "$FLOOR" wrk curl; do
    command -v "$t" > /dev/null || { echo "bench.sh: $t not found (make build/nnedge build/serve_http_floor; apt-get install wrk curl)"; exit 2; }
done
rm -rf "$W" && mkdir -p "$W"
for m in fn fb mn mb; do mkdir -p "$W/repo/$m/1"; done
cp models/fashion_cnn.onnx "$W/repo/fn/1/model.onnx"
cp models/fashion_cnn.onnx "$W/repo/fb/1/model.onnx"
/usr/bin/python3 tests/serve/gen_wide_mlp.py "$W/repo/mn/1/model.onnx"
cp "$W/repo/mn/1/model.onnx" "$W/repo/mb/1/model.onnx"
for m in fn mn; do echo '{"max_batch_size": 0}' > "$W/repo/$m/config.json"; done
for m in fb mb; do echo '{"max_batch_size": 16}' > "$W/repo/$m/config.json"; done
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
PIDS=""
trap 'kill $PIDS 2>/dev/null' EXIT
wait_port() { # file with the server's banner or port
    for _ in $(seq 150); do [ -s "$1" ] && grep -q '[0-9]' "$1" && break; sleep 0.1; done
}
inproc_ms() { # model shape
    "$NNEDGE" bench "$1" --shape "input=$2" --runs "${3:-3000}" --warmup 200 --json | sed 's/.*"median_ms": \([0-9.]*\).*/\1/'
}

"$NNEDGE" serve --repo "$W/repo" --http 127.0.0.1:0 --threads "$THREADS" --batch-delay-us "$DELAY" > "$W/out" 2> "$W/err" &
SPID=$!
PIDS="$PIDS $SPID"
wait_port "$W/out"
PORT=$(sed -n 's/.*:\([0-9]*\) (.*/\1/p' "$W/out")
[ -n "$PORT" ] || { echo "bench.sh: the server did not start:"; cat "$W/err"; exit 1; }
U="http://127.0.0.1:$PORT/v2/models"
"$FLOOR" "$W/floor0.port" 180 &
FPID0=$!
PIDS="$PIDS $FPID0"
cnn_ms=$(inproc_ms models/fashion_cnn.onnx 1x1x28x28)
"$FLOOR" "$W/floor1.port" 180 "$(awk -v m="$cnn_ms" 'BEGIN {print m * 1000}')" &
FPID1=$!
PIDS="$PIDS $FPID1"
wait_port "$W/floor0.port"
wait_port "$W/floor1.port"
F0="http://127.0.0.1:$(cat "$W/floor0.port")/"
F1="http://127.0.0.1:$(cat "$W/floor1.port")/"

# wrk's latency percentiles and requests/s (microseconds, 1/s), and the CPU
# time per request of server + client (utime+stime of the server process
# from /proc, of wrk from /usr/bin/time): on a shared machine throughput
# follows the CPU the benchmark gets, CPU time per request much less so.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
w() { # name conns url server_pid
    local t=1 c0 c1
    [ "$2" -ge 2 ] && t=2
    c0=$(cpu_ticks "$4")
    /usr/bin/time -f "wrk_cpu_s %U %S" -o "$W/$1.time" wrk -t$t -c"$2" -d"${D}s" --latency -s "$W/post.lua" "$3" > "$W/$1.txt"
    c1=$(cpu_ticks "$4")
    awk -v n="$1" -v sc="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
        $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
        / requests in / { reqs = $1 } /^wrk_cpu_s/ { wc = $2 + $3 }
        /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
        END { printf "%s p50_us=%s p99_us=%s rps=%s non2xx=%d cpu_us_per_req=%.1f\n", n, p50, p99, rps, bad,
              reqs ? (sc / hz + wc) * 1e6 / reqs : 0 }' "$W/$1.txt" "$W/$1.time"
}
: > "$W/results.txt"
for r in $(seq "$ROUNDS"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    cnn=$(inproc_ms models/fashion_cnn.onnx 1x1x28x28)
    mlp=$(inproc_ms "$W/repo/mn/1/model.onnx" 1x1x28x28 1000)
    mlp16=$(inproc_ms "$W/repo/mn/1/model.onnx" 16x1x28x28 200)
    {
        echo "round=$r load=$load inproc_cnn_ms=$cnn inproc_mlp_ms=$mlp inproc_mlp_b16_ms=$mlp16"
        w floor_run 1 "$F1" "$FPID1"
        w floor 1 "$F0" "$FPID0"
        w fn_c1 1 "$U/fn/infer" "$SPID"
        w fb_c1 1 "$U/fb/infer" "$SPID"
        w mn_c1 1 "$U/mn/infer" "$SPID"
        w mb_c1 1 "$U/mb/infer" "$SPID"
        order="fn fb mn mb"
        [ $((r % 2)) = 0 ] && order="mb mn fb fn"
        for m in $order; do w "${m}_c16" 16 "$U/$m/infer" "$SPID"; done
        echo "load_end=$(cut -d' ' -f1 /proc/loadavg)"
    } | tee -a "$W/results.txt" | tr '\n' ' '
    echo
done
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^nnedge_batch_size_(sum|count)\{model="(fb|mb)"' > "$W/batches.txt"
kill $PIDS 2>/dev/null || true
wait 2>/dev/null || true
PIDS=""

# (c) A full queue: one worker slot busy with long runs (3 clients keep it
# busy and the queue of 1 full, each honouring a 503 for 5 ms), a probe
# client times its 503s.
/usr/bin/python3 tests/serve/gen_models.py "$W/repo2" > /dev/null
"$NNEDGE" serve --repo "$W/repo2" --http 127.0.0.1:0 --threads 1 --max-queue 1 > "$W/out2" 2> "$W/err2" &
PIDS="$!"
wait_port "$W/out2"
PORT2=$(sed -n 's/.*:\([0-9]*\) (.*/\1/p' "$W/out2")
for mode in keepalive fresh; do
    echo "full_queue_$mode load=$(cut -d' ' -f1 /proc/loadavg) $(/usr/bin/python3 tests/serve/queue_probe.py "$PORT2" "$PROBES" "$mode")" |
        tee -a "$W/results.txt"
done
kill $PIDS 2>/dev/null || true
wait 2>/dev/null || true
trap - EXIT
/usr/bin/python3 - "$W" <<'PY'
import re, statistics, sys
w = sys.argv[1]
rounds, cur = [], None
for line in open(w + "/results.txt"):
    f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    name = line.split()[0]
    if name.startswith("round="):
        cur = {"load": float(f["load"]), "cnn": float(f["inproc_cnn_ms"]) * 1000, "mlp": float(f["inproc_mlp_ms"]) * 1000,
               "mlp16": float(f["inproc_mlp_b16_ms"]) * 1000}
        rounds.append(cur)
    elif name.startswith("load_end"):
        cur["load_end"] = float(name.split("=")[1])
    elif cur is not None and "p50_us" in f:
        cur[name] = {k: float(v) for k, v in f.items()}
med = lambda xs: statistics.median(xs)
def col(key, field):
    return [r[key][field] for r in rounds if key in r]
loads = [r["load"] for r in rounds] + [r.get("load_end", r["load"]) for r in rounds]
print("\n== summary: %d rounds of %s, load average %.2f-%.2f (1 min) ==" % (len(rounds), "wrk", min(loads), max(loads)))
cnn = med([r["cnn"] for r in rounds])
fn1, fb1 = med(col("fn_c1", "p50_us")), med(col("fb_c1", "p50_us"))
fl0, fl1 = med(col("floor", "p50_us")), med(col("floor_run", "p50_us"))
print("(a) fashion_cnn in-process median %.1f us; c=1 p50 %.0f us -> overhead (p50 - in-process) %.0f us (target <= 50)" % (cnn, fn1, fn1 - cnn))
print("    loopback floor: minimal HTTP server p50 %.0f us; the same busy-waiting %.0f us per request p50 %.0f us" % (fl0, cnn, fl1))
print("    -> overhead beyond a zero-overhead server on this machine: %.0f us" % (fn1 - fl1))
print("    CPU time per request at c=1 (server + wrk): server %.0f us, floor+run %.0f us" %
      (med(col("fn_c1", "cpu_us_per_req")), med(col("floor_run", "cpu_us_per_req"))))
for tag, n, b, inproc in (("fashion_cnn", "fn", "fb", cnn), ("wide MLP", "mn", "mb", med([r["mlp"] for r in rounds]))):
    rn, rb = med(col(n + "_c16", "rps")), med(col(b + "_c16", "rps"))
    p1n, p1b = med(col(n + "_c1", "p50_us")), med(col(b + "_c1", "p50_us"))
    ratios = [r[b + "_c16"]["rps"] / r[n + "_c16"]["rps"] for r in rounds]
    cn, cb = med(col(n + "_c16", "cpu_us_per_req")), med(col(b + "_c16", "cpu_us_per_req"))
    print("(b) %s (in-process %.0f us at batch 1): c=16 %.0f req/s batching vs %.0f without = %.2fx (rounds %s; target >= 1.5);"
          " c=1 p50 %.0f vs %.0f us: %+.0f us added (target <= 200)" %
          (tag, inproc, rb, rn, rb / rn, " ".join("%.2f" % x for x in ratios), p1b, p1n, p1b - p1n))
    print("    CPU time per request (server + wrk) at c=16: %.0f us batching vs %.0f without (%.2fx less)" % (cb, cn, cn / cb))
print("    wide MLP in-process batch 16: %.0f us (%.1f us a row)" % (med([r["mlp16"] for r in rounds]), med([r["mlp16"] for r in rounds]) / 16))
bad = sum(v.get("non2xx", 0) for r in rounds for k, v in r.items() if isinstance(v, dict))
print("    non-2xx answers in all wrk runs: %d" % bad)
for line in open(w + "/batches.txt"):
    print("    " + line.strip())
for line in open(w + "/results.txt"):
    if line.startswith("full_queue"):
        print("(c) " + line.strip())
PY
