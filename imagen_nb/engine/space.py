"""Disk space: pause the queue when the home's disk is full, resume when space is back.

A generation whose file or catalog row cannot be written because the disk is full is not
lost: the worker keeps its result and the recorder keeps its batch, both wait here, and no new
generation starts meanwhile (with a paid provider each one would be money spent on an output
that cannot be saved). The pause is said once, in plain words: a log warning, a
:class:`~imagen_nb.core.errors.DiskFullWarning` and a :class:`~imagen_nb.core.records.QueuePaused`
event on the bus (panels get it through ``Studio.subscribe``);
:class:`~imagen_nb.core.records.QueueResumed` follows when free space has grown again, found by
polling ``shutil.disk_usage`` every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Callable

from ..core.errors import DiskFullWarning
from ..core.records import QueuePaused, QueueResumed
from .bus import EventBus

log = logging.getLogger(__name__)

MB = 2**20


class DiskSpace:
    """The pause switch of one home's executor and recorder.

    Args:
        home: the imagen-nb home (its disk is the one watched).
        bus: where :class:`QueuePaused` / :class:`QueueResumed` go.
        interval: seconds between free-space checks while paused.
        margin: bytes free space must grow by, over what was free when the write failed,
            before writes are tried again (the failed write's own size is unknown).
        enough: bytes free that always count as space being back, whatever was free before.
    """

    def __init__(self, home: Path, bus: EventBus, *, interval: float = 2.0, margin: int = 4 * MB,
                 enough: int = 256 * MB):
        self.home = Path(home)
        self.bus = bus
        self.interval = interval
        self.margin = margin
        self.enough = enough
        self._cond = threading.Condition()
        self._paused: QueuePaused | None = None
        self._free_at_pause = 0
        self._last_check = 0.0

    @property
    def paused(self) -> QueuePaused | None:
        """The event that paused the queue (its ``message`` says why), or None while running."""
        return self._paused

    def free(self) -> int:
        """Bytes free on the home's disk (0 when it cannot be asked)."""
        try:
            return shutil.disk_usage(self.home).free
        except OSError:
            return 0

    def pause(self, exc: BaseException, what: str) -> None:
        """Pause the queue after ``exc`` (a disk-full error) while writing ``what``; said once per pause."""
        free = self.free()
        with self._cond:
            self._free_at_pause = free if self._paused is None else min(free, self._free_at_pause)
            self._last_check = time.monotonic()
            if self._paused is not None:
                return
            message = (f"The disk holding {self.home} is full ({free / MB:.1f} MB free): {what} could not be "
                       "saved. The queue is paused; nothing is lost, and it resumes by itself when space is "
                       "free again (delete files, or run studio.empty_trash() here, or `imagen-nb trash empty` in a terminal).")
            self._paused = QueuePaused(reason="disk_full", message=message, path=str(self.home), free=free)
        log.warning("imagen-nb: %s (%s)", message, exc)
        warnings.warn(message, DiskFullWarning, stacklevel=2)
        self.bus.publish(self._paused)

    def poll(self) -> bool:
        """While paused, check free space (at most once per ``interval``) and resume when it is back.

        Returns True when the queue runs (it was not paused, or it resumed now).
        """
        with self._cond:
            if self._paused is None:
                return True
            now = time.monotonic()
            if now - self._last_check < self.interval:
                return False
            self._last_check = now
            free = self.free()
            if free < self.enough and free < self._free_at_pause + self.margin:
                return False
            self._paused = None
            self._cond.notify_all()
        message = f"Space is back on the disk holding {self.home} ({free / MB:.1f} MB free): the queue resumes."
        log.warning("imagen-nb: %s", message)
        self.bus.publish(QueueResumed(reason="disk_full", message=message, path=str(self.home), free=free))
        return True

    def wait(self, stopping: Callable[[], bool]) -> bool:
        """Block while paused; True once space is back, False when ``stopping()`` turns true first."""
        while not self.poll():
            if stopping():
                return False
            with self._cond:
                if self._paused is not None:
                    self._cond.wait(min(self.interval, 0.25))
        return True
