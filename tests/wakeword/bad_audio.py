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
    # found by fuzz_wav: Debian's libsndfile 1.2.0 loops for ever in sf_open
    # on these 100 bytes (an INFO chunk whose inner sizes wrap its 32-bit
    # arithmetic into a backward jump); nnedge never shows it WAV metadata
    ([write(P('info_loop.wav'), b'RIFF`\x11\0\0WAVEINFO' + b'\xff' * 48 + b'\xdf' + b'\xff' * 31 + b'\x06\0\0\0')],
     r"not an audio file nnedge reads: WAV chunk 'INFO' at byte 12 declares 4294967295 bytes, 80 are left"),
    ([write(P('info_loop2.wav'), b'RIFF\x5c\0\0\0WAVEINFO\x50\0\0\0' + b'\xff' * 48 + b'\xdf' + b'\xff' * 31 + b'\x06\0\0\0')],
     r"without a 'fmt ' chunk"),
    ([wav(P('fmt_huge.wav'), extra=b'\0' * 2000)], r"'fmt ' chunk of 2016 bytes"),
    ([write(P('data_first.wav'), b'RIFF\x24\0\0\0WAVEdata\x04\0\0\0\0\0\0\0fmt \x10\0\0\0' + b'\0' * 16)],
     r"'data' chunk before the 'fmt ' chunk"),
    ([write(P('voc.wav'), b'Creative Voice File\x1a\x1a\x00\x0a\x01\x29\x11' + b'\0' * 200)],
     r'not an audio file nnedge reads \(WAV, RF64, AIFF'),
    ([write(P('id3_junk.mp3'), b'ID3\x04\0\0\0\0\0\x02' + b'\0\0' + b'Creative Voice File' + b'\0' * 100)],
     r'ID3 tags followed by neither MP3 nor FLAC'),
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
# the same audio in other WAV layouts gives the same scores: metadata chunks
# (LIST/INFO, bext, JUNK, an odd-sized chunk with its pad byte) before and
# after the data, RF64 with ds64, a header never finished (data size 0 in
# a RIFF of size 0), big-endian RIFX, AIFF with metadata and an SSND
# offset, AIFC 'sowt' with its SSND before COMM
tone = b''.join(struct.pack('<h', int(8000 * ((i * 37 % 200) - 100) / 100)) for i in range(16000))
ref = wav(P('tone.wav'), data=tone)


def chunk(cid, body):
    return cid + struct.pack('<I', len(body)) + body + (b'\0' if len(body) % 2 else b'')


fmt16 = struct.pack('<HHIIHH', 1, 1, 16000, 32000, 2, 16)
info = chunk(b'LIST', b'INFO' + chunk(b'INAM', b'tone\0') + chunk(b'IART', b'nnedge test\0'))
body = b'WAVE' + chunk(b'JUNK', b'\0' * 28) + chunk(b'fmt ', fmt16) + info + chunk(b'bext', b'x' * 603) + \
    chunk(b'odd ', b'abc') + chunk(b'data', tone) + chunk(b'LIST', b'INFO' + chunk(b'ICMT', b'after\0'))
layouts = {'meta.wav': b'RIFF' + struct.pack('<I', len(body)) + body}
ds64 = struct.pack('<QQQI', 0, len(tone), len(tone) // 2, 0)
layouts['rf64.wav'] = b'RF64\xff\xff\xff\xffWAVE' + chunk(b'ds64', ds64) + chunk(b'fmt ', fmt16) + \
    b'data\xff\xff\xff\xff' + tone
layouts['unfinished.wav'] = b'RIFF\0\0\0\0WAVE' + chunk(b'fmt ', fmt16) + b'data\0\0\0\0' + tone
be = b''.join(struct.pack('>h', v) for v in struct.unpack('<%dh' % (len(tone) // 2), tone))
fmt_be = struct.pack('>HHIIHH', 1, 1, 16000, 32000, 2, 16)
body_be = b'WAVE' + b'fmt ' + struct.pack('>I', 16) + fmt_be + b'data' + struct.pack('>I', len(be)) + be
layouts['rifx.wav'] = b'RIFX' + struct.pack('>I', len(body_be)) + body_be


def bchunk(cid, body):  # AIFF: big-endian sizes
    return cid + struct.pack('>I', len(body)) + body + (b'\0' if len(body) % 2 else b'')


rate80 = bytes.fromhex('400cfa00000000000000')  # 16000 as an 80-bit extended float
comm = struct.pack('>hIh', 1, len(tone) // 2, 16) + rate80
ssnd = bchunk(b'SSND', struct.pack('>II', 4, 0) + b'\0' * 4 + be)  # 4 bytes of offset
aiff = b'AIFF' + bchunk(b'NAME', b'tone') + bchunk(b'COMT', b'\0\1xyz') + bchunk(b'COMM', comm) + ssnd
layouts['tone.aiff'] = b'FORM' + struct.pack('>I', len(aiff)) + aiff
comm_c = struct.pack('>hIh', 1, len(tone) // 2, 16) + rate80 + b'sowt' + b'\x00\x00'
aifc = b'AIFC' + bchunk(b'FVER', struct.pack('>I', 0xA2805140)) + \
    bchunk(b'SSND', struct.pack('>II', 0, 0) + tone) + bchunk(b'COMM', comm_c)  # SSND before COMM, little-endian data
layouts['tone.aifc'] = b'FORM' + struct.pack('>I', len(aifc)) + aifc
def scores(csv):  # the CSV without its file column
    with open(csv) as f:
        return [line.split(',', 1)[1] for line in f]


want = subprocess.run(base + ['--frames', P('tone.csv'), ref], capture_output=True, timeout=60)
for name, data in layouts.items():
    path = write(P(name), data)
    p = subprocess.run(base + ['--frames', P(name + '.csv'), path], capture_output=True, timeout=60)
    same = p.returncode == 0 and scores(P(name + '.csv')) == scores(P('tone.csv')) and len(scores(P('tone.csv'))) > 10
    if want.returncode != 0 or not same:
        print('FAIL %s: exit %d, scores %s those of the plain WAV: %s' % (name, p.returncode,
              'equal to' if same else 'differ from', p.stderr.decode()[-300:]))
        fails += 1
n = len(cases) + len(opt_cases) + 1 + len(layouts)
print('bad audio: %d/%d cases as expected' % (n - fails, n))
sys.exit(1 if fails else 0)
