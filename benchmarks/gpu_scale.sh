#!/usr/bin/env bash
# Real-size figures on one CUDA machine in at most 8 minutes (benchmarks/gpu_scale.py says what each part measures):
# bf16 training throughput of GrowCLIPModel, transformers' CLIPModel and open_clip at ViT-B/32, 224 px, batch 256
# (ratio of medians of interleaved rounds), growth error under bf16, and a 2-stage auto run fed by the loader.
#
#   benchmarks/gpu_scale.sh OUT_DIR [--tiny] [more gpu_scale.py options]
#
# Needs a Python with a CUDA torch, transformers, accelerate, datasets and torchdata (PYTHON, default python3); this
# checkout's src/ is put on the path. open_clip is measured when it imports. OUT_DIR receives results.json (written
# after each part, so a timeout keeps what finished), the stream and the run. --tiny: the CPU, a tiny model, seconds.
set -euo pipefail
out=${1:?usage: benchmarks/gpu_scale.sh OUT_DIR [--tiny] [options]}
shift
python=${PYTHON:-python3}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False TOKENIZERS_PARALLELISM=false
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
mkdir -p "$out"
timeout "${GPU_SCALE_SECONDS:-480}" "$python" benchmarks/gpu_scale.py --out "$out" "$@" 2>&1 | tee "$out/gpu_scale.log"
