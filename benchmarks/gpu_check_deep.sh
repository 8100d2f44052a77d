#!/usr/bin/env bash
# One command for a CUDA machine with torch preinstalled (no internet, no Brian2 needed):
#   bash benchmarks/gpu_check_deep.sh [DATA_DIR]
# DATA_DIR (default: $SYNAPSE_MADAM_DATA, else data/fashion-mnist) holds the four Fashion-MNIST IDX files.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DATA="${1:-${SYNAPSE_MADAM_DATA:-data/fashion-mnist}}"
python3 benchmarks/gpu_check_deep.py --data-dir "$DATA" --net cnn --epochs 3
