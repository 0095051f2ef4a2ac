#!/usr/bin/env bash
# The GPU check, prepared to run unattended on a bare GPU machine (torch preinstalled at
# python3, no network) in about 14 minutes (time limits per step: 180 + 120 + 240 + 2 x 300 s):
#   1. the unit tests on CUDA (tests/test_cuda.py must pass, not skip; then the rest),
#   2. the benchmark at the quick and full sizes, fp32 and bf16 (samples/s, achieved TFLOP/s,
#      the fraction of the bf16 peak you pass, the ratio to the nn.TransformerEncoder twin),
#   3. the cohort benchmark: E = 1 to 256 runs at the quick size, 1 to 16 at full (per-run
#      speed-up against separate models, TFLOP/s, fraction of the bf16 peak), and with
#      torch.compile at the largest E,
#   4. two whole chapters in the full profile through nbmake (their cells print the expected
#      time of the cost model beside the real one),
# and writes report.md (plus each step's log and bench.json) into the output folder.
#
#   tools/gpu_wheels.sh                      # here, once: the wheels the machine lacks -> .whl/
#   tools/gpu_check.sh [--out DIR] [--wheels DIR] [--peak-tflops 790] [--chapter 01_leaky]
#                      [--steps tests,bench,chapter] [--allow-cpu] [--dry-run]
#
# --out defaults to $OUT when set (the device tool), else _build/gpu_check. --dry-run prints
# the plan and checks the arguments and wheels without running anything. Without CUDA the
# check stops unless --allow-cpu (to try the script itself on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3}
OUTDIR=${OUT:-_build/gpu_check}
WHEELS=.whl
PEAK_TFLOPS=790          # bf16 dense matmul measured on an H200 (research notes, section 8)
CHAPTER=01_leaky
CHAPTERS="02_algebra 03_fixed"   # whole chapters at full: the cohort engine's path on a GPU
STEPS=tests,bench,cohort,chapter,chapters
DRY=0
ALLOW_CPU=0
BENCH_ARGS=""
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUTDIR=$2; shift 2 ;;
    --wheels) WHEELS=$2; shift 2 ;;
    --peak-tflops) PEAK_TFLOPS=$2; shift 2 ;;
    --chapter) CHAPTER=$2; shift 2 ;;
    --chapters) CHAPTERS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --bench-args) BENCH_ARGS=$2; shift 2 ;;
    --allow-cpu) ALLOW_CPU=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PEAK_TFLOPS" in ''|*[!0-9.]*) echo "--peak-tflops must be a number of TFLOP/s; got '$PEAK_TFLOPS'" >&2; exit 2 ;; esac
for s in ${STEPS//,/ }; do
  case "$s" in tests|bench|cohort|chapter|chapters) ;; *) echo "--steps takes tests,bench,cohort,chapter,chapters; got '$s'" >&2; exit 2 ;; esac
done
[ -f "book/$CHAPTER.ipynb" ] || { echo "no chapter book/$CHAPTER.ipynb" >&2; exit 2; }
has() { [[ ",$STEPS," == *",$1,"* ]]; }

SITE=/tmp/resmix-gpu-site
PLAN=()
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  PLAN+=("install: $PY -m pip install -q --no-index --no-deps --no-compile --target $SITE $WHEELS/*.whl ($(ls "$WHEELS"/*.whl | wc -l) wheels)")
else
  PLAN+=("install: no wheels in $WHEELS (soundfile, nbmake, ... must already be importable)")
fi
has tests && PLAN+=("tests: $PY -m pytest tests/test_cuda.py, then tests/ --ignore=tests/browser --ignore=tests/test_book.py --ignore=tests/test_install_cell.py --ignore=tests/test_release.py --ignore=tests/test_release_book.py")
has bench && PLAN+=("bench: $PY benchmarks/bench_train.py --profiles quick full --precision fp32 bf16 --peak-tflops $PEAK_TFLOPS $BENCH_ARGS")
has cohort && PLAN+=("cohort: $PY benchmarks/bench_cohort.py --peak-tflops $PEAK_TFLOPS --compile")
has chapter && PLAN+=("chapter: RESMIX_PROFILE=full $PY -m pytest --nbmake --nbmake-timeout=200 book/$CHAPTER.ipynb")
has chapters && PLAN+=("chapters: RESMIX_PROFILE=full $PY -m pytest --nbmake --nbmake-timeout=280 --durations=0 $(for c in $CHAPTERS; do printf 'book/%s.ipynb ' "$c"; done)")
PLAN+=("report: $OUTDIR/report.md")
if [ "$DRY" = 1 ]; then
  printf '%s\n' "${PLAN[@]}"
  exit 0
