#!/usr/bin/env bash
# GPU check of repgeo on a machine that has torch and a CUDA device but no network and no faiss:
#
#   bash scripts/device-check.sh [WHEEL_OR_DIR ...]
#
# 1. installs the wheels given (arguments, else $FAISS_WHEEL, else the folder .whl/ if present;
#    each a .whl file or a folder of them: faiss-cpu, plus anything else missing there) into a
#    private folder put on PYTHONPATH, offline (pip --no-index --no-deps);
# 2. runs the CUDA tests: `pytest -m cuda` over the test files that mention CUDA (the `device`
#    fixture of tests/conftest.py and every test named *cuda*);
# 3. runs every benchmarks/*.py with `--device cuda --quick`;
# and prints the BENCH lines together at the end. The whole run keeps to a budget of
# $DEVICE_CHECK_BUDGET seconds (default 480 = 8 minutes): each step gets a share of what is left
# and is stopped at its limit (the summary says so). Exit status: 0 when the tests passed and no
# step failed or ran out of time.
#
# Getting the faiss wheel onto such a machine (where pip works, in the repository root):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl faiss-cpu==1.15.1
# then carry .whl with the working tree and run `bash scripts/device-check.sh` there.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUDGET=${DEVICE_CHECK_BUDGET:-480}
LOG=${DEVICE_CHECK_LOG:-${OUT:-/tmp}/device-check.log}
SITE=${DEVICE_CHECK_SITE:-/tmp/repgeo-device-site}
start=$(date +%s)
: >"$LOG"
status=0
summary=()

left() { echo $((BUDGET - ($(date +%s) - start))); }
say() { echo "$*" | tee -a "$LOG"; }

# run_step NAME SHARE CMD...: run CMD with a time limit of SHARE seconds (at most what is left)
run_step() {
    local name=$1 share=$2 rem rc t0
    shift 2
    rem=$(left)
    if [ "$rem" -le 5 ]; then
        say "== $name: not run (budget of ${BUDGET} s spent)"
        summary+=("$name: NOT RUN (budget spent)")
        status=1
        return
    fi
    [ "$share" -gt "$rem" ] && share=$rem
    say "== $name (limit ${share} s, $rem s left of ${BUDGET} s)"
    t0=$(date +%s)
    timeout -k 10 "$share" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        summary+=("$name: TIMED OUT after ${share} s")
        status=1
    elif [ "$rc" -ne 0 ]; then
        summary+=("$name: FAILED (exit $rc) in $(($(date +%s) - t0)) s")
        status=1
    else
        summary+=("$name: ok in $(($(date +%s) - t0)) s")
    fi
}

# ---------------------------------------------------------------- 1. wheels (offline)
wheels=()
if [ $# -gt 0 ]; then
    sources=("$@")
elif [ -n "${FAISS_WHEEL:-}" ]; then
    sources=("$FAISS_WHEEL")
elif [ -d .whl ]; then
    sources=(.whl)
else
    sources=()
fi
for s in "${sources[@]}"; do
    if [ -d "$s" ]; then
        for w in "$s"/*.whl; do [ -f "$w" ] && wheels+=("$w"); done
    elif [ -f "$s" ]; then
        wheels+=("$s")
    else
        say "device-check: no wheel or folder at $s"
        status=1
    fi
done
if [ ${#wheels[@]} -gt 0 ]; then
    say "== installing ${#wheels[@]} wheel(s) offline into $SITE: ${wheels[*]}"
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" 2>&1 | tee -a "$LOG"; then
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    else
        say "device-check: wheel install failed"
        status=1
    fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export REPGEO_PROGRESS=0 PYTHONUNBUFFERED=1

"$PY" - <<'PY' 2>&1 | tee -a "$LOG"
import importlib.util, sys
import torch
print(f"# python {sys.version.split()[0]}, torch {torch.__version__}, "
      f"CUDA available: {torch.cuda.is_available()}"
      + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
faiss = importlib.util.find_spec("faiss")
print("# faiss:", "importable" if faiss else "MISSING (knn's faiss backend and the latent benchmark need it)")
if not torch.cuda.is_available():
    print("# WARNING: no CUDA device: the CUDA tests skip and the benchmarks print 'skipped'")
PY

# ---------------------------------------------------------------- 2. CUDA tests
mapfile -t test_files < <(grep -l -i cuda tests/test_*.py)
run_step "pytest -m cuda" 150 "$PY" -m pytest -q -p no:cacheprovider -m cuda "${test_files[@]}"

# ---------------------------------------------------------------- 3. benchmarks
benches=(benchmarks/[!_]*.py)
n=${#benches[@]}
for b in "${benches[@]}"; do
    rem=$(left)
    share=$((rem / n))
    [ "$share" -lt 60 ] && share=60 # a fair share of what is left, at least a minute
    run_step "$b --device cuda --quick" "$share" "$PY" "$b" --device cuda --quick
    n=$((n - 1))
done

# ---------------------------------------------------------------- summary
say ""
say "== BENCH lines"
grep -E '^BENCH ' "$LOG" || say "(none)"
say ""
say "== steps ($(($(date +%s) - start)) s of a ${BUDGET} s budget; full log: $LOG)"
for line in "${summary[@]}"; do say "  $line"; done
exit $status
