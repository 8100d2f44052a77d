#!/usr/bin/env bash
# One command for a lent CUDA machine (torch preinstalled there, no internet), about 5 minutes:
#   1. the CUDA tests of the optimizers (every Madam path equals rule.py on the GPU);
#   2. one optimizer step on ResNet-18-sized parameters: Madam's paths, LNSMadam and the uniform
#      baseline against Adam(foreach) and Adam(fused) -> OUTDIR/optimizer_step_cuda.md;
#   3. one epoch, Madam vs Adam, MLP and CNN, on Fashion-MNIST if data/fashion-mnist
#      holds the IDX files, else on scikit-learn's digits -> OUTDIR/epoch_speed_cuda*.md.
# Every ratio the script prints is against a named baseline measured in the same process.
#   bash benchmarks/gpu_check.sh [OUTDIR]        (default docs/)
# Without a GPU it says so and exits 0 without measuring anything.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
if [ -z "${PY:-}" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! $PY -c "import torch" 2>/dev/null; then
    echo "gpu_check: $PY cannot import torch; set PY to a python with torch." >&2
    exit 1
fi
if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device here; nothing measured (the script is ready for a lent GPU)."
    exit 0
fi
status=0
$PY -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name())" || exit 1
timeout 150 $PY -m pytest -q -p no:cacheprovider tests/test_madam_optimizer.py tests/test_lns.py -k "cuda or fused or compile" || status=1
timeout 90 $PY benchmarks/optimizer_step.py --device cuda --repeats 30 --out "$out/optimizer_step_cuda.md" || status=1
if [ -f data/fashion-mnist/train-images-idx3-ubyte ] || [ -f data/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    data=(--dataset fashion_mnist --data-dir data/fashion-mnist)
else
    data=(--dataset digits)
fi
for net in mlp cnn; do
    timeout 60 $PY benchmarks/epoch_speed.py --device cuda --net "$net" "${data[@]}" --repeats 3 --docs "$out" || status=1
done
exit $status
