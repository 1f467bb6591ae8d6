#!/usr/bin/env bash
# Time the set-up of fresh clones with empty caches: ./dev.sh test --version, then ./dev.sh demo twice.
#   bash benchmarks/installs.sh REV [REV…]     e.g. bash benchmarks/installs.sh 93a1978 HEAD
# Each REV is cloned from this repository into a temporary folder; nothing here is changed.
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"
t() {
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    local rc=$?
    e=$(date +%s.%N)
    printf '%4.0f s rc=%s load=%s: %s\n' "$(echo "$e - $s" | bc)" "$rc" "$(cut -d' ' -f1 /proc/loadavg)" "$*"
}
export PIP_NO_CACHE_DIR=1
for rev in "$@"; do
    dir="$(mktemp -d)/clone"
    git clone -q "$repo" "$dir" && git -C "$dir" checkout -q "$rev"
    cd "$dir" || exit 1
    echo "== $rev (empty pip and uv caches)"
    export UV_CACHE_DIR="$(mktemp -d)"
    t ./dev.sh test --version
    rm -rf .venv
    export UV_CACHE_DIR="$(mktemp -d)"
    t ./dev.sh demo
    t ./dev.sh demo
    rm -rf "$(dirname "$dir")" "$UV_CACHE_DIR"
done
