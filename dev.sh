#!/usr/bin/env bash
# Set up imagen-nb in ./.venv and run something with it.
#   ./dev.sh demo            set up, then run an order on the offline tiny model (the main job)
#   ./dev.sh test [args]     set up with the test tools, then run the test suite (args go to pytest)
#   ./dev.sh test --latest   the same on the newest versions pyproject.toml allows, in a throwaway
#                            environment, without the browser tests: shows the next drift early
#   ./dev.sh serve           set up, then serve the panels as a web app on http://127.0.0.1:5006/
#   ./dev.sh bench           set up, then run the CPU benchmarks
#   ./dev.sh lock            re-resolve requirements.lock from pyproject.toml (after changing a dependency)
# Needs Python 3.11+ and network access to the package registry; nothing else.
# Every install takes the versions pinned in requirements.lock (made by uv: see DEVELOPERS.md).
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

UV_VERSION=0.13.8
TORCH_VERSION=2.13.0

# make_venv DIR: a virtual environment with uv in it.
make_venv() {
    local venv="$1"
    if [ ! -x "$venv/bin/python" ]; then
        "$(pick_python)" -m venv "$venv"
    fi
    if [ "$("$venv/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION" ]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
}

# The wheel folders pip is told about (find-links: where a machine keeps, say, a CPU build of
# torch). uv does not read pip's configuration, so they are handed to it explicitly.
find_links() {
    local venv="$1" links="${PIP_FIND_LINKS:-}"
    if [ -z "$links" ]; then
        links="$("$venv/bin/python" -m pip config get global.find-links 2>/dev/null || true)"
    fi
    for dir in $links; do
        printf -- '--find-links\n%s\n' "$dir"
    done
}

# uv_install VENV ARGS…: uv pip install into VENV, torch pinned with it: an unpinned torch (or one
# pulled in by diffusers) is a newer CUDA build of several GB. TORCH_SPEC="" keeps the torch you
# installed yourself (a CUDA machine: install your build first).
uv_install() {
    local venv="$1"
    shift
    local args=() line torch_spec="${TORCH_SPEC-torch==$TORCH_VERSION}"
    while IFS= read -r line; do args+=("$line"); done < <(find_links "$venv")  # bash 3 has no mapfile
    if [ -n "$torch_spec" ]; then
        args+=("$torch_spec")
    fi
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" "${args[@]}" "$@"
}

# setup EXTRAS: .venv with imagen-nb[EXTRAS] at exactly the versions of requirements.lock.
# Skipped when neither the lock, pyproject.toml, the extras nor TORCH_SPEC changed since the last
# setup (the package itself is installed in editable mode: code changes need no reinstall).
setup() {
    make_venv .venv
    local stamp=.venv/.imagen-nb-setup wanted
    wanted="$1 ${TORCH_SPEC-torch==$TORCH_VERSION} $(cat requirements.lock pyproject.toml | cksum)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        return
    fi
    uv_install .venv --constraint requirements.lock -e ".[$1]"
    echo "$wanted" >"$stamp"
}

# The lock is resolved for Linux x86_64 and Python 3.11 (CI's platform) with torch's CPU build,
# so no CUDA package enters it; torch itself stays out of it (uv_install pins it).
lock() {
    make_venv .venv
    local torch_source=() line
    while IFS= read -r line; do torch_source+=("$line"); done < <(find_links .venv)
    if [ "${#torch_source[@]}" -eq 0 ]; then
        torch_source=(--extra-index-url https://download.pytorch.org/whl/cpu)
    fi
    local pin
    pin="$(mktemp)"
    echo "torch==$TORCH_VERSION+cpu" >"$pin"
    .venv/bin/uv pip compile pyproject.toml --extra all --extra dev --quiet \
        --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        "${torch_source[@]}" --constraint "$pin" --no-emit-package torch \
        --custom-compile-command "./dev.sh lock" --output-file requirements.lock "$@"
    rm -f "$pin"
}

# test --latest: the newest versions pyproject.toml allows, in a throwaway environment.
test_latest() {
    LATEST_DIR="$(mktemp -d)"
    trap 'rm -rf "$LATEST_DIR"' EXIT
    local venv="$LATEST_DIR/venv"
    make_venv "$venv"
    uv_install "$venv" --upgrade -e ".[dev]"
    echo "== newer than requirements.lock (or not in it):" >&2
    comm -13 <(grep -oE '^[A-Za-z0-9_.-]+==[^ ;]+' requirements.lock | tr 'A-Z_' 'a-z-' | sort) \
        <("$venv/bin/uv" pip freeze --quiet --python "$venv/bin/python" --exclude-editable |
         tr 'A-Z_' 'a-z-' | grep -vE '^(pip|uv|torch)==' | sort) >&2
    IMAGEN_NB_UNLOCKED=1 "$venv/bin/python" -m pytest -m "not browser" "$@"
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
        if [ "${1:-}" = "--latest" ]; then
            shift
            test_latest "$@"
            exit
        fi
        setup dev
        ensure_chromium
        exec .venv/bin/python -m pytest "$@"
        ;;
    lock)
        lock "$@"
        ;;
    bench)
        setup dev
        for script in benchmarks/*.py; do
            echo "== $script"
            .venv/bin/python "$script"
        done
        ;;
    *)
        echo "usage: ./dev.sh demo | test [--latest] [pytest args] | serve [options] | bench | lock" >&2
        exit 2
        ;;
esac
