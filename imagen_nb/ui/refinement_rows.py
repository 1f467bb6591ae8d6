"""The Production panel's refinements (issue 15): one row per refinement, with its prompts' rounds.

Mixed into :class:`~.production.ProductionController`. Requests:

- ``refinements(limit=20)`` → ``{refinements: [Refinement]}``, newest first;
- ``cancel_refinement(refinement_id)`` → ``{refinement: Refinement}``.

Push: ``refinements`` ``{refinements: [Refinement]}`` with the ones that moved (a
``RefinementChanged`` event), at most ten times a second with the panel's other updates.

A Refinement: ``{id, status, model, judge, rewriter, scorer, iterations, stop_at, created,
rounds_done, rounds_max, items: [{item, title, prompt, status, reason, best_score, best_product_id,
rounds: [{round, status, score, prompt, next_prompt, product_id}]}]}``.
"""

from __future__ import annotations

import math
from typing import Any

from .bridge import PanelRequestError, need_id
from .jsonable import epoch

#: refinements listed at once
REFINEMENT_PAGE = 20


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class RefinementRows:
    """``rpc_refinements``, ``rpc_cancel_refinement`` and the ``refinements`` push."""

    def _refinement_json(self, row: dict) -> dict:
        rounds = self.studio.refinement_rounds(row["id"]).to_dict("records")
        items = []
        for item in self.studio.refinement_items(row["id"]).to_dict("records"):
            mine = [r for r in rounds if r["item"] == item["item"]]
            items.append({
                "item": int(item["item"]), "title": _text(item["title"]), "prompt": item["prompt"],
                "status": item["status"], "reason": _text(item["reason"]), "best_score": _num(item["best_score"]),
                "best_product_id": _text(item["best_product_id"]),
                "rounds": [{"round": int(r["round"]), "status": r["status"], "score": _num(r["score"]),
                            "prompt": r["prompt"], "next_prompt": _text(r["next_prompt"]),
                            "product_id": _text(r["product_id"])} for r in mine]})
        return {"id": row["id"], "status": row["status"], "model": row["model_id"], "judge": row["judge_id"],
                "rewriter": row["rewriter_id"], "scorer": row["scorer"], "iterations": int(row["iterations"]),
                "stop_at": _num(row["stop_at"]), "created": epoch(row["created_at"]),
                "rounds_done": int(row["rounds_done"]), "rounds_max": int(row["prompts"]) * int(row["iterations"]),
                "error": _text(row["error"]), "items": items}

    def rpc_refinements(self, limit: int = REFINEMENT_PAGE) -> dict:
        """The newest refinements with their prompts and rounds."""
        limit = max(1, min(int(limit), 200))
        rows = self.studio.refinements(limit=limit).to_dict("records")
        return {"refinements": [self._refinement_json(r) for r in rows]}

    def rpc_cancel_refinement(self, refinement_id: str) -> dict:
        """Cancel a refinement: its running orders stop, its running prompts end cancelled."""
        refinement_id = need_id(refinement_id, "refinement_id", "which refinement? (no id given)")
        try:
            self.studio.cancel_refinement(refinement_id)
            row = self.studio.refinement_record(refinement_id)
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="refinement_id") from exc
        return {"refinement": self._refinement_json(row)}

    def _push_refinements(self, ids: set[str]) -> None:
        if not ids:
            return
        frame = self.studio.refinements(limit=1_000)
        rows = [r for r in frame.to_dict("records") if r["id"] in ids]
        if rows:
            self.push("refinements", {"refinements": [self._refinement_json(r) for r in rows]})
