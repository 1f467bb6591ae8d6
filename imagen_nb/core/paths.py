"""Where a catalog path may lead: inside the home, never outside (pure path arithmetic, no I/O)."""

from __future__ import annotations

import os
from pathlib import Path


def inside_home(home: str | os.PathLike, stored: str | os.PathLike | None) -> Path | None:
    """The file a catalog path names under ``home``, or None when there is none or it would lie
    outside the home (an absolute path elsewhere, ``..`` climbing out).

    Every product file is written under the home, so a catalog row naming anything else came
    from a tampered catalog, backup or checkpoint: nothing outside the home is ever read for it
    (a panel would otherwise send a remote browser any file the server can read).
    """
    if stored is None or (isinstance(stored, float) and stored != stored) or stored == "":  # NULL / NaN cells
        return None
    root = os.path.abspath(home)
    path = os.path.normpath(os.path.join(root, os.fspath(stored)))
    if path != root and os.path.commonpath([root, path]) == root:
        return Path(path)
    return None
