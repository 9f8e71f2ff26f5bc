#!/usr/bin/env bash
# The GPU benchmark on a machine with no package registry (the team's H200 machine): installs
# the carried wheels into /tmp/site, unpacks perf_analyzer's two libraries, then runs
#   bench/gpu_device.sh CARRY_DIR OUT_DIR [tests] ["bench.gpu_run arguments"]...
# (the GPU tests, then one bench.gpu_run per quoted argument string).
# CARRY_DIR holds whl/ (mlinfer's dependencies, cp312), cudart/ (nvidia-cuda-runtime-cu12
# wheel: libcudart.so.12) and deb/ (Debian libb64-0d). torch, numpy and grpcio are the image's.
set -euo pipefail
carry=$(cd "$1" && pwd); out=$2; shift 2
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site "$carry"/whl/*.whl
mkdir -p /tmp/palibs /tmp/unpack
python3 -m zipfile -e "$carry"/cudart/*.whl /tmp/unpack/cudart
dpkg -x "$carry"/deb/libb64-0d_*.deb /tmp/unpack/b64
cp /tmp/unpack/cudart/nvidia/cuda_runtime/lib/libcudart.so.12 /tmp/palibs/
cp -P /tmp/unpack/b64/usr/lib/x86_64-linux-gnu/libb64.so.0d* /tmp/palibs/
export PYTHONPATH="/tmp/site:$PWD/services:$PWD" PATH="/tmp/site/bin:$PATH"
export LD_LIBRARY_PATH="/tmp/palibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" PYTHONUNBUFFERED=1
chmod +x /tmp/site/bin/* 2>/dev/null || true
perf_analyzer --version 2>&1 | head -1 || true
mkdir -p "$out"
if [ "${1:-}" = tests ]; then
  shift
  python3 -m pytest -v --tb=short -p no:cacheprovider -W ignore::DeprecationWarning \
    tests/integration/test_torch_gpu.py \
    tests/unit/backends/embedded/test_torch_session.py 2>&1 | tee "$out/pytest-gpu.txt" | tail -15 || true
fi
for spec in "$@"; do
  # shellcheck disable=SC2086  # each spec is a list of arguments
  python3 -W ignore::DeprecationWarning -m bench.gpu_run --out "$out" $spec
done
