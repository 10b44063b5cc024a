#!/usr/bin/env bash
# Build the benchmarks' peer virtual environments, .peers/<name>, from the pinned requirement
# files benchmarks/peers/<name>.txt (one per peer; called by `make peers`, and so by `make bench`).
#
#   bash scripts/peers.sh              # every peer
#   bash scripts/peers.sh heatgeo dse  # only these
#
# Each file is a complete lock (every distribution of the venv, with its version) and is installed
# with `pip install --no-deps`, so nothing is resolved at build time and a rebuild gives the same
# venv. Its `# check:` line is Python that must run in the finished venv (the import the benchmark
# needs). A stamp (.peers/<name>/.peers-stamp: hash of the pin file and the Python version) makes
# the build idempotent: an up-to-date venv is left alone; a changed pin file rebuilds it from
# scratch. A peer that cannot be built is skipped with its reason (log: .peers/<name>.log) and
# its venv removed, so the benchmarks say "peer not installed" and still run ours; the script
# then exits 0 (set PEERS_STRICT=1 to fail instead).
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
DIR=${PEERS_DIR:-.peers}
mkdir -p "$DIR"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || {
    echo "peers: no usable Python ($PYTHON)" >&2
    exit 1
}

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in benchmarks/peers/*.txt; do names+=("$(basename "$f" .txt)"); done
fi

failed=()
for name in "${names[@]}"; do
    pins=benchmarks/peers/$name.txt
    venv=$DIR/$name
    log=$DIR/$name.log
    if [ ! -f "$pins" ]; then
        echo "peers: $name: no pin file $pins" >&2
        failed+=("$name")
        continue
    fi
    want="$(sha256sum "$pins" | cut -d' ' -f1) python-$pyver"
    if [ -f "$venv/.peers-stamp" ] && [ "$(cat "$venv/.peers-stamp")" = "$want" ]; then
        echo "peers: $name up to date ($venv)"
        continue
    fi
    check=$(sed -n 's/^# check: //p' "$pins")
    echo "peers: building $name in $venv from $pins (log: $log) ..."
    start=$(date +%s)
    rm -rf "$venv"
    if "$PYTHON" -m venv "$venv" >"$log" 2>&1 &&
        "$venv/bin/python" -m pip install --no-deps --no-input --progress-bar off \
            -r "$pins" >>"$log" 2>&1 &&
        { "$venv/bin/python" -m pip check >>"$log" 2>&1 ||
            echo "peers: note: $name: pip check reports unmet declared requirements (see $log)"; } &&
        { [ -z "$check" ] || "$venv/bin/python" -c "$check" >>"$log" 2>&1; }; then
        echo "$want" >"$venv/.peers-stamp"
        echo "peers: $name ready in $(($(date +%s) - start)) s"
    else
        reason=$(grep -E 'ERROR|Error|error' "$log" | tail -n 1)
        echo "peers: SKIP $name: could not be built (${reason:-see $log}); full log: $log" >&2
        rm -rf "$venv"
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "peers: not built: ${failed[*]} (their benchmark cases print anchor=nan or use a direct anchor)" >&2
    [ "${PEERS_STRICT:-0}" = 1 ] && exit 1
fi
exit 0
