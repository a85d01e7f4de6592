#!/usr/bin/env python3
"""Bad input to `nnedge app wakeword`: each case must exit 2 with exactly one
line on stderr (starting "nnedge: " and matching the case's pattern), no
sanitizer report, within 20 s (a FIFO is refused, never waited on).

usage: bad_audio.py NNEDGE MODELS_DIR WORKDIR
"""
import os
import re
import struct
import subprocess
import sys

nnedge, models, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)


def wav(path, rate=16000, channels=1, bits=16, fmt=1, data=b'\0\0' * 1600, data_len=None, extra=b''):
    block = channels * bits // 8
    fmt_chunk = struct.pack('<HHIIHH', fmt, channels, rate, rate * block, block, bits) + extra
    body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt_chunk)) + fmt_chunk
    body += b'data' + struct.pack('<I', len(data) if data_len is None else data_len) + data
    with open(path, 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', len(body)) + body)
    return path


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return path


P = lambda name: os.path.join(work, name)  # noqa: E731
good = wav(P('good.wav'))
nan = struct.pack('<f', float('nan'))
fifo = P('fifo.wav')
if not os.path.exists(fifo):
    os.mkfifo(fifo)
os.makedirs(P('dir.wav'), exist_ok=True)
os.makedirs(P('empty_models'), exist_ok=True)
cases = [
    # (args, stderr pattern)
    ([P('missing.wav')], r'cannot open'),
    ([write(P('empty.wav'), b'')], r'not an audio file'),
    ([write(P('text.wav'), b'hello, this is not audio\n' * 40)], r'not an audio file'),
    ([write(P('random.wav'), bytes((i * 7919 + 13) % 251 for i in range(5000)))], r'not an audio file'),
    ([write(P('header_only.wav'), open(good, 'rb').read()[:30])], r'not an audio file'),
    ([P('dir.wav')], r'not a regular file'),
    ([fifo], r'not a regular file'),
    ([wav(P('nan.wav'), fmt=3, bits=32, data=nan * 4000)], r'not a finite number'),
    ([wav(P('inf.wav'), fmt=3, bits=32, data=struct.pack('<f', float('inf')) * 4000)], r'not a finite number'),
    ([wav(P('rate1.wav'), rate=1)], r'cannot resample|1\.\.1536000 Hz'),
    ([wav(P('rate_huge.wav'), rate=3000000)], r'1\.\.1536000 Hz|not an audio file'),
    ([wav(P('ch0.wav'), channels=0)], r'not an audio file|channels'),
    ([wav(P('ch1000.wav'), channels=1000, data=b'\0' * 2000 * 4)], r'not an audio file|channels'),
    ([wav(P('fmt_unknown.wav'), fmt=0x1234)], r'not an audio file'),
]
base = [nnedge, 'app', 'wakeword', '--models', models]
fails = 0
for args, pat in cases:
    cmd = base + args
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        print('FAIL %s: no answer within 20 s' % args[-1])
        fails += 1
        continue
    err = p.stderr.decode('utf-8', 'replace')
    lines = err.splitlines()
    ok = p.returncode == 2 and len(lines) == 1 and lines[0].startswith('nnedge: ') and re.search(pat, lines[0])
    if not ok:
        print('FAIL %s: exit %d, stderr %r (want exit 2 and one line matching %r)' % (args[-1], p.returncode,
                                                                                    err[-400:], pat))
        fails += 1
# options and model directories
opt_cases = [
    ([nnedge, 'app', 'wakeword', '--models', models, '--threshold', '2', good], r'--threshold'),
    ([nnedge, 'app', 'wakeword', '--models', models, '--threshold', '0.3', '--release', '0.5', good], r'--release'),
    ([nnedge, 'app', 'wakeword', '--models', models, '--format', 'pt', good], r'--format'),
    ([nnedge, 'app', 'wakeword', '--models', models], r'no audio'),
    ([nnedge, 'app', 'wakeword', good], r'--models'),
    ([nnedge, 'app', 'wakeword', '--models', P('empty_models'), good], r'melspectrogram'),
    ([nnedge, 'app', 'wakeword', '--models', models, '--bogus', good], r'unknown option'),
    ([nnedge, 'app', 'nosuchapp'], r'unknown application'),
]
for cmd, pat in opt_cases:
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    lines = p.stderr.decode('utf-8', 'replace').splitlines()
    if not (p.returncode == 2 and len(lines) == 1 and re.search(pat, lines[0])):
        print('FAIL %s: exit %d, stderr %r' % (' '.join(cmd[2:]), p.returncode, lines[-3:]))
        fails += 1
# every option with hostile values: exit 0 with an empty stderr, or 2 with one line
hostile = ['', '-', '--', 'x', '-1', '0', '1e99', 'nan', '9999999999999999999', '/', '/dev/null', P('dir.wav'),
           '\udcff', 'a' * 5000]
sweep_bad = 0
for opt in ('--models', '--format', '--threshold', '--release', '--debounce', '--threads', '--frames'):
    for v in hostile:
        cmd = [nnedge, 'app', 'wakeword'] + ([] if opt == '--models' else ['--models', models]) + [opt, v, good]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=60, cwd=work)  # --frames x writes ./x
        except subprocess.TimeoutExpired:
            print('FAIL %s %r: no answer within 60 s' % (opt, v[:40]))
            sweep_bad += 1
            continue
        lines = p.stderr.decode('utf-8', 'replace').splitlines()
        if not ((p.returncode == 0 and not lines) or (p.returncode == 2 and len(lines) == 1)):
            print('FAIL %s %r: exit %d, stderr %r' % (opt, v[:40], p.returncode, lines[-3:]))
            sweep_bad += 1
fails += sweep_bad
print('option sweep: %d runs, %d bad' % (7 * len(hostile), sweep_bad))
# the good file works
p = subprocess.run(base + [good], capture_output=True, timeout=60)
if p.returncode != 0:
    print('FAIL good.wav: exit %d: %s' % (p.returncode, p.stderr.decode()[-300:]))
    fails += 1
n = len(cases) + len(opt_cases) + 1
print('bad audio: %d/%d cases as expected' % (n - fails, n))
sys.exit(1 if fails else 0)
