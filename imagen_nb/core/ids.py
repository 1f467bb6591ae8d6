"""Identifiers: time-ordered, so ``order by id`` is creation order and file names sort by age."""

from __future__ import annotations

import random
import threading
import time

_lock = threading.Lock()
_last = 0
_rng = random.Random()


def new_id() -> str:
    """A 26-character lowercase hex id: 12 digits of milliseconds, then a counter and randomness.

    Ids made in one process are strictly increasing, even within one millisecond.
    """
    global _last
    with _lock:
        ms = int(time.time() * 1000) << 16
        _last = max(_last + 1, ms)
        value = _last
    # Uniqueness comes from the clock and counter; the random tail only separates processes,
    # so the cheap PRNG (seeded from the OS at import) is enough and saves a syscall per id.
    return f"{value:016x}{_rng.getrandbits(40):010x}"
