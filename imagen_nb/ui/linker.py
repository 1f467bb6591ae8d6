"""Link the panels' ES modules into one script, with no bundler and no build step.

A host (anywidget or Panel) takes one module as a string, so relative imports cannot be
resolved by the browser. :func:`link` reads an entry module and everything it imports from
``static/`` and writes each as a scoped function whose result is its exports, in dependency
order. It understands the forms our modules and the vendored ones use, and refuses others:

- ``import { a, b as c } from "./x.js";``, ``import d from "htm";``, ``import * as m from "./x.js";``
- ``export function f``, ``export async function f``, ``export const/let/class x``,
  ``export { a as b };`` and ``export default <expression>``.

Bare specifiers name vendored libraries (:data:`VENDORED`). The modules stay real ES modules:
a browser or node can load them as files too.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

#: bare import names -> files under static/
VENDORED = {"preact": "vendor/preact.mjs", "preact/hooks": "vendor/hooks.mjs", "htm": "vendor/htm.mjs"}

_IMPORT = re.compile(
    r"""\bimport\s*(?:\{(?P<names>[^}]*)\}|\*\s*as\s+(?P<star>[\w$]+)|(?P<default>[\w$]+))\s*from\s*["'](?P<spec>[^"']+)["']\s*;?""")
_EXPORT_LIST = re.compile(r"\bexport\s*\{(?P<names>[^}]*)\}\s*;?")
_EXPORT_DECL = re.compile(r"^(?P<indent>[ \t]*)export\s+(?P<kind>async\s+function\*?|function\*?|const|let|class)\s+(?P<name>[\w$]+)",
                          re.M)
_EXPORT_DEFAULT = re.compile(r"\bexport\s+default\s+")


class LinkError(ValueError):
    """A panel module uses an import or export form the linker does not know, or a missing file."""


def _pairs(names: str) -> list[tuple[str, str]]:
    out = []
    for part in names.split(","):
        part = part.strip()
        if not part:
            continue
        bits = re.split(r"\s+as\s+", part)
        out.append((bits[0].strip(), bits[-1].strip()))
    return out


def _var(path: str) -> str:
    return "__inb_" + re.sub(r"[^\w]", "_", path)


def _resolve(spec: str, importer: str, static: Path) -> str:
    if spec in VENDORED:
        return VENDORED[spec]
    if not spec.startswith("."):
        raise LinkError(f"{importer} imports {spec!r}: only relative paths and {', '.join(VENDORED)} can be linked")
    path = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
    if not (static / path).is_file():
        raise LinkError(f"{importer} imports {spec!r}, but static/{path} does not exist")
    return path


def _module(path: str, static: Path, order: list[str], seen: dict[str, str]) -> None:
    if path in seen:
        if seen[path] == "open":
            raise LinkError(f"import cycle through {path}")
        return
    seen[path] = "open"
    text = (static / path).read_text()
    for m in _IMPORT.finditer(text):
        _module(_resolve(m["spec"], path, static), static, order, seen)
    seen[path] = "done"
    order.append(path)


def _compile(path: str, static: Path) -> str:
    text = (static / path).read_text()
    head: list[str] = []

    def imports(m: re.Match) -> str:
        source = _var(_resolve(m["spec"], path, static))
        if m["star"]:
            head.append(f"const {m['star']} = {source};")
        elif m["default"]:
            head.append(f"const {m['default']} = {source}.default;")
        else:
            inner = ", ".join(a if a == b else f"{a}: {b}" for a, b in _pairs(m["names"]))
            head.append(f"const {{ {inner} }} = {source};")
        return ""

    text = _IMPORT.sub(imports, text)
    exports: list[tuple[str, str]] = []

    def export_list(m: re.Match) -> str:
        exports.extend((b, a) for a, b in _pairs(m["names"]))
        return ""

    text = _EXPORT_LIST.sub(export_list, text)
    for m in _EXPORT_DECL.finditer(text):
        exports.append((m["name"], m["name"]))
    text = _EXPORT_DECL.sub(lambda m: f"{m['indent']}{m['kind']} {m['name']}", text)
    if _EXPORT_DEFAULT.search(text):
        text = _EXPORT_DEFAULT.sub("const __default = ", text, count=1)
        exports.append(("default", "__default"))
    left = re.search(r"(?:^|[;}])\s*export[\s{*]", text, re.M)
    if left:
        raise LinkError(f"{path}: an export form the linker does not know: {text[left.start():][:60]!r}")
    body = ", ".join(name if name == local else f"{name}: {local}" for name, local in exports)
    return (f"// ---- {path}\nconst {_var(path)} = (() => {{\n" + "\n".join(head) + "\n" + text.rstrip()
            + f"\nreturn {{ {body} }};\n}})();\n")


def link(entries: list[str], static: Path) -> str:
    """One script defining every module ``entries`` (paths under ``static``) need, in order."""
    order: list[str] = []
    seen: dict[str, str] = {}
    for entry in entries:
        _module(entry, static, order, seen)
    return "\n".join(_compile(path, static) for path in order)
