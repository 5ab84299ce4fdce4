#!/usr/bin/env bash
# Issue 14's measurements on one GPU machine, in one go: it is lent for minutes, so start this once with a time
# limit that leaves room to run it again. From the repository root:
#
#   tests/bench/gpu_page.sh DATA.npz [CPU_RUNS.sqlite]
#
# DATA.npz: the rebuilt DermaMNIST (carried along in the working tree, ignored by git); CPU_RUNS.sqlite: a store of
# CPU runs to set each experiment's AUC beside. That machine reaches no package index and its python3 lacks
# pydantic and platformdirs, which the engine imports; fetch them beforehand on a machine that has one, for the
# GPU machine's python (3.X below), and carry the folder along as .gpu-wheels/:
#
#   pip download --only-binary=:all: --python-version 3.X --platform manylinux2014_x86_64 -d .gpu-wheels \
#       pydantic platformdirs
#
# Each step is one tests/bench/suite.py command (see it for what it prints), stopped after STEP_SECONDS. DEVICE
# (default cuda) and EXTRA (options added to every step, e.g. "--epochs 1") let the script be tried elsewhere.
set -uo pipefail
data=${1:?give the data file}
baseline=${2:-}
python=${PYTHON:-python3}
step_seconds=${STEP_SECONDS:-240}

if ! "$python" -c "import pydantic, platformdirs" 2>/dev/null; then
    "$python" -m pip install --quiet --no-index --find-links .gpu-wheels --target .gpu-packages pydantic platformdirs
    export PYTHONPATH="$PWD/.gpu-packages${PYTHONPATH:+:$PYTHONPATH}"
fi
"$python" -c "import torch; print('torch', torch.__version__, '·', torch.cuda.get_device_name())"
uptime

step() {  # COMPILE=mode step SUITE-OPTIONS...
    echo; echo "== DERMALAB_COMPILE=${COMPILE:-off} suite.py $*"
    DERMALAB_COMPILE=${COMPILE:-off} timeout "$step_seconds" "$python" tests/bench/suite.py --data "$data" \
        --device "${DEVICE:-cuda}" "$@" ${EXTRA:-} || echo "(step ended with exit code $?)"
}
against_cpu=(${baseline:+--baseline "$baseline"})
scratch=$(mktemp -d)

# The page once, one run at a time and 8 at once on the card; then 25 x 3 seeds. 23-24 have no ImageNet weights.
step --ids 1-25 --no-pretrained --per-gpu 1 "${against_cpu[@]}"
step --ids 1-25 --no-pretrained --per-gpu 8 "${against_cpu[@]}"
step --ids 1-25 --seeds 3 --no-pretrained --per-gpu 8 "${against_cpu[@]}"
# bf16 (the CUDA default) beside fp32 on the GPU itself, for 23-25, whose full CPU runs take too long.
step --ids 23-25 --seeds 3 --no-pretrained --per-gpu 8 --precision fp32 --home "$scratch/fp32"
step --ids 23-25 --seeds 3 --no-pretrained --per-gpu 8 --precision bf16 \
    --baseline "$scratch/fp32/runs.sqlite" --baseline-device cuda
# Whether compiling pays for itself on a 5-epoch run, compile time counted: eager, compiled, compiled with graphs.
for mode in off default reduce-overhead; do
    COMPILE=$mode step --ids "8 13 21" --epochs 5 --per-gpu 3
done
rm -rf "$scratch"
