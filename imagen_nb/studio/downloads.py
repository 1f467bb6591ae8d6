"""Model downloads from civitai that can be watched and cancelled (``studio.add_model(ref)``).

``studio.add_model(ref, wait=False)`` checks everything the import needs at once (token,
reference, kind, file type, name, family: errors raise there), then downloads on a thread of
its own and returns a :class:`ModelImport` with its progress, ``.cancel()`` and ``.wait()``.
A blocking ``studio.add_model(ref)`` registers its download the same way, so
``studio.cancel_download(ref)`` (the Order panel's Cancel, another process) stops it too, and
Ctrl-C (KeyboardInterrupt) in it stops it cleanly.

A cancelled download records nothing and leaves no file in the model or LoRA folder, only its
``.<name>.part`` (a dot file the folders' listings skip): the next ``add_model(ref)`` resumes it
with an HTTP Range request. The service keeps the last :data:`KEEP` finished downloads so a
handle still reads how one ended.

Each download has an ``id`` besides its reference: the first 12 hex digits of the reference's
SHA-256, the same each time that reference is imported. The REST API names a download by it (a
reference holds ``:`` and ``/``), and :meth:`DownloadService.record` takes either.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..core.errors import DownloadBusy, DownloadCancelled

if TYPE_CHECKING:
    from .local import LocalStudio

#: Finished downloads remembered (for their handles), oldest forgotten first.
KEEP = 50
#: Longest single wait a handle asks of its studio (a client's call stays short; Ctrl-C is seen).
WAIT_STEP = 5.0
#: Seconds a closing studio waits, in all, for its cancelled downloads to stop (their parts are kept).
CLOSE_WAIT = 5.0
#: A download's states; the last three are final.
STATES = ("starting", "downloading", "done", "failed", "cancelled")


def download_id(ref: str) -> str:
    """The id of the download of ``ref`` (12 hex digits; the same for each import of ``ref``)."""
    return hashlib.sha256(ref.encode()).hexdigest()[:12]


def _fraction(row: dict[str, Any]) -> float | None:
    if row["state"] == "done":
        return 1.0
    return min(1.0, row["done"] / row["total"]) if row["total"] else None


class ModelImport:
    """A civitai download started by ``studio.add_model(ref, wait=False)``.

    Reading a property asks the studio, so a handle is never stale; it works the same in the
    host and in a client of it.
    """

    def __init__(self, studio: Any, ref: str):
        self._studio = studio
        self.ref = ref

    def record(self) -> dict[str, Any]:
        """id, ref, file_name, path, kind, state, done, total, fraction, result, error, started_at, finished_at."""
        row = self._studio.download_record(self.ref)
        if row is None:
            raise LookupError(f"no download of {self.ref} is known to this studio (it was started in an earlier "
                              "session, or long ago)")
        return row

    @property
    def state(self) -> str:
        """starting (checking), downloading, done, failed or cancelled."""
        return self.record()["state"]

    @property
    def done(self) -> int:
        """Bytes so far (a resumed download starts at the part's size)."""
        return int(self.record()["done"])

    @property
    def total(self) -> int | None:
        """The file's size in bytes, when known."""
        return self.record()["total"]

    @property
    def fraction(self) -> float | None:
        """Progress from 0 to 1 (None while the size is unknown)."""
        return self.record()["fraction"]

    @property
    def result(self) -> str | None:
        """The model's id (``diffusers:<name>``) or the LoRA's name once done; None before."""
        return self.record()["result"]

    @property
    def error(self) -> str | None:
        """Why it failed or that it was cancelled (None otherwise)."""
        return self.record()["error"]

    def cancel(self) -> bool:
        """Stop the download (its partial file is kept for a resume); False when it is not running."""
        return bool(self._studio.cancel_download(self.ref))

    def wait(self, timeout: float | None = None) -> str:
        """Block until the download ends; the model's id (or LoRA name).

        Raises the import's error when it failed, :class:`DownloadCancelled` when it was cancelled,
        TimeoutError when ``timeout`` seconds pass first. Ctrl-C while waiting cancels the download.
        """
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                step = WAIT_STEP if end is None else max(0.0, min(WAIT_STEP, end - time.monotonic()))
                found = self._studio.wait_download(self.ref, step)
                if found is not None:
                    return found
                if end is not None and time.monotonic() >= end:
                    raise TimeoutError(f"the download of {self.ref} is still running after {timeout:g} s "
                                       f"({self._line(self.record())}); wait again or .cancel() it")
        except KeyboardInterrupt:
            self.cancel()
            raise

    @staticmethod
    def _line(row: dict[str, Any]) -> str:
        done, total = row["done"], row["total"]
        size = f"{done / 2**20:,.1f} of {total / 2**20:,.1f} MB" if total else f"{done / 2**20:,.1f} MB"
        return f"{row['state']}, {size}"

    def __repr__(self) -> str:
        try:
            row = self.record()
        except LookupError:
            return f"<ModelImport {self.ref}: unknown>"
        what = row["file_name"] or self.ref
        tail = f" -> {row['result']}" if row["result"] else (f": {row['error']}" if row["error"] else "")
        return f"<ModelImport {what}: {self._line(row)}{tail}>"


class _Job:
    """One download this process runs: its row, cancel flag, finished event and outcome."""

    def __init__(self, ref: str):
        self.cancel = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.row: dict[str, Any] = {"id": download_id(ref), "ref": ref, "file_name": None, "path": None, "kind": None, "state": "starting",
                                    "done": 0, "total": None, "result": None, "error": None,
                                    "started_at": time.time(), "finished_at": None}


class DownloadService:
    """The civitai downloads of one :class:`~.local.LocalStudio` (the host), by reference."""

    def __init__(self, studio: "LocalStudio"):
        self._studio = studio
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def add(self, ref: str, name: str | None, *, for_model: str | None,
            progress: Callable[[int, int | None], None] | None, wait: bool) -> "str | ModelImport":
        """Check, then download ``ref`` here (``wait``) or on a thread (a :class:`ModelImport`)."""
        from . import civitai

        job = self._begin(ref)
        try:
            plan = civitai.plan_import(self._studio, ref, name, for_model=for_model)
            self._claim(job, plan)
        except BaseException as exc:
            self._end(job, error=exc)
            raise
        if wait:
            return self._run(job, plan, progress)
        thread = threading.Thread(target=self._run_quietly, args=(job, plan, progress), daemon=True,
                                  name="inb-civitai-download")
        thread.start()
        return ModelImport(self._studio, ref)

    def record(self, ref: str) -> dict[str, Any] | None:
        """A download's row (see :meth:`ModelImport.record`) by reference or id, or None when none is known."""
        with self._lock:
            job = self._find(ref)
            return self._row(job) if job is not None else None

    def records(self) -> list[dict[str, Any]]:
        """Every download known: running ones first, then the finished, newest first."""
        with self._lock:
            rows = [self._row(job) for job in self._jobs.values()]
        return sorted(rows, key=lambda r: (r["finished_at"] is not None, -r["started_at"]))

    def cancel(self, ref: str) -> bool:
        """Ask a running download to stop; False when none is running."""
        with self._lock:
            job = self._find(ref)
            if job is None or job.finished.is_set():
                return False
            job.cancel.set()
            return True

    def wait(self, ref: str, timeout: float | None) -> str | None:
        """The id once the download ended (its error raised when it failed or was cancelled); None on timeout."""
        with self._lock:
            job = self._find(ref)
        if job is None:
            raise LookupError(f"no download of {ref} is known to this studio")
        if not job.finished.wait(timeout):
            return None
        if job.error is not None:
            raise job.error
        return job.row["result"]

    def close(self) -> None:
        """Cancel the downloads still running (their parts are kept) and wait a moment for them."""
        with self._lock:
            running = [job for job in self._jobs.values() if not job.finished.is_set()]
        for job in running:
            job.cancel.set()
        deadline = time.monotonic() + CLOSE_WAIT  # one wait for them all, not one per download
        for job in running:
            job.finished.wait(max(0.0, deadline - time.monotonic()))

    # -- inside ---------------------------------------------------------------------------
    def _find(self, ref: str) -> _Job | None:
        job = self._jobs.get(ref)
        if job is None:  # by id
            job = next((j for j in self._jobs.values() if j.row["id"] == ref), None)
        return job

    @staticmethod
    def _row(job: _Job) -> dict[str, Any]:
        return {**job.row, "fraction": _fraction(job.row)}

    def _begin(self, ref: str) -> _Job:
        with self._lock:
            old = self._jobs.get(ref)
            if old is not None and not old.finished.is_set():
                raise DownloadBusy("ref", f"{ref} is being downloaded already ({ModelImport._line(old.row)}); wait "
                                             f"for it or cancel it: studio.cancel_download({ref!r})")
            job = self._jobs[ref] = _Job(ref)
            ended = sorted((j for j in self._jobs.values() if j.finished.is_set()),
                           key=lambda j: j.row["finished_at"])
            for stale in ended[:max(0, len(ended) - KEEP)]:
                self._jobs.pop(stale.row["ref"], None)
            return job

    def _claim(self, job: _Job, plan) -> None:
        """Take ``plan``'s file for ``job``, refusing a second download into the same file (two references
        of one version); checked and taken in one critical section, so two claims cannot both pass."""
        dest = plan.dest
        with self._lock:
            for other in self._jobs.values():
                if other is not job and not other.finished.is_set() and other.row["path"] == str(dest):
                    raise DownloadBusy("ref", f"{other.row['ref']} is downloading the same file ({dest.name}) now;"
                                                 " wait for it or cancel it")
            job.row.update(file_name=plan.info["file_name"], path=str(dest), kind=plan.kind, total=plan.info["size"])

    def _run(self, job: _Job, plan, progress) -> str:
        from . import civitai

        def report(done: int, total: int | None) -> None:
            with self._lock:
                job.row.update(state="downloading", done=done, total=total if total is not None else job.row["total"])
            if progress is not None:
                progress(done, total)

        try:
            result = civitai.run_import(self._studio, plan, progress=report, cancelled=job.cancel.is_set)
        except KeyboardInterrupt as exc:  # Ctrl-C in a blocking call: cancelled, the part kept (its note says so)
            notes = getattr(exc, "__notes__", None) or [civitai.cancelled_message(plan, job.row["done"])]
            self._end(job, error=DownloadCancelled(notes[-1]))
            raise
        except BaseException as exc:
            self._end(job, error=exc)
            raise
        self._end(job, result=result)
        return result

    def _run_quietly(self, job: _Job, plan, progress) -> None:
        try:
            self._run(job, plan, progress)
        except Exception:  # kept on the job: its handle's wait() raises it
            pass

    def _end(self, job: _Job, *, result: str | None = None, error: BaseException | None = None) -> None:
        with self._lock:
            job.error = error
            if error is None:
                job.row.update(state="done", result=result, done=job.row["total"] or job.row["done"])
            else:
                job.row.update(state="cancelled" if isinstance(error, DownloadCancelled) else "failed",
                               error=str(error) or type(error).__name__)
            job.row["finished_at"] = time.time()
            job.finished.set()
