"""Running one civitai generation: a workflow with one textToImage step, polled, cancelled on the way out.

``POST /v2/consumer/workflows`` with ``{"steps": [{"$type": "textToImage", "input": {…}}]}``
answers the workflow (``id``, ``status``); ``GET /v2/consumer/workflows/<id>`` is polled until
the status is final (``succeeded``, ``failed``, ``expired``, ``canceled``); the images are the
``url`` of each ``steps[0].output.images[]`` entry. A cancelled or timed-out generation cancels
its workflow with ``PUT /v2/consumer/workflows/<id>`` ``{"status": "canceled"}``. The polling,
deadline and cancel are :class:`~..polling.PolledJob`'s, shared with Replicate.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...core.air import parse_ref
from ...core.errors import GenerationCancelled, ProviderError
from ...core.records import GenerationRequest, GenerationResult
from ..base import RunContext
from ..checks import Check
from ..polling import CANCEL_POLICY, PolledJob, run_each
from ..remote import RemoteFactory, download
from ..spec import random_seed
from .api import request_json
from .spec import MAX_SEED, normalise_loras, step_input

if TYPE_CHECKING:
    from .provider import CivitaiProvider

FINAL = frozenset({"succeeded", "failed", "expired", "canceled"})
WORKFLOWS = "/v2/consumer/workflows"


class CivitaiFactory(RemoteFactory):
    """Runs one checkpoint on civitai's generator: one workflow per request."""

    provider: CivitaiProvider

    def checks(self) -> list[Check]:
        """``key``, ``loras`` (AIRs with weights, of the checkpoint's ecosystem), then ``spec``."""
        key, spec = super().checks()
        ecosystem = parse_ref(self.model.name, param="model").ecosystem

        def loras(given: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
            if "loras" in params:
                params = {**params, "loras": normalise_loras(params["loras"], ecosystem)}
            return params

        return [key, Check("loras", loras), spec]

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """One workflow per request, in turn; each failure is returned for its request."""
        return run_each(requests, lambda req: _Generation(self.provider, self.model, req, ctx))


class _Generation(PolledJob):
    """One request: create the workflow, poll it, download its images; cancel it on the way out."""

    service, noun, site, terminal = "civitai", "workflow", "civitai.com", FINAL
    p: CivitaiProvider

    def _run(self) -> GenerationResult:
        spec = self.model.spec
        actual = dict(self.req.params)
        if actual.get("seed") is None:
            actual["seed"] = random_seed((spec.get("properties") or {}).get("seed"), high=MAX_SEED)
        step = step_input(spec, self.model.name, actual)
        self.ctx.progress(self.gid, 0, 1)
        body = {"steps": [{"$type": "textToImage", "input": step}], "tags": ["imagen-nb"]}
        workflow = self._api("POST", WORKFLOWS, body=body)
        self.job_id = _text(workflow, "id")
        workflow = self.poll(workflow)
        self.finished = True
        status = workflow.get("status")
        wid = self.job_id
        if status == "canceled":
            raise GenerationCancelled(f"civitai workflow {wid} was cancelled on civitai")
        if status != "succeeded":
            raise ProviderError(f"civitai workflow {wid} {status}: {_failure(workflow)}")
        urls = _image_urls(workflow)
        if not urls:
            raise ProviderError(f"civitai workflow {wid} succeeded but lists no available image")
        outputs = []
        for url in urls:
            if self.cancelled():
                raise GenerationCancelled(f"cancelled while downloading the images of workflow {wid}")
            outputs.append(self._api_download(url))
        self.ctx.progress(self.gid, 1, 1)
        returned = {"seed": actual["seed"], "workflow_id": wid, "status": status, "cost": workflow.get("cost"),
                    "model": self.model.name, "additional_networks": step.get("additionalNetworks") or {}}
        return GenerationResult(tuple(outputs), actual=actual, returned=returned)

    # ---- steps -------------------------------------------------------------------------------
    def _api(self, method: str, path: str, *, body: Any = None, quiet=None) -> Any:
        self.check_deadline()
        value = request_json(self.p.http(), method, self.p.orchestration_url + path, what=f"{method} {path}",
                             key=self.key, policy=self.p.retry_policy.until(self.deadline), body=body,
                             timeout=self.p.request_timeout, recorder=self.recorder, cancelled=self.cancelled,
                             quiet=quiet)
        if not isinstance(value, Mapping):
            raise ProviderError(f"civitai returned an unexpected response for {method} {path}: "
                                f"{str(value)[:120]!r} is not a workflow")
        return value

    def _fetch(self, before: str | None) -> Mapping[str, Any]:
        return self._api("GET", f"{WORKFLOWS}/{self.job_id}",
                         quiet=lambda w: isinstance(w, Mapping) and w.get("status") == before)

    def _status(self, job: Mapping[str, Any]) -> str | None:
        return job.get("status")

    def _progress(self, job: Mapping[str, Any]) -> tuple[int, int] | None:
        done = _progress(job)
        return done if done is not None and done[0] < done[1] else None  # the last job's end is the result's

    def _api_download(self, url: str):
        started = time.monotonic()
        try:
            out = download(url, client=self.p.downloader(), max_bytes=self.p.max_output_bytes,
                           timeout=self.p.request_timeout)
        except Exception as exc:
            if self.recorder:
                self.recorder.record("GET", url, None, started, error=str(exc), request_id=self.job_id)
            raise
        if self.recorder:
            self.recorder.record("GET", url, 200, started, request_id=self.job_id)
        return out

    def _cancel(self, job_id: str) -> None:
        request_json(self.p.http(), "PUT", f"{self.p.orchestration_url}{WORKFLOWS}/{job_id}",
                     what=f"PUT {WORKFLOWS}/{job_id}", key=self.key, body={"status": "canceled"},
                     policy=CANCEL_POLICY, timeout=min(self.p.request_timeout, 5.0), recorder=self.recorder)


# ---- reading a workflow ----------------------------------------------------------------------


def _text(workflow: Mapping[str, Any], key: str) -> str:
    value = workflow.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderError(f"civitai returned a workflow without {key!r}: {str(dict(workflow))[:160]!r}")
    return value


def _step(workflow: Mapping[str, Any]) -> Mapping[str, Any]:
    steps = workflow.get("steps")
    if isinstance(steps, list) and steps and isinstance(steps[0], Mapping):
        return steps[0]
    return {}


def _images(workflow: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    output = _step(workflow).get("output")
    images = output.get("images") if isinstance(output, Mapping) else None
    return [i for i in images if isinstance(i, Mapping)] if isinstance(images, list) else []


def _image_urls(workflow: Mapping[str, Any]) -> list[str]:
    return [i["url"] for i in _images(workflow) if i.get("available", True) and isinstance(i.get("url"), str)]


def _progress(workflow: Mapping[str, Any]) -> tuple[int, int] | None:
    """(jobs finished, jobs) of the step, when civitai lists its jobs."""
    jobs = _step(workflow).get("jobs")
    if not isinstance(jobs, list) or not jobs:
        return None
    done = sum(1 for j in jobs if isinstance(j, Mapping) and j.get("status") in FINAL)
    return done, len(jobs)


def _failure(workflow: Mapping[str, Any]) -> str:
    """The reason civitai gives for a failed step or job, else a generic line."""
    step = _step(workflow)
    for holder in [step, *(j for j in step.get("jobs") or [] if isinstance(j, Mapping))]:
        for key in ("reason", "error", "message"):
            value = holder.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                return value["message"]
    return "civitai gave no reason"
