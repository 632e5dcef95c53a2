#!/usr/bin/env bash
# tools/gpu_check.sh — check a GPU machine end to end with one command and leave the logs.
#
#   tools/gpu_check.sh [OUT_DIR]             on a machine with an NVIDIA GPU (about 5 min on an H200,
#                                            capped at 8: every step gets a share of RAC_GPU_CHECK_BUDGET_S=470)
#   tools/gpu_check.sh --dry-run [OUT_DIR]   without a GPU: runs every step that can run on the CPU
#                                            (the CUDA build included where nvcc exists) and says what it skipped
#
# OUT_DIR defaults to $OUT (the device runner's result folder) or ./gpu-check. It receives
#   logs/NN-<step>.log                every step's full output
#   benchmarks/kernels-gpu.json       rac-video bench kernels --devices cuda at a 1080p and a 4K latent
#                                     (1x16x135x240 and 4x16x270x480)
#   benchmarks/cross-device-gpu.json  CUDA<->CPU decoding of every file (tools/cross_device.py) and the
#                                     codec's encode / decode milliseconds at 1920x1080 on the GPU
#   benchmarks/stream-gpu.json        rac-video stream bench with the codec on the GPU at 1920x1080
#   summary.txt                       one line per step, the pytest tally, the bandwidth ratios
# (in --dry-run the JSON files are *-cpu-dryrun.json). Copy the benchmarks you want to keep into the
# repository's benchmarks/ and commit them.
#
# Steps: 1 versions (nvidia-smi, rac_video.info); 2 build the extension with its CUDA module,
#   RAC_VIDEO_CUDA=1 RAC_VIDEO_CUDA_ARCHS=<compute capability from nvidia-smi> \
#   pip install --no-deps --no-build-isolation -e .
# (the GPU machines have torch, Triton, pybind11 and no network: nothing is downloaded; PyAV and decord
# are not needed — tests that need them skip); 3 the CUDA backend must load and see the GPU; 4 every test
# file with GPU cases (those parametrised by tests/backends.py or naming cuda); 5 the kernel benchmark;
# 6 the cross-device decode check and 1080p codec speed (tools/bench_pipeline.py cannot do 1080p: it reads
# the shared clips through PyAV, which the GPU machines lack; IMAGES=<folder> gives the check real
# photos, default: ../shared/data/eval/kodak when present, else synthetic images); 7 streaming at 1080p
# with the codec on the GPU (rac-video stream bench --device cuda, a synthetic source).
#
# Driver older than the CUDA runtime: rac_video._C_cuda links the CUDA runtime of the nvcc that built it
# statically (CUDA 13 needs driver >= 580). With an older driver the module still imports, but every CUDA
# call returns cudaErrorInsufficientDriver: the dispatcher marks the `cuda` backend unavailable ("CUDA
# module loaded but sees no GPU (...driver version is insufficient...)") and ops fall back to Triton /
# torch, so the cuda test cases would *skip*, not fail. Step 3 turns that into a failure with the
# reason; build with a toolkit the driver supports (CUDA_HOME=/usr/local/cuda-12.x) or update the driver.
# torch's own CUDA build has the same constraint: if torch.cuda.is_available() is false the check stops.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
if [ "${1:-}" = "--dry-run" ] || [ "${1:-}" = "--cpu" ]; then DRY=1; shift; fi
OUT_DIR=${1:-${OUT:-gpu-check}}
mkdir -p "$OUT_DIR/logs" "$OUT_DIR/benchmarks"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
PY=${PYTHON:-python}
BUDGET=${RAC_GPU_CHECK_BUDGET_S:-$([ $DRY = 1 ] && echo 1800 || echo 470)}   # dry run: a slow CPU machine
START=$(date +%s)
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
FAILED=0
N=0
TAG=$([ $DRY = 1 ] && echo cpu-dryrun || echo gpu)