fi

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
START=$(date +%s)
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl \
    || { echo "installing the wheels failed" >&2; exit 1; }
  export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi
export PY PYTHONUNBUFFERED=1 MPLBACKEND=Agg
"$PY" - > "$OUTDIR/env.txt" 2>&1 <<'EOF'
import json, torch
from resmix.config import resolve_device
from resmix.training.history import provenance
print(json.dumps(provenance(resolve_device("auto")) | {"cuda_available": torch.cuda.is_available(),
      "bf16_supported": torch.cuda.is_available() and torch.cuda.is_bf16_supported()}, indent=1))
EOF
cat "$OUTDIR/env.txt"
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  if [ "$ALLOW_CPU" = 1 ]; then echo "no CUDA device: running on CPU (--allow-cpu)"; else
    echo "no CUDA device: this is the GPU check (--allow-cpu to try it on a CPU)" >&2; exit 1; fi
fi

STATUS=()
step() {  # step NAME LIMIT_S COMMAND...: run with a time limit, log to NAME.log, record status and seconds
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s) rc
  echo "== $name: $*"
  if [ "$(type -t "$1")" = function ]; then  # timeout runs programs: hand it the function's text
    timeout "$limit" bash -c "$(declare -f "$1"); $*" > "$OUTDIR/$name.log" 2>&1; rc=$?
  else
    timeout "$limit" "$@" > "$OUTDIR/$name.log" 2>&1; rc=$?
  fi
  tail -n 5 "$OUTDIR/$name.log"
  STATUS+=("$name=$rc:$(( $(date +%s) - t0 ))")
}
run_tests() {  # the CUDA tests first (on a GPU they must pass, not skip), then the rest of the unit tests
  "$PY" -m pytest -p no:cacheprovider -q -rs tests/test_cuda.py || return
  "$PY" -m pytest -p no:cacheprovider -q -rs tests/ --ignore=tests/browser --ignore=tests/test_cuda.py \
    --ignore=tests/test_book.py --ignore=tests/test_install_cell.py --ignore=tests/test_release.py \
    --ignore=tests/test_release_book.py
}
if has tests; then
  step tests 180 run_tests
fi
if has bench; then
  step bench 120 "$PY" benchmarks/bench_train.py --profiles quick full --precision fp32 bf16 \
    --peak-tflops "$PEAK_TFLOPS" --json "$OUTDIR/bench.json" $BENCH_ARGS
fi
if has cohort; then
  step cohort 240 "$PY" benchmarks/bench_cohort.py --peak-tflops "$PEAK_TFLOPS" --compile --json "$OUTDIR/cohort.json"
fi
if has chapter; then
  step chapter 210 env RESMIX_PROFILE=full "$PY" -m pytest -p no:cacheprovider -q --nbmake \
    --nbmake-timeout=200 "book/$CHAPTER.ipynb"
fi
if has chapters; then
  step chapters 600 env RESMIX_PROFILE=full "$PY" -m pytest -p no:cacheprovider -q --nbmake \
    --nbmake-timeout=280 --durations=0 $(for c in $CHAPTERS; do printf 'book/%s.ipynb ' "$c"; done)
fi
"$PY" tools/gpu_report.py "$OUTDIR" --chapter "$CHAPTER" --seconds $(( $(date +%s) - START )) "${STATUS[@]}" || exit 1
cat "$OUTDIR/report.md"
for s in "${STATUS[@]}"; do [ "${s#*=}" = "0:${s##*:}" ] || exit 1; done
