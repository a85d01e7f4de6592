#!/bin/sh
# Installs what building and testing nnedge needs on Debian 12, only what is
# missing: compilers (gcc, clang + libFuzzer runtime), the Python packages
# that generate test models (torch, onnx, numpy), the Fashion-MNIST data set
# and Node.js for the ONNX Runtime test oracle.
# Usage: scripts/setup.sh [--demo]   (--demo: only what `make demo` needs)
set -e
if [ "${1:-}" = "--demo" ]; then
    pkgs="gcc make pkgconf python3-numpy dataset-fashion-mnist"
    # what building the nnedge command links (serve, pkg), one line per area
    pkgs="$pkgs libmicrohttpd-dev libjansson-dev libgnutls28-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler"  # serve
    pkgs="$pkgs libsodium-dev"  # pkg
    pkgs="$pkgs libsndfile1-dev libsamplerate0-dev"  # pipeline (audio: app wakeword)
    pkgs="$pkgs libjpeg62-turbo-dev libpng-dev"  # image pipeline (app ocr/classify decode)
    pkgs="$pkgs libmosquitto-dev libcurl4-gnutls-dev"  # fleet (agent, controller)
else
    pkgs="gcc make pkgconf clang libclang-rt-14-dev python3-numpy python3-onnx python3-torch python3-torchvision dataset-fashion-mnist"
    # one line per area, so that areas add packages without touching each other's lines
    pkgs="$pkgs libmicrohttpd-dev libjansson-dev libgnutls28-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler curl openssl wrk python3-requests python3-grpcio python3-protobuf prometheus"  # serve
    pkgs="$pkgs python3-flatbuffers"  # tflite
    pkgs="$pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"  # kernels (NEON under qemu)
    pkgs="$pkgs libsodium-dev python3-cryptography"  # pkg (.nne packages)
    pkgs="$pkgs libsndfile1-dev libsamplerate0-dev espeak-ng sox"  # pipeline (audio: app wakeword and its tests)
    pkgs="$pkgs libjpeg62-turbo-dev libpng-dev python3-pil fonts-dejavu-core fonts-dejavu-extra"  # image pipeline (decode, OCR test images)
    pkgs="$pkgs libmosquitto-dev libcurl4-gnutls-dev mosquitto mosquitto-clients haproxy"  # fleet (agent, controller; the engines its tests start)
    pkgs="$pkgs python3-paho-mqtt"  # fleet controller test (tests/fleet/controller_test.py plays the agents)
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
fi
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    if [ "$(id -u)" != 0 ]; then
        SUDO=sudo
    else
        SUDO=
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
