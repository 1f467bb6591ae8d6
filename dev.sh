#!/usr/bin/env bash
# Set up imagen-nb in ./.venv and run something with it.
#   ./dev.sh demo      set up, then run an order on the offline tiny model (the main job)
#   ./dev.sh test      set up with the test tools, then run the whole test suite
#   ./dev.sh bench     set up, then run the CPU benchmarks
# Needs Python 3.11+ and network access to the package registry; nothing else.
set -euo pipefail
cd "$(dirname "$0")"

pick_python() {
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
    echo "imagen-nb needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
}

setup() {
    local extras="$1"
    if [ ! -x .venv/bin/python ]; then
        "$(pick_python)" -m venv .venv
    fi
    # torch first, pinned: an unpinned torch (or one pulled in by diffusers) brings several GB
    # of CUDA packages. On a CUDA machine, install your torch build first and set TORCH_SPEC="".
    local torch_spec="${TORCH_SPEC-torch==2.13.0}"
    if [ -n "$torch_spec" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check "$torch_spec"
    fi
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
}

command="${1:-demo}"
shift || true
case "$command" in
    demo)
        setup local
        exec .venv/bin/imagen-nb demo "$@"
        ;;
    test)
        setup dev
        exec .venv/bin/python -m pytest "$@"
        ;;
    bench)
        setup dev
        for script in benchmarks/*.py; do
            echo "== $script"
            .venv/bin/python "$script"
        done
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | bench" >&2
        exit 2
        ;;
esac
