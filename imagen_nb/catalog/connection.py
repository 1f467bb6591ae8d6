"""Opening the catalog: one owner process per home, one DuckDB cursor per thread."""

from __future__ import annotations

import contextlib
import time
import fcntl
import os
import re
import threading
from pathlib import Path
from typing import Iterator

import duckdb

from ..core.errors import CatalogBusy, CatalogDamaged, ImagenError
from . import checkpoints
from .migrations import migrate, set_home

CATALOG_FILE = "catalog.duckdb"
LOCK_FILE = "catalog.lock"


def _describe_pid(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return f"process {pid}"
    return f"process {pid} ({cmd[:80]})" if cmd else f"process {pid}"


def _busy(home: Path, pid: int | None) -> CatalogBusy:
    if pid == os.getpid():  # e.g. a notebook's "Run All" a second time in the same kernel
        return CatalogBusy(
            f"this process already has a Studio open on {home}: keep using that one, or call "
            "studio.close() on it first (restarting the kernel closes it too).", pid=pid)
    who = _describe_pid(pid) if pid else "another process"
    return CatalogBusy(
        f"the imagen-nb home {home} is in use by {who}. DuckDB allows one owner per catalog: "
        "close the Studio there (studio.close(), or stop that kernel), or open another home with "
        "Studio(home=...) or IMAGEN_NB_HOME.",
        pid=pid,
    )


_NOT_DAMAGE = (
    ("no space left", "the disk is full; free some space and open it again (nothing was changed)"),
    ("disk full", "the disk is full; free some space and open it again (nothing was changed)"),
    ("permission denied", "permission denied; check who owns the home folder and its files"),
    ("read-only file system", "the file system is read-only; open a home on a writable disk"),
)


def _lock(home: Path) -> int:
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            pid, _ = _parse_owner(os.pread(fd, 4096, 0))
        finally:
            os.close(fd)
        raise _busy(home, pid) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError:  # a full disk: let go of the home, or it stays locked in this process
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
    return fd


def _parse_owner(data: bytes) -> tuple[int | None, str]:
    first, _, rest = data.decode(errors="replace").partition("\n")
    first = first.strip()
    return (int(first) if first.isdigit() else None), rest.strip()


def read_owner(home: Path) -> tuple[int | None, str]:
    """Who owns a home, from its lock file: the owner's pid (or None) and what it announced
    (:meth:`Catalog.announce`, e.g. where it serves the home; ``""`` when nothing)."""
    try:
        with open(Path(home) / LOCK_FILE, "rb") as f:
            return _parse_owner(f.read(4096))
    except FileNotFoundError:
        return None, ""


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextlib.contextmanager
def home_locked(home: Path) -> Iterator[None]:
    """Own a home without opening its catalog (to replace or move the catalog file).

    Raises:
        CatalogBusy: a Studio (here or in another process) has the home open.
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    fd = _lock(home)
    try:
        yield
    finally:
        _unlock(fd)


class Catalog:
    """The catalog of one home: ``<home>/catalog.duckdb``, owned by this process while open.

    Ownership is an exclusive ``flock`` on ``<home>/catalog.lock`` holding the owner's pid: the
    kernel drops it when the owner dies, so a stale owner is taken over without ceremony.
    Use :meth:`cursor` for a connection private to the calling thread.

    Opening reads every row once (:func:`.checkpoints.verify`), so a damaged file is reported
    here as :class:`CatalogDamaged`, never half-way through later work, and then keeps a copy
    of the catalog in ``<home>/checkpoints/`` when it changed since the last one.

    Args:
        home: the imagen-nb home folder (created when missing).
        keep_checkpoints: how many checkpoint copies to keep (0: take none).

    Raises:
        CatalogBusy: another Studio owns the home.
        CatalogDamaged: the catalog file cannot be read; the home is left unlocked.
    """

    def __init__(self, home: Path, *, keep_checkpoints: int = checkpoints.KEEP):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / CATALOG_FILE
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock_fd = self._acquire_lock()
        #: True when this open created the catalog file (none was there): recovery must then
        #: not take the home's product files for leftovers of a crash.
        self.created = not self.path.exists()
        #: the checkpoint taken by this open, if one was (see :mod:`.checkpoints`)
        self.checkpoint: Path | None = None
        try:
            self._con = self._connect()
            self._check(checkpoints.verify)
            self.applied_migrations = migrate(self._con)
            set_home(self._con, str(self.home.absolute()))
            if not self.created:
                self.checkpoint = checkpoints.take(self._con, self.path, keep=keep_checkpoints)
        except BaseException:
            # Nothing may outlive a failed open: a damaged file must not keep the home locked.
            if self._con is not None:
                with contextlib.suppress(Exception):
                    self._con.close()
                self._con = None
            self._release_lock()
            raise
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            # External access off: user SQL can never read or write files, attach databases or
            # install extensions. Our own inserts register DataFrames explicitly instead.
            return duckdb.connect(str(self.path), config={"enable_external_access": False})
        except duckdb.IOException as exc:
            text = str(exc)
            if re.search(r"could not set lock|conflicting lock", text, re.IGNORECASE):
                m = re.search(r"PID (\d+)", text)
                raise _busy(self.home, int(m.group(1)) if m else None) from exc
            raise self._damaged(exc) from None
        except duckdb.Error as exc:
            raise self._damaged(exc) from None

    def _check(self, step) -> None:
        try:
            step(self._con)
        except duckdb.Error as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: BaseException) -> ImagenError:
        # A full disk or a permission is not damage: "rebuild" would be the wrong advice.
        text = str(exc)
        for sign, advice in _NOT_DAMAGE:
            if sign in text.lower():
                return ImagenError(f"cannot open the catalog {self.path}: {advice}")
        # One line of DuckDB's message is enough; its traceback only hides the way out. The
        # chain is cut on purpose (`from None`) and the cause kept on the error for debugging.
        reason = " ".join(str(exc).split())
        where = str(self.path)
        reason = reason.replace(f'file "{where}"', "file").replace(f'"{where}"', "the file").replace(where, "the file")
        if len(reason) > 160:
            reason = reason[:157] + "..."
        err = CatalogDamaged(self.path, reason, checkpoints.newest_good(self.home))
        err.duckdb_error = exc
        return err

    # -- ownership -------------------------------------------------------------------------
    def _acquire_lock(self) -> int:
        return _lock(self.home)

    def announce(self, text: str) -> None:
        """Write one line after the owner's pid in the lock file, for other processes to read
        with :func:`read_owner` (the host writes where it serves the home)."""
        if self._lock_fd is None:
            raise RuntimeError("this catalog is closed")
        data = f"{os.getpid()}\n{text.strip()}\n".encode()
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, data, 0)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            _unlock(self._lock_fd)
            self._lock_fd = None

    # -- connections -----------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for the calling thread (DuckDB connections are not thread-safe)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            if self._con is None:
                raise RuntimeError("this catalog is closed; open a new Studio")
            cur = self._con.cursor()
            self._local.cur = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """``with catalog.transaction() as cur:`` commits on success, rolls back on error."""
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection not bound to a thread (for user SQL that may be interrupted)."""
        if self._con is None:
            raise RuntimeError("this catalog is closed; open a new Studio")
        return self._con.cursor()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._con is None

    def close(self) -> None:
        """Close every connection and give up ownership of the home."""
        if self._con is None:
            return
        with self._cursors_lock:
            for cur in self._cursors:
                with contextlib.suppress(Exception):
                    cur.close()
            self._cursors.clear()
        try:
            with contextlib.suppress(Exception):
                self._con.execute("CHECKPOINT")
            for attempt in range(100):  # a thread may be making a cursor at this moment: wait for it, bounded
                try:
                    self._con.close()
                    break
                except duckdb.ResourceInUseException:
                    if attempt == 99:
                        raise
                    time.sleep(0.02)
        finally:  # even when closing fails (a full disk): the home is let go
            self._con = None
            self._release_lock()