say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME CAP_S CMD...: run CMD with a timeout of min(CAP_S, what is left of the budget), log it, record it
step() {
  local name=$1 cap=$2; shift 2
  N=$((N + 1))
  local log; log=$(printf "%s/logs/%02d-%s.log" "$OUT_DIR" "$N" "$name")
  local left=$((BUDGET - ($(date +%s) - START)))
  local limit=$(( cap < left ? cap : left ))
  if [ "$limit" -lt 5 ]; then
    say "$(printf '%-14s SKIPPED  (time budget of %ss spent)' "$name" "$BUDGET")"
    FAILED=1
    return 1
  fi
  local t0; t0=$(date +%s)
  echo "== [$name] $* (limit ${limit}s)" | tee "$log"
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  tail -n 4 "$log" | sed 's/^/    /'
  if [ $rc -eq 0 ]; then
    say "$(printf '%-14s ok       %4ss  %s' "$name" "$dt" "$log")"
  else
    [ $rc -eq 124 ] && rc="$rc (timeout)"
    say "$(printf '%-14s FAILED   %4ss  exit %s  %s' "$name" "$dt" "$rc" "$log")"
    FAILED=1
  fi
}

say "rac_video gpu_check ($TAG) $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# ------------------------------------------------------------------ 1 versions
if command -v nvidia-smi >/dev/null; then
  step nvidia-smi 30 nvidia-smi
  ARCHS=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d ' .' | sort -u | paste -sd';')
fi
if [ -z "${ARCHS:-}" ]; then
  [ $DRY = 1 ] || { say "no GPU: nvidia-smi is missing or lists no GPU (use --dry-run on a CPU machine)"; exit 2; }
  ARCHS=90   # dry run: build for an H100/H200
  say "dry run: no nvidia-smi here; building for sm_$ARCHS"
fi
step versions 60 "$PY" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); import triton; print('triton', triton.__version__)"

# ------------------------------------------------------------------ 2 build
if [ "${RAC_GPU_CHECK_SKIP_BUILD:-0}" = 1 ]; then
  say "build          skipped (RAC_GPU_CHECK_SKIP_BUILD=1: using the installed extension)"
else
  if ! "$PY" -c "import pybind11, setuptools" 2>/dev/null; then
    say "build needs pybind11 and setuptools in this Python (no build isolation, no network): pip install pybind11"
  fi
  step build 300 env RAC_VIDEO_CUDA=1 RAC_VIDEO_CUDA_ARCHS="$ARCHS" "$PY" -m pip install --no-deps --no-build-isolation -e .
fi
step info 60 "$PY" -m rac_video.info

# ------------------------------------------------------------------ 3 the CUDA backend loads and sees the GPU
CUDA_PROBE='
import sys, torch
from rac_video import _native
mod, why = _native.cuda_runtime()
print("torch.cuda.is_available():", torch.cuda.is_available())
print("rac_video._C_cuda:", "available" if mod else why)
if mod:
    print("archs", mod.archs, "cudart", mod.runtime_version)
ok = mod is not None and torch.cuda.is_available()
print("cuda backend", "ok" if ok else "UNAVAILABLE: the cuda test cases would skip, not run")
sys.exit(0 if ok or sys.argv[1] == "dry" else 3)
'
step cuda-backend 60 "$PY" -c "$CUDA_PROBE" "$([ $DRY = 1 ] && echo dry || echo gpu)"
[ $DRY = 1 ] && say "               (dry run: no GPU expected; on a GPU machine an unavailable backend fails this step)"

