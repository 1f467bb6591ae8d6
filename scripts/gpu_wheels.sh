#!/usr/bin/env bash
# Wheels a lent GPU machine lacks (Python 3.12 there, with torch, transformers, peft, accelerate,
# pandas, pyarrow, pillow, httpx… but no diffusers, duckdb, tornado…), at the versions of
# requirements.lock, into .whl/ (ignored by git) for `device run` to carry.
#
#   scripts/gpu_wheels.sh            then: device run, carry [".whl"], command "bash benchmarks/gpu_all.sh"
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
NEEDED="diffusers duckdb platformdirs jsonschema jsonschema-specifications referencing rpds-py pytz tornado"
mkdir -p .whl
for name in $NEEDED; do
    pin=$(grep -iE "^${name}==" requirements.lock | head -1)
    [ -n "$pin" ] || { echo "no pin for $name in requirements.lock" >&2; exit 1; }
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d .whl "$pin"
done
# spandrel is no dependency of the lock (it imports torchvision, which has no CPU build here); the GPU
# machine has torchvision, so the cross-check of our super-resolution loader against it runs there.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform any -d .whl "spandrel==0.4.2"
ls -la .whl
du -sh .whl
