"""Parameter values typed as text (a form field, a command-line flag) read back as numbers."""

from __future__ import annotations

import math


def parse_number(text: str) -> int | float | None:
    """``"7"`` → 7, ``"7.5"`` → 7.5; None for anything else (``"nan"`` and ``"inf"`` included)."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
