#!/usr/bin/env bash
# One command for a lent CUDA machine (torch preinstalled there, no internet): the CUDA tests of the
# optimizer, then the optimizer-step benchmark against Adam(foreach) and Adam(fused) on the GPU.
#   bash benchmarks/gpu_check.sh [OUTDIR]      (results: OUTDIR/optimizer_step_cuda.md, default docs/)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
status=0
python3 -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name())" || exit 1
python3 -m pytest -q -p no:cacheprovider tests/test_madam_optimizer.py -k "cuda or fused or compile" || status=1
python3 benchmarks/optimizer_step.py --device cuda --out "$out/optimizer_step_cuda.md" || status=1
exit $status
