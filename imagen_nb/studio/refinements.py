"""The :class:`Refinement` handle that ``studio.refine`` returns at once (issue 15).

Like :class:`~.handles.Order` it holds an id and its studio and reads the catalog through the
studio's public handle methods, so it works the same in the host and in a client.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .handles import Product
    from .surface import Studio


class Refinement:
    """A generate → judge → rewrite loop over one or more prompts, running in the background.

    ``progress`` and ``status`` say how far it is, ``summary`` has one row per prompt and round
    (prompt, round, product, judgement, score, next prompt), ``best`` the best product per prompt,
    ``lineage()`` the chain product → judgement → next prompt → next product.
    """

    def __init__(self, studio: "Studio", refinement_id: str):
        self._studio = studio
        self.id = refinement_id

    def _row(self) -> dict:
        return self._studio.refinement_record(self.id)

    def __repr__(self) -> str:
        row = self._row()
        return (f"<Refinement {self.id} {row['status']}: {row['prompts_finished']}/{row['prompts']} prompts finished, "
                f"{row['rounds_done']} rounds done; {row['model_id']} judged by {row['judge_id']}, "
                f"rewritten by {row['rewriter_id']}>")

    @property
    def status(self) -> str:
        """running, done, cancelled or failed (a prompt that failed says why in ``best.reason``)."""
        return self._row()["status"]

    @property
    def done(self) -> bool:
        """True once it is no longer running."""
        return self.status != "running"

    @property
    def progress(self) -> dict[str, Any]:
        """Counts: prompts, prompts_finished, rounds_done, rounds_max (prompts × iterations) and status."""
        row = self._row()
        return {"status": row["status"], "prompts": int(row["prompts"]), "prompts_finished": int(row["prompts_finished"]),
                "rounds_done": int(row["rounds_done"]), "rounds_max": int(row["prompts"]) * int(row["iterations"])}

    @property
    def summary(self) -> pd.DataFrame:
        """One row per prompt and round: item, title, round, prompt, product_id, judgement, score,
        next_prompt, next_product_id, status and the orders placed."""
        return self._studio.refinement_rounds(self.id)

    @property
    def best(self) -> pd.DataFrame:
        """One row per prompt: item, title, prompt (the first), status, reason, best_product_id, best_score."""
        return self._studio.refinement_items(self.id)

    def best_products(self) -> "list[Product]":
        """The best product of each prompt that has one, in prompt order."""
        ids = [i for i in self.best["best_product_id"].tolist() if isinstance(i, str)]
        return self._studio.products(ids)

    def lineage(self, product: "Product | str | None" = None) -> pd.DataFrame:
        """The chain of one product (every round of its prompt), or of every prompt when none is given."""
        if product is None:
            return self.summary
        return self._studio.lineage(product)

    def wait(self, timeout: float | None = None) -> "Refinement":
        """Block until every prompt is finished; raises TimeoutError after ``timeout`` seconds."""
        if not self._studio.wait_refinement(self.id, timeout):
            raise TimeoutError(f"refinement {self.id} still running after {timeout} s: {self.progress}")
        return self

    def cancel(self) -> "Refinement":
        """Stop every prompt now: running orders are cancelled, what is done stays."""
        self._studio.cancel_refinement(self.id)
        return self

    def show_progress(self, *, timeout: float | None = None, interval: float = 0.5) -> "Refinement":
        """Wait with one progress bar per prompt (tqdm: in a notebook or a terminal), then return."""
        from tqdm.auto import tqdm

        bars: dict[int, Any] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        iterations = int(self._row()["iterations"])
        try:
            while True:
                finished = self._studio.wait_refinement(self.id, interval)
                rounds = self.summary
                for item in self.best.to_dict("records"):
                    idx = int(item["item"])
                    bar = bars.get(idx)
                    if bar is None:
                        label = (item.get("title") or item["prompt"])[:30]
                        bar = bars[idx] = tqdm(total=iterations, desc=label, unit="round", leave=True)
                    done = int(((rounds["item"] == idx) & (rounds["status"] == "done")).sum()) if len(rounds) else 0
                    if item["status"] != "running":
                        bar.total = max(done, 1)
                        bar.set_postfix_str(item["status"])
                    bar.n = done
                    bar.refresh()
                if finished or (deadline is not None and time.monotonic() > deadline):
                    return self
        finally:
            for bar in bars.values():
                bar.close()
