"""One request on a service that runs it as a job: create it, poll it to its end, cancel it on the way out.

Replicate (predictions) and civitai (workflows) work this way. :class:`PolledJob` holds what they
share: the generation's own deadline (setting ``timeout``), the key and the API-call recorder,
polling every ``poll_interval`` seconds with progress reported when it changes, a sleep that
notices a cancel within 50 ms, and the outcome of each way out: a cancel (the job cancelled on
the service too), the deadline (cancelled too, said in the error), any other error (cancelled,
the key scrubbed from the message). A subclass says how to create, fetch, read and cancel its
job; each failure is returned for its request, never raised (:func:`run_each`).
"""

from __future__ import annotations

import abc
import time
from typing import Any, Callable, ClassVar, Sequence

from ..core.errors import GenerationCancelled, ProviderError
from ..core.records import GenerationRequest, GenerationResult, ModelInfo
from .base import RunContext
from .keys import redact, scrubbed
from .remote import ApiRecorder, RetryPolicy

#: How hard cancelling a job on its way out tries: briefly (the generation's deadline may have passed).
CANCEL_POLICY = RetryPolicy(attempts=2, base=0.2, cap=1.0, deadline=5.0)
#: Longest nap between two looks at the cancel flag while waiting to poll again.
NAP = 0.05


class TimedOut(Exception):
    """The generation's own deadline (setting ``timeout``) passed."""


def run_each(requests: Sequence[GenerationRequest], job: Callable[[GenerationRequest], "PolledJob"]
             ) -> list[GenerationResult | BaseException]:
    """One job per request, in turn; each failure is returned for its request, never raised."""
    out: list[GenerationResult | BaseException] = []
    for req in requests:
        try:
            out.append(job(req).run())
        except Exception as exc:  # run() returns its errors; this is the last guard
            out.append(exc)
    return out


class PolledJob(abc.ABC):
    """One request's job on a remote service (see the module).

    Subclasses set :attr:`service`, :attr:`noun`, :attr:`site` and :attr:`terminal`, and implement
    :meth:`_run` (which creates the job, sets :attr:`job_id`, calls :meth:`poll`, sets
    :attr:`finished` and builds the result), :meth:`_fetch`, :meth:`_status` and :meth:`_cancel`;
    :meth:`_progress` when the service reports it.
    """

    #: the service as a message names it ("Replicate", "civitai")
    service: ClassVar[str]
    #: what the service calls a job ("prediction", "workflow")
    noun: ClassVar[str]
    #: where a person cancels a job by hand when the cancel request fails
    site: ClassVar[str]
    #: the statuses a job ends in
    terminal: ClassVar[frozenset[str]]

    def __init__(self, provider: Any, model: ModelInfo, req: GenerationRequest, ctx: RunContext):
        self.p = provider
        self.model = model
        self.req = req
        self.ctx = ctx
        self.gid = req.generation_id
        self.deadline = time.monotonic() + provider.timeout
        self.key: str | None = None
        self.recorder: ApiRecorder | None = None
        self.job_id: str | None = None
        #: the job ended on the service (nothing left to cancel there)
        self.finished = False

    # ---- what a service implements ---------------------------------------------------------------
    @abc.abstractmethod
    def _run(self) -> GenerationResult:
        """Create the job, poll it to its end, fetch its outputs."""

    @abc.abstractmethod
    def _fetch(self, before: str | None) -> Any:
        """The job as the service sees it now (a poll; ``before`` is the status it had, for quiet records)."""

    @abc.abstractmethod
    def _status(self, job: Any) -> str | None:
        """The job's status."""

    @abc.abstractmethod
    def _cancel(self, job_id: str) -> None:
        """Ask the service to cancel the job (with :data:`CANCEL_POLICY`)."""

    def _progress(self, job: Any) -> tuple[int, int] | None:
        """(done, total) when the job says how far it is; None otherwise."""
        return None

    def _begin(self) -> None:
        """Set up what the run needs once the key is known (a client…)."""

    # ---- the shared run ----------------------------------------------------------------------------
    def run(self) -> GenerationResult | BaseException:
        """The request's result, or its error (returned, never raised)."""
        try:
            self.key = self.p.keys.require(self.p.name)
            self.recorder = ApiRecorder(self.p.name, self.ctx, self.gid, self.req.order_id, secrets=(self.key,))
            self._begin()
            return self._run()
        except GenerationCancelled as exc:
            return GenerationCancelled(redact(str(exc), self.key) + self.cancel_remote())
        except TimedOut:
            finished, cancelled = self.finished, self.cancel_remote()
            limit = f"within {self.p.timeout:g} s (setting `timeout` of the {self.p.name} provider)"
            if finished:
                return ProviderError(f"the outputs of {self.service} {self.noun} {self.job_id} could not be "
                                     f"downloaded {limit}")
            what = f"{self.service} {self.noun} {self.job_id}" if self.job_id else f"The {self.service} {self.noun}"
            return ProviderError(f"{what} did not finish {limit}{cancelled}")
        except Exception as exc:
            self.cancel_remote()
            return scrubbed(exc, self.key)

    def check_deadline(self) -> None:
        """Raise :class:`TimedOut` once the generation's deadline passed (before each request)."""
        if self.deadline - time.monotonic() <= 0:
            raise TimedOut()

    def cancelled(self) -> bool:
        """True once the generation was cancelled."""
        return self.ctx.cancelled(self.gid)

    def poll(self, job: Any) -> Any:
        """Fetch ``job`` every ``poll_interval`` seconds until its status is terminal; progress as it changes."""
        last: tuple[int, int] | None = None
        while self._status(job) not in self.terminal:
            self.sleep(self.p.poll_interval)
            job = self._fetch(self._status(job))
            progress = self._progress(job)
            if progress is not None and progress != last:
                last = progress
                self.ctx.progress(self.gid, *progress)
        return job

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, raising GenerationCancelled at a cancel and TimedOut at the deadline."""
        end = time.monotonic() + seconds
        while True:
            if self.cancelled():
                raise GenerationCancelled(f"cancelled while {self.service} {self.noun} {self.job_id} ran")
            now = time.monotonic()
            if now >= self.deadline:
                raise TimedOut()
            if now >= end:
                return
            time.sleep(min(end - now, NAP))

    def cancel_remote(self) -> str:
        """Cancel the job on the service if it still runs there; a note for the error message."""
        if self.job_id is None or self.finished:
            return ""
        self.finished = True
        try:
            self._cancel(self.job_id)
        except Exception as exc:  # recorded as an ApiCall; the generation's own outcome matters more
            return (f"; cancelling it on {self.service} failed ({redact(str(exc), self.key)}): cancel it on "
                    f"{self.site}")
        return f"; {self.noun} {self.job_id} was cancelled on {self.service}"