# ------------------------------------------------------------------ 4 every test with GPU cases
mapfile -t GPU_TESTS < <(grep -lE "from backends import|cuda" tests/test_*.py | sort)
say "GPU test files: ${GPU_TESTS[*]}"
step gpu-tests 200 "$PY" -m pytest -q -ra -p no:cacheprovider "${GPU_TESTS[@]}"
PYTEST_TALLY=$(grep -E "^[0-9]+ (passed|failed)|[0-9]+ passed|[0-9]+ failed" "$OUT_DIR"/logs/*-gpu-tests.log | tail -1)
say "pytest: ${PYTEST_TALLY:-no tally (see the log)}"

# ------------------------------------------------------------------ 5 kernel benchmark
if [ $DRY = 1 ]; then
  step bench-kernels 120 "$PY" tools/bench_kernels.py --devices cpu --sizes 1x16x68x120 --repeats 1 --min-time 0.01 \
    --copy-mib 32 --out "$OUT_DIR/benchmarks/kernels-$TAG.json"
else
  step bench-kernels 150 "$PY" tools/bench_kernels.py --devices cuda --repeats 3 \
    --sizes 1x16x135x240,4x16x270x480 --out "$OUT_DIR/benchmarks/kernels-$TAG.json"
fi

# ------------------------------------------------------------------ 6 cross-device decoding + 1080p codec speed
IMG_ARGS=()
[ -n "${IMAGES:-}" ] && IMG_ARGS=(--images "$IMAGES")
if [ $DRY = 1 ]; then
  # no GPU: oneDNN vs torch's own CPU convolutions are two arithmetic classes on one machine
  step cross-device 150 "$PY" tools/cross_device.py --a cpu --b cpu-native --count 2 --qualities 0,8,15 --crop 256 \
    --speed 320x240 --speed-repeats 2 "${IMG_ARGS[@]}" --out "$OUT_DIR/benchmarks/cross-device-$TAG.json"
else
  step cross-device 200 "$PY" tools/cross_device.py --a cuda --b cpu --count 4 --qualities 0,4,8,12,15 \
    --speed 1920x1080 "${IMG_ARGS[@]}" --out "$OUT_DIR/benchmarks/cross-device-$TAG.json"
fi

# ------------------------------------------------------------------ 7 streaming with the codec on the device
# the real codec end to end (server and client in one process, synthetic source: no PyAV needed), every
# frame coded (--every-frame), encoder and decoder networks on the GPU; pinned transfers, the decoder's
# entropy half on its own stream (rac_video.codec.transfer)
if [ $DRY = 1 ]; then
  step stream 120 "$PY" -m rac_video.cli stream bench --inprocess --device cpu --size 416x240 --frames 20 \
    --every-frame --run none --report "$OUT_DIR/benchmarks/stream-$TAG.json"
else
  step stream 90 "$PY" -m rac_video.cli stream bench --inprocess --device cuda --size 1920x1080 --frames 150 \
    --every-frame --run none --report "$OUT_DIR/benchmarks/stream-$TAG.json"
fi

# ------------------------------------------------------------------ summary of the numbers the targets name
"$PY" - "$OUT_DIR" "$TAG" <<'EOF' | tee -a "$SUMMARY"
import json, os, sys
out, tag = sys.argv[1], sys.argv[2]
k = os.path.join(out, "benchmarks", f"kernels-{tag}.json")
if os.path.exists(k):
    from rac_video.bench.kernels import summarise, summary_lines
    r = json.load(open(k))
    for dev, bw in r["copy_bandwidth"].items():
        if isinstance(bw, dict):
            print(f"{dev} large copy {bw['bytes_per_s'] / 1e9:.1f} GB/s")
    summary = r.get("summary") or summarise(r)
    print("\n".join(summary_lines(summary)))
    for dev, e in summary.items():
        if "min_of_copy_bandwidth" in e:
            m = e["min_of_copy_bandwidth"]
            print(f"[{dev}] target >= 85% of copy for every kernel: {'met' if m >= 0.85 else 'missed'} (lowest {m:.1%})")
x = os.path.join(out, "benchmarks", f"cross-device-{tag}.json")
if os.path.exists(x):
    r = json.load(open(x))
    print(f"cross-device {r['arith']['a']} <-> {r['arith']['b']}: {r['files']} files, identical bytes "
          f"{r['identical_bytes']}, A-encoded fail on B {r['a_encoded_b_decode_fail']}, B-encoded fail on A "
          f"{r['b_encoded_a_decode_fail']}; visibly different {r['a_encoded_b_decode_visibly_different']} / "
          f"{r['b_encoded_a_decode_visibly_different']}")
    if "speed" in r:
        s = r["speed"]
        print(f"codec on {s['device']} at {s['size']}: encode {s['encode_ms']} ms, decode {s['decode_ms']} ms per frame")
st = os.path.join(out, "benchmarks", f"stream-{tag}.json")
if os.path.exists(st):
    for run in json.load(open(st))["runs"]:
        e2e = run["latency_ms"]["end_to_end"]
        print(f"stream on {run.get('device')}: {run['frames']['displayed']} frames shown, end-to-end median "
              f"{e2e['median']:.1f} ms")
EOF
say "total $(( $(date +%s) - START ))s; $([ $FAILED = 0 ] && echo 'all steps ok' || echo 'some steps FAILED')"
exit $FAILED
