"""mypy over the public API (the files listed under [tool.mypy] in pyproject.toml), and what a
user's own typed code gets from it: ``inb.Studio(...)`` and its handles carry their types, and
misuse is reported."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from imagen_nb.studio.surface import HANDLE_API, USER_API, USER_PROPERTIES

ROOT = Path(__file__).resolve().parents[1]


def _mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", str(cwd / ".mypy_cache"),
                           "--config-file", str(ROOT / "pyproject.toml"), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_public_api_type_checks():
    result = _mypy()
    assert result.returncode == 0, result.stdout + result.stderr


def _user_code(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    path = tmp_path / "user.py"
    path.write_text("import imagen_nb as inb\n\nstudio = inb.Studio('home', limit=50)\n" + textwrap.dedent(body))
    # the package is found in the repository (MYPYPATH), as a user's checker finds the installed one
    # (imagen_nb/py.typed says it carries its types)
    return subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--ignore-missing-imports",
                           "--follow-imports", "silent", "--cache-dir", str(tmp_path / ".mypy_cache"), str(path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_user_code_gets_the_types_of_studio_and_its_handles(tmp_path):
    result = _user_code(tmp_path, """
        order = studio.order("diffusers:tiny", prompt="a [red,blue] cat", seed="[1,2]")
        products = order.wait().products
        reveal_type(order)
        reveal_type(products)
        studio.rate(products, 5)
        project = studio.project("cards")
        reveal_type(project)
    """)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert 'Revealed type is "imagen_nb.studio.handles.Order"' in out, out
    assert 'Revealed type is "builtins.list[imagen_nb.studio.handles.Product]"' in out or \
        'Revealed type is "list[imagen_nb.studio.handles.Product]"' in out, out
    assert 'Revealed type is "imagen_nb.studio.handles.Project"' in out, out


def test_user_code_misuse_is_reported(tmp_path):
    result = _user_code(tmp_path, """
        studio.order(123)
        studio.rate("p1", rating="five")
        studio.ordr("diffusers:tiny")
        inb.Studio(lmit=5)
    """)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert 'Argument 1 to "order" of "Studio" has incompatible type "int"' in out, out
    assert 'Argument "rating" to "rate" of "Studio" has incompatible type "str"' in out, out
    assert '"Studio" has no attribute "ordr"' in out, out
    assert 'Unexpected keyword argument "lmit" for "Studio"' in out, out


def _declared_for_type_checkers() -> set[str]:
    tree = ast.parse((ROOT / "imagen_nb/studio/surface.py").read_text())
    studio = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Studio")
    block = next(n for n in studio.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {n.name for n in block.body if isinstance(n, ast.FunctionDef)}


def test_surface_declares_every_name_a_client_forwards():
    """A method added to the host and forwarded to clients must be declared on the surface too,
    or users' type checkers (and editors) do not see it on ``inb.Studio``."""
    forwarded = set(USER_API) | set(HANDLE_API) | set(USER_PROPERTIES)
    declared = _declared_for_type_checkers()
    assert forwarded - declared == set(), "declare these in surface.py's TYPE_CHECKING block"
    # each kind defines these itself: the constructor, who hosts, and subscribing to its own bus
    assert declared - forwarded - {"__init__", "hosted_by", "subscribe"} == set(), "a declared name nobody forwards"
