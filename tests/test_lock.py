"""requirements.lock and pyproject.toml agree, and the environment running the tests is the lock."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
FIX = "run ./dev.sh lock and commit pyproject.toml and requirements.lock together"


def declared(root: Path = ROOT) -> dict[str, list[Requirement]]:
    """Every requirement of pyproject.toml (base and every extra) by package name, ourselves excluded."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts += extra
    out: dict[str, list[Requirement]] = {}
    for text in texts:
        req = Requirement(text)
        if canonicalize_name(req.name) != "imagen-nb":
            out.setdefault(canonicalize_name(req.name), []).append(req)
    return out


def locked(root: Path = ROOT) -> tuple[dict[str, Version], set[str]]:
    """The lock's pins by package name, and the names it says come straight from pyproject.toml."""
    pins: dict[str, Version] = {}
    direct: set[str] = set()
    current = None
    for line in (root / "requirements.lock").read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = Version(pin.group(2))
        elif current and "imagen-nb (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def dev_sh_torch(root: Path = ROOT) -> Version:
    return Version(re.search(r"^TORCH_VERSION=(\S+)$", (root / "dev.sh").read_text(), re.M).group(1))


def disagreements(root: Path = ROOT) -> list[str]:
    """Where pyproject.toml and requirements.lock under ``root`` disagree, one line each."""
    pins, direct = locked(root)
    problems = []
    wanted = declared(root)
    for name, reqs in wanted.items():
        if name == "torch":  # kept out of the lock on purpose: dev.sh installs it first (CPU build)
            version = dev_sh_torch(root)
        elif name not in pins:
            problems.append(f"pyproject.toml asks for {name}, requirements.lock has no {name}")
            continue
        else:
            version = pins[name]
        for req in reqs:
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and not req.specifier.contains(
                    version, prereleases=True):
                problems.append(f"requirements.lock pins {name}=={version}, pyproject.toml asks for {req}")
    for name in sorted(direct - set(wanted)):
        problems.append(f"requirements.lock takes {name} from pyproject.toml, which no longer asks for it")
    return problems


def test_pyproject_and_the_lock_agree():
    problems = disagreements()
    assert not problems, "; ".join(problems) + f": {FIX}."


@pytest.mark.parametrize("edit, expected", [
    (lambda p, lock: p.replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "humanize>=4",'),
     "pyproject.toml asks for humanize, requirements.lock has no humanize"),
    (lambda p, lock: p.replace('"tqdm>=4.66",', '"tqdm>=99",'),
     "requirements.lock pins tqdm==LOCKED, pyproject.toml asks for tqdm>=99"),
    (lambda p, lock: p.replace('    "tqdm>=4.66",\n', ""),
     "requirements.lock takes tqdm from pyproject.toml, which no longer asks for it"),
])
def test_a_dependency_changed_in_one_file_only_is_caught(tmp_path, edit, expected):
    pyproject = (ROOT / "pyproject.toml").read_text()
    lock = (ROOT / "requirements.lock").read_text()
    (tmp_path / "pyproject.toml").write_text(edit(pyproject, lock))
    (tmp_path / "requirements.lock").write_text(lock)
    (tmp_path / "dev.sh").write_text((ROOT / "dev.sh").read_text())
    assert disagreements(tmp_path) == [expected.replace("LOCKED", str(locked()[0]["tqdm"]))]


def test_no_cuda_package_is_locked_and_torch_is_left_to_dev_sh():
    pins, _ = locked()
    cuda = sorted(n for n in pins if n.startswith(("nvidia-", "cuda-")) or n == "triton")
    assert not cuda, f"requirements.lock pulls CUDA packages ({', '.join(cuda)}): lock with torch's CPU build " \
                     f"(./dev.sh lock does)."
    assert "torch" not in pins, "torch must stay out of requirements.lock: dev.sh installs its CPU build first."


@pytest.mark.skipif(os.environ.get("IMAGEN_NB_UNLOCKED") == "1",
                    reason="./dev.sh test --latest runs on the newest allowed versions, not the lock")
def test_the_environment_running_the_tests_is_the_lock():
    pins, _ = locked()
    differ = []
    for name, version in sorted(pins.items()):
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            continue  # an extra this environment does not install (dask, for one)
        if installed != version:
            differ.append(f"{name} {installed} (locked {version})")
    assert not differ, f"installed versions differ from requirements.lock: {', '.join(differ)}; " \
                       f"./dev.sh test reinstalls the locked ones."
    assert dev_sh_torch() == Version(Version(metadata.version("torch")).public)
