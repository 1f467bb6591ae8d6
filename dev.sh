#!/usr/bin/env bash
# Set up imagen-nb in ./.venv and run something with it.
#   ./dev.sh demo      set up, then run an order on the offline tiny model (the main job)
#   ./dev.sh test      set up with the test tools, then run the whole test suite
#   ./dev.sh serve     set up, then serve the panels as a web app on http://127.0.0.1:5006/
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

# The browser tests drive Debian's Chromium (playwright cannot download browsers here).
ensure_chromium() {
    if [ -x "${IMAGEN_NB_CHROMIUM:-/usr/bin/chromium}" ]; then
        return
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        sudo="sudo -n"
    fi
    if command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium for the browser tests (apt-get)" >&2
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    else
        echo "no apt-get: install Chromium and set IMAGEN_NB_CHROMIUM=/path/to/chromium" >&2
    fi
}

command="${1:-demo}"
shift || true
case "$command" in
    demo)
        setup local
        exec .venv/bin/imagen-nb demo "$@"
        ;;
    serve)
        setup "local,panel"
        exec .venv/bin/imagen-nb serve "$@"
        ;;
    test)
        setup dev
        ensure_chromium
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
        echo "usage: ./dev.sh demo | test [pytest args] | serve [options] | bench" >&2
        exit 2
        ;;
esac
