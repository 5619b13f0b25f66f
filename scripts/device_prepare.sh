#!/usr/bin/env bash
# Run here, before the GPU checks: what scripts/device_check.sh needs on a lent device machine
# that it lacks there (constriction, for Python 3.12; the Kodak images, since ../shared does not
# travel), into .device/ (git-ignored; the run's `carry`).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .device && mkdir -p .device/whl .device/kodak
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .device/whl "constriction==$(python3 -c 'import importlib.metadata as m; print(m.version("constriction"))')"
cp ../shared/data/kodak/kodim05.png ../shared/data/kodak/kodim23.png .device/kodak/
du -sh .device
