#!/usr/bin/env bash
# tools/train_burst.sh — one GPU burst (≤ 9 minutes on an H100/H200): train or continue rac-small on
# ../shared/data/train and leave the weights and a log in $OUT.
#
#   tools/train_burst.sh [--resume RUN_DIR] [OUT_DIR]     on a machine with a CUDA GPU
#   tools/train_burst.sh --cpu-smoke [OUT_DIR]            the same steps on the CPU in about one minute
#                                                         (small batches and crops; proves the script)
#
# OUT_DIR defaults to $OUT (the device runner's result folder) or ./burst. It receives
#   run/            the run folder (stage checkpoints stage0/1/2.pt + their .jsonl logs): carry it to the
#                   next burst with --resume, the stages continue where they stopped (minutes add up)
#   weights/        rac-small-burst.pt + .json, exported in weights format 2 (float16 storage)
#   burst.log       every command's output;  summary.txt  the final loss of each stage, parameters,
#                   bytes and wall times
# The cached latents (run/latents.pt) are deleted at the end: they are rebuilt from stage 0 in seconds.
#
# Stages and budget (BUDGET_S, default 510 s of training inside the 9 minutes; the rest is start-up,
# torch.compile and export): stage 0 autoencoder 55 %, stage 1 denoiser 20 %, stage 2 hyperprior with
# the checkerboard context 25 %, each a `python -m rac_video.codec.train` command with --device cuda,
# bf16 autocast (the default on CUDA), channels-last (the default on CUDA), --compile and large batches.
# ARCH (default rac-small) picks the architecture of a new run (rac_video.codec.weights.ARCHITECTURES);
# DATA (default ../shared/data/train, else shared/data/train) the images.
set -uo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
RESUME=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu-smoke) SMOKE=1; shift ;;
        --resume) RESUME="${2:?--resume needs a run folder}"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "error: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
OUT_DIR="${1:-${OUT:-./burst}}"
ARCH="${ARCH:-rac-small}"
DATA="${DATA:-}"
if [ -z "$DATA" ]; then
    for d in ../shared/data/train shared/data/train; do [ -d "$d" ] && DATA="$d" && break; done
fi
if [ -z "$DATA" ] || [ ! -d "$DATA" ]; then
    echo "error: no training images (set DATA=folder; looked in ../shared/data/train, shared/data/train)" >&2
    exit 2
fi
PY="${PYTHON:-python}"
if ! "$PY" -c "import torch, numpy, PIL" 2>/dev/null; then
    echo "error: $PY lacks torch, numpy or Pillow (the trainer reads PNG/JPEG with Pillow)" >&2
    exit 2
fi
if [ "$SMOKE" = 0 ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: no CUDA GPU visible to torch (use --cpu-smoke to run the steps on the CPU)" >&2
    exit 2
fi

mkdir -p "$OUT_DIR"
RUN="$OUT_DIR/run"
LOG="$OUT_DIR/burst.log"
SUMMARY="$OUT_DIR/summary.txt"
if [ -n "$RESUME" ]; then
    [ -d "$RESUME" ] || { echo "error: --resume folder $RESUME does not exist" >&2; exit 2; }
    if [ "$(cd "$RESUME" && pwd)" != "$(mkdir -p "$RUN" && cd "$RUN" && pwd)" ]; then cp -r "$RESUME"/. "$RUN"/; fi
fi
mkdir -p "$RUN"
: > "$LOG"

if [ "$SMOKE" = 1 ]; then
    BUDGET_S="${BUDGET_S:-30}"
    COMMON=(--device cpu --no-bf16 --threads "${THREADS:-2}" --ckpt-every 20 --data-limit 24)
    B0=(--batch 4 --crop 64); B1=(--batch 16 --cache-crops 200); B2=(--batch 16 --cache-crops 200)
else
    BUDGET_S="${BUDGET_S:-510}"
    COMMON=(--device cuda --compile --ckpt-every 60)
    B0=(--batch 32 --crop 256); B1=(--batch 256 --cache-crops 20000); B2=(--batch 256 --cache-crops 20000)
fi
# --minutes is a stage's total over resumes: a resumed run gets this burst's share on top (one python start)
read -r TOTAL0 TOTAL1 TOTAL2 < <("$PY" - "$RUN" "$BUDGET_S" <<'EOF'
import os, sys
run, budget = sys.argv[1], float(sys.argv[2])
def spent(s):
    p = os.path.join(run, f"stage{s}.pt")
    if not os.path.exists(p):
        return 0.0
    import torch
    return torch.load(p, map_location="cpu", weights_only=False)["extra"].get("seconds", 0) / 60
print(*(round(spent(s) + budget * share / 60, 3) for s, share in ((0, 0.55), (1, 0.20), (2, 0.25))))
EOF
)
ARCH_ARG=()
[ -e "$RUN/stage0.pt" ] || ARCH_ARG=(--arch "$ARCH")

T0=$(date +%s)
status=0
step() {     # name, command...
    local name="$1"; shift
    local t=$(date +%s)
    echo "== $name: $*" >> "$LOG"
    "$@" >> "$LOG" 2>&1
    local rc=$?
    echo "$name rc=$rc seconds=$(( $(date +%s) - t ))" >> "$SUMMARY.tmp"
    [ $rc = 0 ] || status=1
    return $rc
}
: > "$SUMMARY.tmp"
{
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
} >> "$LOG" 2>&1
step stage0 "$PY" -m rac_video.codec.train --stage 0 --run "$RUN" --data "$DATA" --minutes "$TOTAL0" \
    "${ARCH_ARG[@]}" "${B0[@]}" "${COMMON[@]}" &&
step stage1 "$PY" -m rac_video.codec.train --stage 1 --run "$RUN" --data "$DATA" --minutes "$TOTAL1" \
    "${B1[@]}" "${COMMON[@]}" &&
step stage2 "$PY" -m rac_video.codec.train --stage 2 --run "$RUN" --data "$DATA" --minutes "$TOTAL2" --context \
    "${B2[@]}" "${COMMON[@]}" &&
step export "$PY" -m rac_video.codec.train --run "$RUN" --export "$OUT_DIR/weights" --name "${NAME:-rac-small-burst}" --half
rm -f "$RUN/latents.pt"

{
    echo "train_burst: $([ "$SMOKE" = 1 ] && echo cpu-smoke || echo gpu) arch=$ARCH data=$DATA wall_s=$(( $(date +%s) - T0 ))"
    cat "$SUMMARY.tmp"
    "$PY" - "$RUN" "$OUT_DIR/weights/${NAME:-rac-small-burst}.json" <<'EOF'
import json, sys
from pathlib import Path
run, rec = Path(sys.argv[1]), Path(sys.argv[2])
for s in ("0", "1", "2"):
    log = run / f"stage{s}.jsonl"
    if log.exists():
        lines = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
        first, last = lines[0], lines[-1]
        keep = lambda d: {k: round(v, 5) if isinstance(v, float) else v for k, v in d.items() if k != "time"}
        print(f"stage{s}: first {keep(first)}  last {keep(last)}")
if rec.exists():
    r = json.loads(rec.read_text())
    print(f"weights: {rec.with_suffix('.pt').name} parameters={r['parameters']} bytes={r['bytes']} "
          f"format={r.get('weights_format', 1)} sha256={r['sha256'][:16]}")
EOF
} > "$SUMMARY" 2>&1
rm -f "$SUMMARY.tmp"
cat "$SUMMARY"
exit $status
