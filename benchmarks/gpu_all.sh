#!/usr/bin/env bash
# Every pending GPU benchmark in one run on a lent GPU machine, each with its baseline in the same
# run, in under 8 minutes (each step has its own time limit; a step that runs out is reported and
# the next one starts). Logs go to $OUT (the device's output folder) or /tmp/gpu-all.
#
#   here, once:  scripts/gpu_wheels.sh        (.whl/: what the GPU machine lacks, for Python 3.12)
#   there:       bash benchmarks/gpu_all.sh   (device run with carry [".whl"])
#   here, to check it end to end on the tiny models and the CPU (figures mean nothing):
#                GPU_ALL_TINY=1 PYTHON=.venv/bin/python bash benchmarks/gpu_all.sh
#
# Steps (limits in seconds):
#   gpu_throughput (240)  issue 4: SD 1.5 architecture, 54 images at 512×512 — (a) a notebook loop
#                         (the baseline), (b) one studio order, (c) a fresh process per image
#   lora_training  (100)  issue 16: SD 1.5 UNet LoRA rank 16, 512², batch 4, bf16 — imagen-nb's
#                         trainer and diffusers' example step (the baseline): steps/s, peak memory
#   upscale        (80)   issue 17: Real-ESRGAN x4plus and the SD x4 upscaler, 512² → 2048²,
#                         untiled and tiled: seconds and peak memory
#   clip           (30)   issue 15: batched CLIP scoring against CLIPModel in a loop (the baseline)
#   spandrel       (60)   issue 17: tests/providers/test_srnet.py with spandrel importable (that machine has
#                         torchvision): our RRDBNet/SRVGG loader against spandrel's on the tiny ESRGAN
# Not here: issue 14's LocalCUDACluster comparison (dask-cuda has no wheel for that machine).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-all}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "installing the carried wheels failed" >&2; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD"
else
    export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1

step() {  # step NAME LIMIT ARGS…: run one benchmark with a time limit, its output to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name: start $(date -u +%T), limit ${limit}s"
    timeout "$limit" "$PY" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    tail -n 40 "$OUT/$name.log"
    echo "== $name: rc=$rc$([ $rc = 124 ] && echo ' (ran out of time)') end $(date -u +%T)"
}

{ nvidia-smi || true; "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } \
    >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
if [ -n "${GPU_ALL_TINY:-}" ]; then
    export OMP_NUM_THREADS=1
    step gpu_throughput 300 benchmarks/gpu_throughput.py --size tiny --device cpu --only square --fresh 1
    step lora_training 300 benchmarks/lora_training.py --model tiny --ranks 4 --steps 6 --warmup 1 --images 4
    step upscale 300 benchmarks/upscale.py --device cpu --x4-input 32
    step clip 120 benchmarks/clip_throughput.py --device cpu --images 64
    step spandrel 120 -m pytest -q -p no:cacheprovider tests/providers/test_srnet.py
else
    step gpu_throughput 240 benchmarks/gpu_throughput.py --only square --fresh 1
    step lora_training 100 benchmarks/lora_training.py --model sd15 --ranks 16 --resolution 512 --batch 4 \
        --precision bf16 --steps 20 --warmup 3
    step upscale 80 benchmarks/upscale.py --full --device cuda
    step clip 30 benchmarks/clip_throughput.py --device cuda --images 2048 --batch 64
    step spandrel 60 -m pytest -q -p no:cacheprovider tests/providers/test_srnet.py
fi
echo "== all done $(date -u +%T); logs in $OUT"
