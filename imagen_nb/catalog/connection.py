"""Opening the catalog: one owner process per home, one DuckDB cursor per thread."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from pathlib import Path
from typing import Iterator

import duckdb

from ..core.errors import CatalogBusy
from .migrations import migrate

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


class Catalog:
    """The catalog of one home: ``<home>/catalog.duckdb``, owned by this process while open.

    Ownership is an exclusive ``flock`` on ``<home>/catalog.lock`` holding the owner's pid: the
    kernel drops it when the owner dies, so a stale owner is taken over without ceremony.
    Use :meth:`cursor` for a connection private to the calling thread.
    """

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / CATALOG_FILE
        self._lock_fd = self._acquire_lock()
        try:
            # External access off: user SQL can never read or write files, attach databases or
            # install extensions. Our own inserts register DataFrames explicitly instead.
            self._con = duckdb.connect(str(self.path), config={"enable_external_access": False})
        except duckdb.IOException as exc:
            self._release_lock()
            m = re.search(r"PID (\d+)", str(exc))
            raise _busy(self.home, int(m.group(1)) if m else None) from exc
        except BaseException:
            self._release_lock()
            raise
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self.applied_migrations = migrate(self._con)

    # -- ownership -------------------------------------------------------------------------
    def _acquire_lock(self) -> int:
        lock_path = self.home / LOCK_FILE
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                text = os.pread(fd, 32, 0).decode().strip()
                pid = int(text) if text.isdigit() else None
            finally:
                os.close(fd)
            raise _busy(self.home, pid) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:  # a full disk: let go of the home, or it stays locked in this process
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        return fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
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
        with contextlib.suppress(Exception):
            self._con.execute("CHECKPOINT")
        self._con.close()
        self._con = None
        self._release_lock()
