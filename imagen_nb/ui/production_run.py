"""A LoRA training run's page from its Production row (issue 16): the loss curve, the samples by
step and the checkpoints, each usable in the Order panel as ``<name>/step-000100``.

Mixed into :class:`~.production.ProductionController` (needs its ``studio`` and ``_run_json``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .bridge import PanelRequestError, Reply, need_id
from .jsonable import epoch, jsonable
from .thumbs import attach, product_thumb

#: Points of the loss curve sent at most (a long run is thinned evenly; the last step is kept).
CURVE_POINTS = 600
#: Sample thumbnails sent with the page at most (the newest steps first).
SAMPLES_MAX = 48


def thin(rows: list[dict[str, Any]], points: int = CURVE_POINTS) -> list[dict[str, Any]]:
    """At most ``points`` rows, evenly spaced, the first and the last always kept."""
    if len(rows) <= points:
        return rows
    stride = (len(rows) - 1) / (points - 1)
    return [rows[round(i * stride)] for i in range(points)]


class RunPageRequests:
    """``training_page(run_id)``."""

    def rpc_training_page(self, run_id: str) -> Reply:
        """``{run, config, curve: [{step, loss, lr}], steps, checkpoints: [{step, lora, file, sha256, final?}],
        samples: [{id, step, prompt, thumb}]}`` (sample thumbnails as buffers)."""
        run_id = need_id(run_id, "run_id", "say which training run to show")
        try:
            handle = self.studio.training_run(run_id)
            record = handle.record()
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="run_id") from exc
        rows = self.studio.views.training_rows([record["id"]])
        run = self._run_json(rows[0]) if rows else None
        metrics = self.studio.training_metrics(record["id"])
        curve = [{"step": int(r["step"]), "loss": float(r["loss"]),
                  "lr": None if r["lr"] is None or (isinstance(r["lr"], float) and math.isnan(r["lr"])) else float(r["lr"])}
                 for r in metrics.to_dict("records")
                 if r["loss"] is not None and not (isinstance(r["loss"], float) and math.isnan(r["loss"]))]
        name = record["name"]
        checkpoints = [{"step": int(c["step"]), "lora": f"{name}/{Path(str(c['lora_path'])).stem}",
                        "file": str(c["lora_path"]), "sha256": jsonable(c.get("sha256")),
                        "created": epoch(c.get("created_at"))}
                       for c in self.studio.training_checkpoints(record["id"]).to_dict("records")]
        if record.get("status") == "completed" and record.get("lora_path"):
            # The finished LoRA itself, by its plain name (``loras="<name>"``).
            checkpoints = [c for c in checkpoints if c["step"] != int(record["step"])]
            checkpoints.append({"step": int(record["step"]), "lora": name, "file": str(record["lora_path"]),
                                "sha256": jsonable(record.get("lora_sha256")), "created": epoch(record.get("finished_at")),
                                "final": True})
        reply = Reply()
        samples = []
        products = sorted(self.studio.training_samples(record["id"]),
                          key=lambda p: (-int((p.params or {}).get("training_step") or 0), p.id))[:SAMPLES_MAX]
        for p in products:
            item = {"id": p.id, "step": jsonable((p.params or {}).get("training_step")), "prompt": p.prompt}
            attach(reply, item, product_thumb(p), type_key="mime")
            samples.append(item)
        samples.sort(key=lambda s: (s["step"] or 0, s["id"]))
        reply.result = {"run": run, "config": jsonable(handle.config), "curve": thin(curve), "steps": len(curve),
                        "checkpoints": checkpoints, "samples": samples, "lora": name}
        return reply
