"""The generate → judge → rewrite loop behind ``studio.refine`` (issue 15), run on the host.

One :class:`RefineRunner` per running refinement: a thread per prompt (at most
:data:`MAX_PROMPT_THREADS` at once) walks its rounds. Each round is a few steps, each recorded in
the catalog before the next starts, so a runner started again after a crash (the next Studio on
the home resumes every refinement left ``running``) continues where the last one stopped:

1. order ``n`` images of the round's prompt (the order's id is written to the round first, so the
   order is either found and waited for, or was never placed and is placed now: never twice);
2. order one judgement per image from the judge (an image-to-text model);
3. score each image (the judge's own 1–10, or a CLIP / aesthetic scorer) into ``scores``;
4. pick the best image; stop when ``stop_at`` is reached or this was the last round;
5. order the next prompt from the rewriter, given the goal, the prompt, the judgement and the
   history of earlier rounds; the next round starts from it.

Judges and rewriters run as ordinary orders: validated, queued, recorded, tracked in
``api_calls``, retried and cancellable; their exact inputs and outputs are the generations'
parameter and return sets. A prompt whose images, judge or rewriter all fail ends with the
reason; the other prompts go on.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Mapping

from ..catalog import refinements as q_ref
from ..catalog import scores as q_scores
from ..core import refine as core
from ..core.errors import ValidationError
from ..core.ids import new_id
from ..core.inputs import check_count, check_params_text
from .handles import Project
from ..core.file_inputs import file_inputs

if TYPE_CHECKING:
    from .local import LocalStudio

log = logging.getLogger(__name__)

#: Prompts of one refinement worked on at once (each mostly waits for its orders).
MAX_PROMPT_THREADS = 16
MAX_ITERATIONS = 20
MAX_N = 16
#: How often a waiting runner looks at its cancel and stop flags (seconds).
POLL = 0.2


def first_file_input(spec: Mapping[str, Any]) -> str | None:
    """The parameter a judge takes its image in (the spec's first file input), or None."""
    names = file_inputs(spec)
    return names[0] if names else None


class _Stopped(Exception):
    """The studio is closing (not a failure: the next Studio resumes) or the refinement was cancelled."""


def parse_scorer(scorer: str | None) -> tuple[str, str | None]:
    """``"judge"`` → ("judge", None); ``"clip"`` / ``"clip:tiny-clip"`` / ``"aesthetic:<clip>"`` → (kind, clip name)."""
    if scorer in (None, "judge"):
        return "judge", None
    if not isinstance(scorer, str):
        raise ValidationError("scorer", f"must be 'judge', 'clip[:<CLIP model>]' or 'aesthetic[:<CLIP model>]'; got {scorer!r}")
    kind, _, name = scorer.partition(":")
    if kind not in ("clip", "aesthetic"):
        raise ValidationError("scorer", f"unknown scorer {scorer!r}; use 'judge' (the judge's 1–10), "
                                        "'clip:tiny-clip' or 'aesthetic:tiny-clip' (or a CLIP folder / hub id)")
    return kind, name or "tiny-clip"


def check_request(studio: "LocalStudio", *, model: str, judge: str, rewriter: str, iterations: Any, n: Any,
                  stop_at: Any, scorer: Any, goal: Any, params: Mapping[str, Any],
                  judge_params: Mapping[str, Any], rewriter_params: Mapping[str, Any]) -> dict[str, Any]:
    """Every argument of ``refine`` checked before anything is stored; the normalised values."""
    iterations = check_count("iterations", iterations, minimum=1, maximum=MAX_ITERATIONS)
    n = check_count("n", n, minimum=1, maximum=MAX_N)
    if stop_at is not None and (isinstance(stop_at, bool) or not isinstance(stop_at, (int, float))
                                or not math.isfinite(stop_at)):
        raise ValidationError("stop_at", f"must be a number (the score at which a prompt stops) or None; got {stop_at!r}")
    if goal is not None and (not isinstance(goal, str) or not goal.strip()):
        raise ValidationError("goal", f"must be text or None; got {goal!r}")
    kinds = {"model": ("text-to-image", "image-to-image"), "judge": ("image-to-text",), "rewriter": ("text-to-text",)}
    infos = {}
    for arg, model_id in (("model", model), ("judge", judge), ("rewriter", rewriter)):
        if not isinstance(model_id, str) or not model_id:
            raise ValidationError(arg, f"must be a model id (see studio.models()); got {model_id!r}")
        info = studio.model(model_id)
        if info.type not in kinds[arg]:
            raise ValidationError(arg, f"{model_id} is a {info.type} model; {arg} needs a "
                                       f"{' or '.join(kinds[arg])} model (see studio.models())")
        infos[arg] = info
    for arg, given, reserved in (("params", params, ("prompt", "seed")), ("judge_params", judge_params, ("prompt",)),
                                 ("rewriter_params", rewriter_params, ("prompt",))):
        if not isinstance(given, Mapping):
            raise ValidationError(arg, f"must be a dict of parameters; got {given!r}")
        check_params_text(given)
        for key in reserved:
            if key in given:
                raise ValidationError(arg, f"{key!r} is set by the loop each round; leave it out")
    props = infos["model"].spec.get("properties", {})
    if n > 1 and "seed" not in props:
        raise ValidationError("n", f"{model} takes no seed, so its {n} images per round would be the same; use n=1")
    # The image model's parameters are checked as its first order will be (errors before anything runs).
    factory = studio.providers[infos["model"].provider].factory(infos["model"])
    factory.validate({**params, "prompt": "x", **({"seed": 1} if "seed" in props else {})})
    for arg, key, given in (("judge_params", "judge", judge_params), ("rewriter_params", "rewriter", rewriter_params)):
        known = infos[key].spec.get("properties", {})
        unknown = [k for k in given if k not in known]
        if unknown:
            raise ValidationError(arg, f"{infos[key].id} has no parameter {unknown[0]!r}; it takes "
                                       f"{', '.join(known)}")
    if first_file_input(infos["judge"].spec) is None:
        raise ValidationError("judge", f"{judge} takes no image parameter; give an image-to-text model")
    kind, clip = parse_scorer(scorer)
    if kind != "judge":
        studio.providers["transformers"].scorer(kind, clip)  # loads it now: a bad name fails here
    return {"iterations": iterations, "n": n, "stop_at": None if stop_at is None else float(stop_at),
            "scorer": "judge" if kind == "judge" else f"{kind}:{clip}", "goal": goal.strip() if goal else None,
            "infos": infos}


class RefineRunner:
    """Runs (or resumes) one refinement on the host, in the background."""

    def __init__(self, studio: "LocalStudio", refinement_id: str):
        self.studio = studio
        self.id = refinement_id
        self.cancelled = threading.Event()
        self.stopping = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"refine-{refinement_id[-6:]}", daemon=True)

    def start(self) -> "RefineRunner":
        """Start the background thread."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop at the next step (the studio is closing); the refinement stays ``running`` for the next Studio."""
        self.stopping.set()
        self._thread.join(timeout)

    # -- the loop ----------------------------------------------------------------------------
    def _cur(self):
        return self.studio.catalog.cursor()

    def _run(self) -> None:
        try:
            ref = q_ref.get_refinement(self._cur(), self.id)
            items = [i for i in q_ref.items_of(self._cur(), self.id) if i["status"] == "running"]
            if items:
                with ThreadPoolExecutor(min(len(items), MAX_PROMPT_THREADS), thread_name_prefix="refine-item") as pool:
                    list(pool.map(lambda item: self._item(ref, item), items))
            if not self.stopping.is_set() and not self.cancelled.is_set():
                q_ref.finish_refinement(self._cur(), self.id, "done")
        except Exception as exc:
            if not self.stopping.is_set():
                log.exception("refinement %s failed", self.id)
                try:
                    q_ref.finish_refinement(self._cur(), self.id, "failed", f"{type(exc).__name__}: {exc}")
                except Exception:
                    log.exception("recording the failure of refinement %s failed", self.id)
        finally:
            self.done.set()
            self.studio._refinement_changed(self.id)

    def _item(self, ref: dict, item: dict) -> None:
        try:
            self._walk(ref, item)
        except _Stopped:
            return
        except Exception as exc:
            if self.stopping.is_set() or self.cancelled.is_set():
                return
            log.exception("refinement %s, prompt %s failed", self.id, item["idx"])
            self._end_item(item, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            self.studio._refinement_changed(self.id)

    def _check(self) -> None:
        if self.stopping.is_set() or self.cancelled.is_set():
            raise _Stopped()

    def _walk(self, ref: dict, item: dict) -> None:
        rounds = q_ref.rounds_of(self._cur(), self.id, item["id"])
        history = [self._history(r) for r in rounds if r["status"] == "done"]
        current = rounds[-1] if rounds else None
        while True:
            self._check()
            if current is not None and current["status"] == "done" and current.get("next_prompt") is None:
                # the prompt's last round finished but the process died before the prompt was
                # marked done: _round finds everything recorded and says how it ended
                history = [h for h in history if h["round"] != current["round"]]
                outcome = self._round(ref, item, current, history)
                if outcome is not None:
                    self._end_item(item, *outcome)
                    return
            if current is None or current["status"] == "done":
                number = 1 if current is None else current["round"] + 1
                prompt = item["prompt"] if current is None else current["next_prompt"]
                current = {"id": new_id(), "refinement_id": self.id, "item_id": item["id"], "round": number,
                           "prompt": prompt, "status": "running"}
                q_ref.insert_round(self._cur(), current)
            outcome = self._round(ref, item, current, history)
            if outcome is not None:
                status, reason = outcome
                self._end_item(item, status, reason)
                return
            history.append(self._history(current))

    @staticmethod
    def _history(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"round": r["round"], "prompt": r["prompt"], "score": r.get("best_score"),
                "judgement": r.get("judgement")}

    def _set_round(self, r: dict, **fields: Any) -> None:
        q_ref.update_round(self._cur(), r["id"], **fields)
        r.update(fields)
        self.studio._refinement_changed(self.id)

    def _round(self, ref: dict, item: dict, r: dict, history: list) -> tuple[str, str] | None:
        """Run what is left of round ``r``; (status, reason) when the prompt's loop ends with it."""
        n, number = int(ref["n"]), r["round"]
        # 1. images
        if r.get("best_product_id") is None:
            params = dict(ref["params"]["image"])
            params["prompt"] = r["prompt"]
            props = self.studio.model(ref["model_id"]).spec.get("properties", {})
            if "seed" in props and "seed" not in params:
                params["seed"] = [secrets.randbelow(2**32) for _ in range(n)] if n > 1 else secrets.randbelow(2**32)
            order_id = self._ordered(r, "image_order_id", ref["model_id"], params, ref)
            images = [p for p in self.studio.order_products(order_id)
                      if not p.deleted and p.media_type.startswith("image/")]
            if not images:
                return "failed", f"round {number}: no image was made ({self._first_error(order_id)})"
            # 2. judgements
            judge = self.studio.model(ref["judge_id"])
            image_param = first_file_input(judge.spec)
            jparams = dict(ref["params"]["judge"])
            jparams["prompt"] = core.judge_instruction(ref["goal"], r["prompt"])
            ids = [p.id for p in images]
            jparams[image_param] = ids if len(ids) > 1 else ids[0]
            judge_order = self._ordered(r, "judge_order_id", ref["judge_id"], jparams, ref)
            texts = self._texts(judge_order, image_param)
            if not texts:
                return "failed", f"round {number}: the judge failed ({self._first_error(judge_order)})"
            # 3. scores
            candidates = [(p.id, texts[p.id]) for p in images if p.id in texts]
            scored = self._score(ref, r, candidates, {p.id: p for p in images})
            # 4. the best
            best_id, best_score = core.best_of([(pid, scored.get(pid)) for pid, _ in candidates])
            text_id, judgement = texts[best_id]
            self._set_round(r, best_product_id=best_id, best_score=best_score, judgement_product_id=text_id,
                            judgement=core.judgement_text(judgement))
            self._note_best(item, best_id, best_score)
        self._check()
        stop_at = ref["stop_at"]
        if stop_at is not None and r.get("best_score") is not None and r["best_score"] >= stop_at:
            self._set_round(r, status="done")
            return "done", f"reached stop_at {stop_at:g} in round {number} (score {r['best_score']:g})"
        if number >= int(ref["iterations"]):
            self._set_round(r, status="done")
            return "done", f"ran {number} round{'s' if number > 1 else ''}"
        # 5. the next prompt
        if r.get("next_prompt") is None:
            rparams = dict(ref["params"]["rewriter"])
            rparams["prompt"] = core.rewrite_instruction(ref["goal"], r["prompt"], r["judgement"] or "", history)
            rewriter = self.studio.model(ref["rewriter_id"])
            if "system_prompt" in rewriter.spec.get("properties", {}) and "system_prompt" not in rparams:
                rparams["system_prompt"] = core.SYSTEM_REWRITER
            order_id = self._ordered(r, "rewriter_order_id", ref["rewriter_id"], rparams, ref)
            texts = [t for t in self._texts(order_id, None).values()]
            if not texts:
                return "failed", f"round {number}: the rewriter failed ({self._first_error(order_id)})"
            next_prompt = core.clean_prompt(texts[0][1])
            if not next_prompt:
                return "failed", f"round {number}: the rewriter wrote no prompt (its answer: {texts[0][1]!r:.120})"
            self._set_round(r, next_prompt=next_prompt)
        self._set_round(r, status="done")
        return None

    def _ordered(self, r: dict, column: str, model_id: str, params: dict, ref: dict) -> str:
        """Place (or find, after a restart) the round's order in ``column``; wait for it; its id."""
        self._check()
        order_id = r.get(column)
        if order_id is None:
            order_id = new_id()
            self._set_round(r, **{column: order_id})  # recorded first: a restart finds it, never orders twice
        if self.studio.order_record(order_id) is None:
            project = Project(self.studio, ref["project_id"]) if ref["project_id"] else None
            self.studio._order(model_id, project=project, limit=None, rng_seed=None, rows=None,
                               params=params, order_id=order_id)
        while not self.studio.wait_order(order_id, POLL):
            self._check()
        self._check()
        return order_id

    def _texts(self, order_id: str, image_param: str | None) -> dict[str, tuple[str, str]]:
        """Text outputs of an order: {judged product id (or generation id): (text product id, text)}."""
        out: dict[str, tuple[str, str]] = {}
        gens = self.studio.order_generations(order_id)
        by_gen = {g["id"]: g for g in gens.to_dict("records")}
        for product in self.studio.order_products(order_id):
            gen = by_gen.get(product.generation_id)
            if gen is None or gen["status"] != "complete":
                continue
            returned = gen.get("return_params") or {}
            text = returned.get("text") if isinstance(returned, Mapping) else None
            if text is None:
                text = product.read_bytes().decode("utf-8", "replace")
            key = gen["params"].get(image_param) if image_param else gen["id"]
            if isinstance(key, list):
                key = key[0] if key else None
            if key is not None:
                out[str(key)] = (product.id, str(text))
        return out

    def _first_error(self, order_id: str) -> str:
        gens = self.studio.order_generations(order_id)
        failed = gens[gens["status"] != "complete"]
        if failed.empty:
            return "no output"
        row = failed.iloc[0]
        if row["status"] == "cancelled":
            return "cancelled"
        return f"{row.get('error_type') or 'error'}: {row.get('error_message') or ''}".strip()

    def _score(self, ref: dict, r: dict, candidates: list[tuple[str, tuple[str, str]]], products: dict) -> dict[str, float]:
        """Scores of the round's images (stored in ``scores``); a product scored before keeps its score."""
        kind, clip = parse_scorer(ref["scorer"])
        ids = [pid for pid, _ in candidates]
        scorer_name = f"judge:{ref['judge_id']}" if kind == "judge" else f"{kind}:{clip}"
        have = q_scores.scores_of(self._cur(), ids, scorer_name)
        scores = {row["product_id"]: float(row["value"]) for row in have.to_dict("records")}
        missing = [(pid, t) for pid, t in candidates if pid not in scores]
        rows = []
        if kind == "judge":
            for pid, (text_id, text) in missing:
                value = core.parse_score(text)
                if value is not None:
                    rows.append({"product_id": pid, "scorer": scorer_name, "value": value,
                                 "details": {"judgement_product_id": text_id, "judgement": text}})
        elif missing:
            scorer = self.studio.providers["transformers"].scorer(kind, clip)
            values = scorer.score([products[pid].path for pid, _ in missing], [r["prompt"]] * len(missing))
            rows = [{"product_id": pid, "scorer": scorer_name, "value": v, "details": {"prompt": r["prompt"]}}
                    for (pid, _), v in zip(missing, values)]
        q_scores.put_scores(self._cur(), rows)
        scores.update({row["product_id"]: float(row["value"]) for row in rows})
        return scores

    def _note_best(self, item: dict, product_id: str, score: float | None) -> None:
        best = item.get("best_score")
        if item.get("best_product_id") is None or (score is not None and (best is None or score > best)):
            q_ref.update_item(self._cur(), item["id"], best_product_id=product_id, best_score=score)
            item.update(best_product_id=product_id, best_score=score)

    def _end_item(self, item: dict, status: str, reason: str) -> None:
        if self.stopping.is_set():
            return
        if status == "failed":
            # the failing round ends with its prompt
            for r in q_ref.rounds_of(self._cur(), self.id, item["id"]):
                if r["status"] == "running":
                    q_ref.update_round(self._cur(), r["id"], status="failed")
        q_ref.update_item(self._cur(), item["id"], status=status, reason=reason)


def open_orders(studio: "LocalStudio", refinement_id: str) -> list[str]:
    """The orders of the refinement's running rounds (what cancelling it cancels)."""
    ids = []
    for r in q_ref.rounds_of(studio.catalog.cursor(), refinement_id):
        if r["status"] == "running":
            ids += [r[c] for c in ("image_order_id", "judge_order_id", "rewriter_order_id") if r.get(c)]
    return ids


__all__ = ["RefineRunner", "check_request", "first_file_input", "open_orders", "parse_scorer"]
