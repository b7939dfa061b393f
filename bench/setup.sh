#!/usr/bin/env bash
# Installs what `npm run bench` needs beyond the test peers: Debian's PyTorch 1.13 (CPU) and torchvision, to
# export the paper-size reference networks to ONNX and as the same-machine reference for inference time, and
# OpenBLAS (without it PyTorch's convolutions run on the reference BLAS, a strawman reference).
# The bench runs without them (the PyTorch rows then say "not measured"). Run as root: bash bench/setup.sh
set -euo pipefail
if /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null && dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  echo "python3-torch, python3-torchvision and libopenblas0-pthread already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-torch python3-torchvision libopenblas0-pthread
