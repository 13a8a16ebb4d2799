#!/usr/bin/env bash
# The growth sweep (benchmarks/growth_efficiency.py, 3 seeds, default scale) on one CUDA machine, from a stream that
# was built elsewhere: the machine needs no Debian packages, only this checkout, the stream and the wheels it lacks.
#
#   benchmarks/gpu_growth_sweep.sh DATA_DIR RESULTS_DIR [WHEEL_DIR] [JOBS] [SECONDS]
#
# DATA_DIR: a built stream (growclip-hf build-data, or the data/ of a run). RESULTS_DIR receives runs.json (the run
# store, written after every run), bench.md (the tables, once every run is done) and sweep.log. WHEEL_DIR, if given,
# holds wheels installed into /tmp/site first (for a machine without an index). The sweep stops after SECONDS
# (default 3600); whatever finished is in runs.json, and a second call with the same RESULTS_DIR goes on from there.
set -euo pipefail
data=$1 results=$2 wheels=${3:-} jobs=${4:-12} seconds=${5:-3600}
if [[ -n $wheels ]]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False
mkdir -p "$results" /tmp/growth-sweep
ln -sfn "$(realpath "$data")" /tmp/growth-sweep/data
python3 -c "import torch, growclip_hf; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
timeout "$seconds" python3 benchmarks/growth_efficiency.py --seeds 0 1 2 --jobs "$jobs" --device cuda --eager-scratch \
    --out /tmp/growth-sweep --store "$results/runs.json" --doc "$results/bench.md" 2>&1 | tee "$results/sweep.log"
