#!/usr/bin/env bash
# The GPU checks of issue 7 as one command for a lent device machine (H100/H200 class):
#   here:  bash scripts/device_prepare.sh
#   there: run(command="bash scripts/device_check.sh", carry=[".device"], timeout_s=590)
#          then, if device time is left: the same with "bash scripts/device_check.sh compile"
# 1. fit_speed on CUDA: step time of every preset at 128x128, 256x256, 512x768 (~1 min);
# 2. time to quality of a whole Kodak image (768x512, the default preset): one real fit + encode
#    per budget in BUDGETS (seconds); the longest stands for the converged RD cost and the table
#    names the first budget within 0.2 dB of it (~6 min with the default budgets).
# 3. (argument "compile", a separate run) the step under torch.compile on CUDA, default mode and
#    reduce-overhead (CUDA graphs), medium at 256x256 and 512x768 (~2-4 min, mostly compiling).
# Each result file is copied to $OUT as soon as it is written; without $OUT (a trial run here,
# DEVICE=cpu) the results stay in benchmarks/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
BUDGETS=${BUDGETS:-10,20,40,80,160}
IMAGES=${IMAGES:-kodim05}
SIZES=${SIZES:-128x128,256x256,512x768}
THREADS=${THREADS:-8}
OUT=${OUT:-}
if [ -d .device/whl ] && ! python3 -c 'import constriction' 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .device/whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
[ -d .device/kodak ] && export INRCODEC_KODAK=$PWD/.device/kodak
keep() { [ -z "$OUT" ] || cp "benchmarks/results/$1.md" "$OUT/"; }
if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
fi
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
if [ "${1:-}" = compile ]; then
    for mode in default reduce-overhead; do
        timeout 240 python3 -m benchmarks.fit_speed --device "$DEVICE" --threads "$THREADS" \
            --steps 20 --presets medium --sizes 256x256,512x768 --compile --compile-mode "$mode" \
            --out "fit_speed_${DEVICE}_compile_$mode" && keep "fit_speed_${DEVICE}_compile_$mode"
    done
    exit 0
fi
python3 -m benchmarks.fit_speed --device "$DEVICE" --threads "$THREADS" --steps 20 \
    --sizes "$SIZES" --out "fit_speed_$DEVICE" && keep "fit_speed_$DEVICE"
python3 -m benchmarks.fit_speed --device "$DEVICE" --threads "$THREADS" --steps 5 \
    --presets medium --sizes 512x768 --budgets "$BUDGETS" --images "$IMAGES" --size 0 \
    --out "converge_${DEVICE}_full" && keep "converge_${DEVICE}_full"
