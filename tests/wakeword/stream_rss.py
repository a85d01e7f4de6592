#!/usr/bin/env python3
"""Constant memory on a stream: `nnedge app wakeword -` reads 16 kHz PCM from
stdin; its peak RSS after 60 s of audio must be within 2 MiB of its peak
after 10 s (the pipeline's buffers are fixed at start; nothing grows with
the stream). The audio is a speech clip repeated.

usage: stream_rss.py NNEDGE MODELS_DIR CLIP.wav
"""
import os
import subprocess
import sys
import wave

nnedge, models, clip = sys.argv[1:4]
with wave.open(clip) as w:
    assert w.getframerate() == 16000 and w.getsampwidth() == 2 and w.getnchannels() == 1
    pcm = w.readframes(w.getnframes())


def peak_rss_kib(seconds):
    want = seconds * 16000 * 2
    data = (pcm * (want // len(pcm) + 1))[:want]
    p = subprocess.Popen([nnedge, 'app', 'wakeword', '--models', models, '-'], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stdin.write(data)
    p.stdin.close()
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit('FAIL stream of %d s: exit %d: %s' % (seconds, p.returncode, err.strip()))
    return ru.ru_maxrss


short, long_ = peak_rss_kib(10), peak_rss_kib(60)
print('stream: peak RSS %d KiB after 10 s of audio, %d KiB after 60 s (+%d KiB)' % (short, long_, long_ - short))
if long_ - short > 2048:
    sys.exit('FAIL stream: peak RSS grew by %d KiB between 10 s and 60 s of audio' % (long_ - short))
