"""The host's refine and score methods (issue 15), mixed into :class:`~.local.LocalStudio`.

``refine`` stores the refinement and its prompts, then starts a :class:`~.refine.RefineRunner`
and returns a :class:`~.refinements.Refinement` at once. ``score`` / ``scores`` /
``lineage`` are what the Gallery needs (score columns, "refined from …").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pandas as pd

from ..catalog import refinements as q_ref
from ..catalog import scores as q_scores
from ..core.errors import ValidationError
from ..core.ids import new_id
from ..core.records import RefinementChanged
from ..store.prompts import load_prompts
from .refine import RefineRunner, check_request, open_orders, parse_scorer
from .refinements import Refinement

if TYPE_CHECKING:
    from .handles import Product, Project


class RefineAPI:
    """``refine``, ``refinements``, ``get_refinement``, ``lineage``, ``score``, ``scores`` and the
    Refinement handle's reads (the host side)."""

    def refine(self, prompts: Any, model: str = "diffusers:tiny", *, judge: str = "transformers:tiny-judge",
               rewriter: str = "transformers:tiny-rewriter", iterations: int = 3, n: int = 1,
               goal: str | None = None, stop_at: float | None = None, scorer: str = "judge",
               project: "Project | str | None" = None, judge_params: Mapping[str, Any] | None = None,
               rewriter_params: Mapping[str, Any] | None = None, **params: Any) -> Refinement:
        """Generate → judge → rewrite, over rounds, for each prompt; returns at once (work runs in the background).

        Each round orders ``n`` images of the prompt, has ``judge`` describe and rate each, scores
        them, keeps the best, and (unless ``stop_at`` is reached or it was the last round) has
        ``rewriter`` write the next prompt from the goal, the prompt, the judgement and the earlier
        rounds. Every step is an ordinary order (queued, recorded, retried, cancellable).

        Args:
            prompts: a prompt, a list of prompts, or a ``prompts.json`` path (a list of
                ``{title, scene, mood, prompt}``).
            model: the image model (text-to-image), e.g. ``"diffusers:tiny"`` or ``"fal:fal-ai/flux/schnell"``.
            judge: an image-to-text model (a vision LLM or captioner).
            rewriter: a text-to-text model (an instruction LLM).
            iterations: most rounds per prompt (1–20).
            n: images per round (1–16); the best of them is judged on.
            goal: what the images should achieve (default: each prompt itself).
            stop_at: a prompt stops once its best score reaches this.
            scorer: ``"judge"`` (the judge's own "Score: N/10"), ``"clip:tiny-clip"`` or
                ``"aesthetic:tiny-clip"`` (a CLIP folder or cached hub id instead of tiny-clip).
            project: a Project or a project name for every order.
            judge_params, rewriter_params: extra parameters of the judge's and rewriter's orders.
            **params: the image model's parameters (``num_inference_steps=4``…), except prompt and seed.

        The built-in ``transformers:tiny-judge`` / ``tiny-rewriter`` have random weights: their
        text is gibberish (they exist so the loop runs offline). Raises ``ValidationError`` or
        ``UnknownModelError`` before anything is stored.
        """
        self._check_open()
        items = load_prompts(prompts)
        checked = check_request(self, model=model, judge=judge, rewriter=rewriter, iterations=iterations, n=n,
                                stop_at=stop_at, scorer=scorer, goal=goal, params=params,
                                judge_params=judge_params or {}, rewriter_params=rewriter_params or {})
        project_id = self._project_id(project)
        refinement_id = new_id()
        infos = checked["infos"]
        judge_params = dict(judge_params or {})
        if checked["scorer"] == "judge" and "score" in infos["judge"].spec.get("properties", {}):
            judge_params.setdefault("score", True)  # a judge with structured output answers {score, critique}
        row = {"id": refinement_id, "status": "running", "model_id": infos["model"].id,
               "judge_id": infos["judge"].id, "rewriter_id": infos["rewriter"].id, "scorer": checked["scorer"],
               "iterations": checked["iterations"], "n": checked["n"], "goal": checked["goal"],
               "stop_at": checked["stop_at"], "project_id": project_id,
               "params": {"image": dict(params), "judge": dict(judge_params or {}),
                          "rewriter": dict(rewriter_params or {})}}
        q_ref.insert_refinement(self.catalog.cursor(), row, [
            {"id": new_id(), "refinement_id": refinement_id, "idx": i, "title": item.title, "prompt": item.prompt,
             "extra": dict(item.extra) or None, "status": "running"} for i, item in enumerate(items)])
        self._start_refiner(refinement_id)
        return Refinement(self, refinement_id)

    def _start_refiner(self, refinement_id: str) -> None:
        with self._refiners_lock:
            runner = RefineRunner(self, refinement_id)
            self._refiners[refinement_id] = runner
        runner.start()
        self._refinement_changed(refinement_id)

    def _refinement_changed(self, refinement_id: str) -> None:
        self.bus.publish(RefinementChanged(refinement_id))

    def get_refinement(self, refinement_id: str) -> Refinement:
        """The refinement with this id."""
        self.refinement_record(refinement_id)
        return Refinement(self, refinement_id)

    def refinements(self, limit: int = 100) -> pd.DataFrame:
        """Recent refinements, newest first: status, models, prompts, prompts finished, rounds done."""
        return q_ref.list_refinements(self.catalog.cursor(), limit)

    def lineage(self, product: "Product | str") -> pd.DataFrame:
        """Every round of the refinement loop a product belongs to (as an image, a candidate or a
        judgement): round, prompt, product_id, score, judgement, next_prompt, next_product_id.
        Empty when the product was made outside any refinement. The Gallery's "refined from …"."""
        product_id = product if isinstance(product, str) else product.id
        return q_ref.lineage_of_product(self.catalog.cursor(), product_id)

    # -- the handle's reads ----------------------------------------------------------------------
    def refinement_record(self, refinement_id: str) -> dict:
        """The refinement's row with its counts (prompts, prompts_finished, rounds_done)."""
        frame = q_ref.list_refinements(self.catalog.cursor(), 1_000_000)
        rows = frame[frame["id"] == refinement_id].to_dict("records")
        if not rows:
            raise LookupError(f"no refinement {refinement_id!r} in {self.home}")
        return rows[0]

    def refinement_rounds(self, refinement_id: str) -> pd.DataFrame:
        """The summary: one row per prompt and round (the ``lineage`` view)."""
        return q_ref.lineage_rows(self.catalog.cursor(), refinement_id)

    def refinement_items(self, refinement_id: str) -> pd.DataFrame:
        """One row per prompt: item, title, prompt, status, reason, best_product_id, best_score."""
        rows = q_ref.items_of(self.catalog.cursor(), refinement_id)
        return pd.DataFrame([{"item": r["idx"], "title": r["title"], "prompt": r["prompt"], "status": r["status"],
                              "reason": r["reason"], "best_product_id": r["best_product_id"],
                              "best_score": r["best_score"]} for r in rows],
                            columns=["item", "title", "prompt", "status", "reason", "best_product_id", "best_score"])

    def wait_refinement(self, refinement_id: str, timeout: float | None = None) -> bool:
        """Block until the refinement is no longer running; False on timeout."""
        with self._refiners_lock:
            runner = self._refiners.get(refinement_id)
        if runner is not None:
            if not runner.done.wait(timeout):
                return False
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.refinement_record(refinement_id)["status"] == "running":
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.1)  # running without a runner here: another studio's, or start=False
        return True

    def cancel_refinement(self, refinement_id: str) -> None:
        """Cancel a refinement: its running orders are cancelled, its running prompts end ``cancelled``."""
        self.refinement_record(refinement_id)
        with self._refiners_lock:
            runner = self._refiners.get(refinement_id)
        if runner is not None:
            runner.cancelled.set()
        for order_id in open_orders(self, refinement_id):
            if self.order_record(order_id) is not None:
                self.cancel(order_id)
        if runner is not None:
            runner.done.wait(30)
        cur = self.catalog.cursor()
        q_ref.cancel_items(cur, refinement_id)
        q_ref.finish_refinement(cur, refinement_id, "cancelled")
        self._refinement_changed(refinement_id)

    # -- scores ----------------------------------------------------------------------------------
    def score(self, products: "Iterable[Product | str] | Product | str", scorer: str = "clip:tiny-clip", *,
              prompt: str | None = None) -> pd.DataFrame:
        """Score images with ``clip:<CLIP model>`` (prompt vs image) or ``aesthetic:<CLIP model>``; store and return them.

        Args:
            products: products or ids (images).
            scorer: ``"clip:tiny-clip"`` (the offline tiny CLIP: its scores mean nothing), ``"aesthetic:tiny-clip"``,
                or a CLIP folder / cached hub id after the colon.
            prompt: score every image against this text (default: each product's own prompt).

        Returns the stored scores (product_id, scorer, value, details); they show in the ``gallery``
        view's ``clip_score`` / ``aesthetic_score`` columns.
        """
        self._check_open()
        kind, name = parse_scorer(scorer)
        if kind == "judge":
            raise ValidationError("scorer", "studio.score runs clip or aesthetic scorers; a judge's scores come "
                                            "from studio.refine(..., scorer='judge')")
        found = self.products(self._ids(products))
        ids = self._ids(products)
        missing = sorted(set(ids) - {p.id for p in found})
        if missing:
            raise LookupError(f"no product {missing[0]!r} in {self.home}")
        not_images = [p.id for p in found if not p.media_type.startswith("image/")]
        if not_images:
            raise ValidationError("products", f"product {not_images[0]} is not an image; scores are for images")
        prompts = [prompt if prompt is not None else (p.prompt or "") for p in found]
        if kind == "clip" and any(not t for t in prompts):
            raise ValidationError("prompt", "a product has no prompt to score against; give prompt='…'")
        values = self.providers["transformers"].scorer(kind, name).score([p.path for p in found], prompts)
        label = f"{kind}:{name}"
        q_scores.put_scores(self.catalog.cursor(), [
            {"product_id": p.id, "scorer": label, "value": v, "details": {"prompt": t} if kind == "clip" else None}
            for p, v, t in zip(found, values, prompts)])
        return self.scores(found, scorer=label)

    def scores(self, products: "Iterable[Product | str] | Product | str", *, scorer: str | None = None) -> pd.DataFrame:
        """Stored scores of these products (all scorers, or one): product_id, scorer, value, details."""
        return q_scores.scores_of(self.catalog.cursor(), self._ids(products), scorer)
