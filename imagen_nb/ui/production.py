"""The Production panel's controller: recent orders and their generations, live.

The page lists recent orders (newest first, 50 at a time) with counts per status and an
overall progress bar; expanding one shows its generations a page at a time (the "window"):
status, step i/n of running ones, queue position of queued ones, elapsed time, errors, the
product's thumbnail. Orders and single generations can be cancelled, failed and cancelled
generations retried (``Studio.retry``: the same rows run again).

Live updates stay cheap however large an order is (DESIGN §5):

- :meth:`ProductionController.on_event` runs on worker threads and only notes what changed
  in dicts (running generations with their step, orders whose counts moved, window rows to
  refresh);
- :meth:`ProductionController.flush` runs at most ten times a second on the UI loop and sends
  one ``update`` message with just the deltas: changed order rows, changed generations of the
  window only (never the other 990 of a 1,000-generation order), and queue positions that moved;
- the ``activity`` push (generations queued or running, the Studio tab's badge) is sent when
  it changes, at most once a second, and at once when work starts or stops.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Iterable

from ..core.records import (
    Event, GenerationFinished, GenerationProgress, GenerationStarted, OrderFinished, OrderQueued, QueuePaused,
    QueueResumed, RefinementChanged,
)
from ..core.training import TrainingProgress, TrainingStatusChanged
from .bridge import Controller, PanelRequestError, Reply, need_id
from .code import order_code
from .jsonable import epoch, jsonable
from .production_grid import GridRequests
from .production_run import RunPageRequests
from .refinement_rows import RefinementRows
from .thumbs import attach, product_thumb

#: orders per page of the list
ORDER_PAGE = 50
#: generations per page of an expanded order (the page asks for more with "show more")
GEN_PAGE = 100
#: most generations one ``generations`` request returns
MAX_GEN_PAGE = 500
#: thumbnails one ``thumbs`` request returns at most
MAX_THUMBS = 100
#: seconds between two ``activity`` pushes while the number only moves (not to or from zero)
ACTIVITY_INTERVAL = 1.0
#: characters of a prompt shown in a row (the details view shows it whole)
LABEL_CHARS = 160

#: the page's words for generation statuses
GEN_STATUS = {"pending": "queued", "generating": "running", "complete": "complete", "failed": "failed",
              "cancelled": "cancelled"}
#: the page's status filters, as catalog statuses
GEN_FILTERS = {"queued": ("pending",), "running": ("generating",), "complete": ("complete",),
               "failed": ("failed",), "cancelled": ("cancelled",)}


def _varying(base_params: Any) -> list[str]:
    """Parameters of an order that differ between its generations (lists, or text with a group)."""
    if not isinstance(base_params, dict):
        return []
    out = []
    for key, value in base_params.items():
        if isinstance(value, list) or (isinstance(value, str) and "[" in value.replace("\\[", "")):
            out.append(key)
    return out


def _label(params: Any, varying: list[str]) -> str:
    """What tells one generation of an order from the others: its values of the varying parameters."""
    if not isinstance(params, dict):
        return ""
    parts = []
    for key in varying:
        if key not in params:
            continue
        value = params[key]
        text = value if isinstance(value, str) else repr(value) if not isinstance(value, (int, float)) else str(value)
        if key == "prompt":
            parts.insert(0, text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…")
        else:
            parts.append(f"{key.replace('num_inference_steps', 'steps')} {text[:40]}")
    return " · ".join(parts)


class ProductionController(RefinementRows, GridRequests, RunPageRequests, Controller):
    """Answers the Production panel and pushes batched live updates.

    Requests and results (times are seconds since the epoch; ``now`` lets the page correct
    for a clock that differs from the kernel's):

    - ``init()`` → ``{orders: [Order], has_more, active, paused, now}`` (``paused``: why the queue
      waits, e.g. a full disk, or None)
    - ``orders(limit=50, before=None, ids=None)`` → ``{orders: [Order], has_more, now}``
    - ``generations(order_id, offset=0, limit=100, status=None)`` → ``{order_id, offset,
      items: [Gen], has_more, now}``; the rows returned join the live window
    - ``unwatch(order_id)`` → None: the page collapsed the order, stop sending its rows
    - ``generation(generation_id)`` → ``Gen`` plus params, actual_params, return_params,
      traceback, order_id and ``thumb`` (buffer index) of its first product
    - ``thumbs(product_ids)`` → ``{items: {product_id: {buf, type}}}`` with the buffers
    - ``cancel(order_id=None, generation_id=None)`` → ``{dropped}`` (queued ones dropped at once)
    - ``retry(order_id, generation_ids=None)`` → ``{retried, order: Order}``
    - ``code(order_id)`` → ``{code}``: the ``studio.order(...)`` call that places it again

    - ``cancel_training(run_id)`` → ``{cancelled}``; ``resume_training(run_id)`` → ``{run: Run}``

    Training runs (issue 16) come with ``init`` as ``training: [Run]``: id, name, base_model,
    status, step, total, loss, lr, images_per_second, eta, losses (the last 120, for the
    sparkline), error, lora (the file once done).

    Refinements (issue 15): ``refinements()``, ``cancel_refinement(refinement_id)`` and the
    ``refinements`` push, see :mod:`.refinement_rows`.

    Pushes: ``update`` ``{now, orders?: [Order], gens?: [partial Gen], positions?: {id: n|null},
    training?: [Run]}``,
    ``activity`` ``{active}``, ``notice`` ``{paused}`` (the queue paused or resumed).
    """

    name = "production"

    def __init__(self, studio):
        super().__init__(studio)
        self._lock = threading.RLock()
        # generation id -> {order_id, started, step, total}: what runs now, from events
        self._running: dict[str, dict] = {}
        # generations that finished lately: never seeded as running from a stale catalog read
        self._finished_ids: set[str] = set()
        self._finished_order: deque[str] = deque()
        self._dirty_orders: set[str] = set()
        # the window: generation rows the page shows, id -> order id, and their status there
        self._window: dict[str, str] = {}
        self._window_status: dict[str, str] = {}
        self._varying: dict[str, list[str]] = {}
        self._gen_delta: dict[str, dict] = {}
        self._gen_reload: set[str] = set()
        self._reload_orders: set[str] = set()
        self._positions_sent: dict[str, int] = {}
        self._active_sent: int | None = None
        self._active_at = 0.0
        self._activity_timer: threading.Timer | None = None
        self._notice_dirty = False
        # training runs: id -> the latest progress event's figures; runs whose row must be re-read
        self._train_live: dict[str, dict] = {}
        self._train_dirty: set[str] = set()
        self._dirty_refinements: set[str] = set()

    def close(self) -> None:
        """Stop following events (and the pending activity update)."""
        with self._lock:
            if self._activity_timer is not None:
                self._activity_timer.cancel()
                self._activity_timer = None
        super().close()

    # -- requests --------------------------------------------------------------------------
    def rpc_init(self) -> dict:
        """The newest orders, how many generations are active, the kernel's clock."""
        out = self.rpc_orders(limit=ORDER_PAGE)
        active = self.studio.views.active_generations()
        with self._lock:
            self._active_sent, self._active_at = active, time.monotonic()
        self.push("activity", {"active": active})
        out["active"] = active
        out["paused"] = self.studio.paused
        out["cluster"] = self._cluster()
        out["training"] = [self._run_json(r) for r in self.studio.views.training_rows()]
        return out

    def rpc_cancel_training(self, run_id: str) -> dict:
        """Stop a training run after its current step (it saves a checkpoint there)."""
        run_id = need_id(run_id, "run_id", "which training run? (no id given)")
        return {"cancelled": bool(self.studio.cancel_training(run_id))}

    def rpc_resume_training(self, run_id: str) -> dict:
        """Continue a cancelled, interrupted or failed run from its last checkpoint."""
        run_id = need_id(run_id, "run_id", "which training run? (no id given)")
        try:
            self.studio.resume_training(run_id)
        except (ValueError, LookupError) as exc:
            raise PanelRequestError(str(exc), field="run_id") from exc
        rows = self.studio.views.training_rows([run_id])
        return {"run": self._run_json(rows[0]) if rows else None}

    def _run_json(self, row: dict) -> dict:
        """A training run for the page: the catalog row, with the live figures of the last step over it."""
        with self._lock:
            live = dict(self._train_live.get(row["id"], {}))
        losses = [float(x) for x in row.get("losses") or []]
        step = int(row["step"])
        if live.get("step", 0) > step and row["status"] in ("training", "pending"):
            step = live["step"]
            losses = (losses + [loss for at, loss in live.get("tail", []) if at > int(row["step"])])[-120:]
        return {
            "id": row["id"], "name": row["name"], "base_model": row["base_model"], "status": row["status"],
            "step": step, "total": int(row["total_steps"]), "images": int(row["image_count"]),
            "loss": live.get("loss", losses[-1] if losses else None), "lr": live.get("lr"),
            "images_per_second": live.get("images_per_second"), "eta": live.get("eta"),
            "losses": losses, "error": jsonable(row.get("error_message")), "lora": jsonable(row.get("lora_path")),
            "created": epoch(row.get("created_at")), "finished": epoch(row.get("finished_at")),
        }

    def _cluster(self) -> dict | None:
        """How many workers and GPUs serve the studio (a Dask cluster), or None on threads."""
        try:
            info = getattr(self.studio, "cluster", None)
        except Exception:  # the scheduler went away: say nothing rather than fail the panel
            return None
        if info is None:
            return None
        return {"workers": info.workers, "gpus": info.gpus, "dashboard": info.dashboard_link}

    def rpc_orders(self, limit: int = ORDER_PAGE, before: str | None = None,
                   ids: Iterable[str] | None = None) -> dict:
        """A page of orders newest first (``before``: older than this id), or the orders ``ids``."""
        limit = max(1, min(int(limit), 500))
        if ids is not None:
            ids = [str(i) for i in ids]
            rows = self.studio.views.order_summaries(ids=ids, limit=len(ids) or 1)
            if ids and not len(rows):
                raise PanelRequestError("this order is not in the catalog (deleted, or from another home)",
                                        field="order_id")
            has_more = False
        else:
            rows = self.studio.views.order_summaries(limit=limit + 1, before=before)
            has_more = len(rows) > limit
            rows = rows.iloc[:limit]
        records = rows.to_dict("records")
        self._seed_running(records)
        return {"orders": [self._order_json(r) for r in records], "has_more": has_more, "now": time.time()}

    def rpc_generations(self, order_id: str, offset: int = 0, limit: int = GEN_PAGE,
                        status: str | None = None) -> dict:
        """A page of an order's generations (``status``: queued, running, complete, failed,
        cancelled); they join the window that live updates cover."""
        order_id = self._order_id(order_id)
        if status is not None and status not in GEN_FILTERS:
            raise PanelRequestError(f"no generation status {status!r}; choose one of {', '.join(GEN_FILTERS)}",
                                    field="status")
        offset, limit = max(0, int(offset)), max(1, min(int(limit), MAX_GEN_PAGE))
        summary = self.studio.views.order_summaries(ids=[order_id], limit=1).to_dict("records")
        if not summary:
            raise PanelRequestError("this order is not in the catalog (deleted, or from another home)",
                                    field="order_id")
        varying = _varying(summary[0]["base_params"])
        frame = self.studio.views.generations(order_id, offset=offset, limit=limit + 1,
                                        status=GEN_FILTERS[status] if status else None)
        records = frame.to_dict("records")
        has_more = len(records) > limit
        records = records[:limit]
        with self._lock:
            self._varying[order_id] = varying
            if offset == 0:  # a fresh view of this order replaces its window
                for gid in [g for g, o in self._window.items() if o == order_id]:
                    self._drop_from_window(gid)
            items = [self._gen_json(r, varying) for r in records]
            for item in items:
                self._window[item["id"]] = order_id
                self._window_status[item["id"]] = item["status"]
        self._add_positions(items)
        return {"order_id": order_id, "offset": offset, "items": items, "has_more": has_more, "now": time.time()}

    def rpc_unwatch(self, order_id: str) -> None:
        """The page collapsed this order: stop sending updates of its generations."""
        with self._lock:
            for gid in [g for g, o in self._window.items() if o == order_id]:
                self._drop_from_window(gid)

    def rpc_generation(self, generation_id: str) -> Reply:
        """Everything about one generation: parameter sets, error with traceback, timings, product."""
        need_id(generation_id, "generation_id", "which generation? (no id given)")
        row = self.studio.generation(generation_id)
        order_id = row["order_id"]
        summary = self.studio.views.order_summaries(ids=[order_id], limit=1).to_dict("records")
        varying = _varying(summary[0]["base_params"]) if summary else []
        page = self.studio.views.generations(order_id, ids=[generation_id]).to_dict("records")
        with self._lock:
            item = self._gen_json(page[0] if page else row, varying)
        item.update(order_id=order_id, model=summary[0]["model"] if summary else None,
                    params=jsonable(row.get("params")), actual_params=jsonable(row.get("actual_params")),
                    return_params=jsonable(row.get("return_params")), traceback=jsonable(row.get("traceback")))
        if item["status"] == "queued":
            item["position"] = self.studio.views.queue_positions([generation_id]).get(generation_id)
        reply = Reply(item)
        products = self.studio.products([item["product_id"]]) if item.get("product_id") else []
        attach(reply, item, product_thumb(products[0]) if products else None)
        return reply

    def rpc_thumbs(self, product_ids: Iterable[str]) -> Reply:
        """Thumbnails of products (at most 100 a request), as buffers: ``{items: {id: {buf, type}}}``."""
        if isinstance(product_ids, str) or not isinstance(product_ids, (list, tuple)):
            raise PanelRequestError("product_ids is a list of product ids", field="product_ids")
        reply = Reply()
        items = {}
        for product in self.studio.products(list(dict.fromkeys(product_ids))[:MAX_THUMBS]):
            thumb = product_thumb(product)
            if thumb:
                items[product.id] = {"buf": reply.add(thumb.data), "type": thumb.media_type}
        reply.result = {"items": items}
        return reply

    def rpc_cancel(self, order_id: str | None = None, generation_id: str | None = None) -> dict:
        """Cancel an order or one generation: queued ones at once, a running one at its next step."""
        target = need_id(generation_id or order_id, "order_id", "say which order or generation to cancel")
        return {"dropped": self.studio.cancel(target)}

    def rpc_retry(self, order_id: str, generation_ids: Iterable[str] | None = None) -> dict:
        """Run failed and cancelled generations of an order again (all of them, or ``generation_ids``)."""
        order_id = self._order_id(order_id)
        if generation_ids is not None:
            if isinstance(generation_ids, str) or not isinstance(generation_ids, (list, tuple)):
                raise PanelRequestError("generation_ids is a list of generation ids", field="generation_ids")
            retried = len(set(generation_ids))
        else:
            rows = self.studio.views.order_summaries(ids=[order_id], limit=1).to_dict("records")
            retried = int(rows[0]["failed"] + rows[0]["cancelled"]) if rows else 0
        if not retried:
            raise PanelRequestError("nothing to retry: no generation of this order failed or was cancelled",
                                    field="order_id")
        self.studio.retry(order_id, generation_ids)
        rows = self.studio.views.order_summaries(ids=[order_id], limit=1).to_dict("records")
        return {"retried": retried, "order": self._order_json(rows[0]) if rows else None}

    def rpc_code(self, order_id: str) -> dict:
        """"Copy as code": ``{code}``, the ``studio.order(...)`` call that places this order again."""
        order_id = self._order_id(order_id)
        try:
            return {"code": order_code(self.studio, order_id)}
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="order_id") from exc

    # -- live updates ----------------------------------------------------------------------
    def on_event(self, event: Event) -> bool:
        """Note what changed (a worker thread: dicts only, no catalog, no page)."""
        order_id = getattr(event, "order_id", None)
        with self._lock:
            if isinstance(event, GenerationProgress):
                run = self._running.get(event.generation_id)
                if run is None:
                    run = self._running[event.generation_id] = {"order_id": order_id, "started": event.at}
                run["step"], run["total"] = event.step, event.total
                if event.generation_id in self._window:
                    self._delta(event.generation_id, status="running", step=event.step, total=event.total)
            elif isinstance(event, GenerationStarted):
                self._running[event.generation_id] = {"order_id": order_id, "started": event.at,
                                                      "step": 0, "total": None}
                if event.generation_id in self._window:
                    self._delta(event.generation_id, status="running", started=event.at, step=0, total=None,
                                position=None)
            elif isinstance(event, GenerationFinished):
                self._running.pop(event.generation_id, None)
                self._remember_finished(event.generation_id)
                if event.generation_id in self._window:
                    self._gen_reload.add(event.generation_id)
                    self._gen_delta.pop(event.generation_id, None)
            elif isinstance(event, TrainingProgress):
                live = self._train_live.setdefault(event.run_id, {"tail": []})
                live.update(step=event.step, loss=event.loss, lr=event.lr, images_per_second=event.images_per_second,
                            eta=event.eta_seconds)
                live["tail"] = (live["tail"] + [(event.step, event.loss)])[-120:]
                self._train_dirty.add(event.run_id)
                return True
            elif isinstance(event, TrainingStatusChanged):
                if event.status not in ("training", "pending"):
                    self._train_live.pop(event.run_id, None)
                self._train_dirty.add(event.run_id)
                return True
            elif isinstance(event, (QueuePaused, QueueResumed)):
                self._notice_dirty = True
                return True
            elif isinstance(event, RefinementChanged):
                self._dirty_refinements.add(event.refinement_id)
                return True
            elif isinstance(event, OrderQueued):
                if order_id in self._window.values():
                    self._reload_orders.add(order_id)
            elif not isinstance(event, OrderFinished):
                return False
            self._dirty_orders.add(order_id)
        return True

    def flush(self) -> None:
        """Send one ``update`` with the deltas noted since the last flush (the UI loop)."""
        with self._lock:
            dirty, self._dirty_orders = self._dirty_orders, set()
            deltas, self._gen_delta = self._gen_delta, {}
            reload, self._gen_reload = self._gen_reload, set()
            for order_id in self._reload_orders:
                reload.update(g for g, o in self._window.items() if o == order_id)
            self._reload_orders = set()
            notice, self._notice_dirty = self._notice_dirty, False
            training, self._train_dirty = self._train_dirty, set()
            refinements, self._dirty_refinements = self._dirty_refinements, set()
        self._push_refinements(refinements)
        if notice:
            self.push("notice", {"paused": self.studio.paused})
        msg: dict[str, Any] = {}
        if dirty:
            rows = self.studio.views.order_summaries(ids=sorted(dirty), limit=len(dirty)).to_dict("records")
            msg["orders"] = [self._order_json(r) for r in rows]
        gens = list(deltas.values())
        if reload:
            gens = [g for g in gens if g["id"] not in reload] + self._reload_rows(reload)
        if gens:
            msg["gens"] = gens
        positions = self._position_changes()
        if positions:
            msg["positions"] = positions
        if training:
            msg["training"] = [self._run_json(r) for r in self.studio.views.training_rows(sorted(training))]
        if msg:
            msg["now"] = time.time()
            self.push("update", msg)
        self._push_activity()

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _order_id(order_id: Any) -> str:
        return need_id(order_id, "order_id", "which order? (no order id given)")

    def _delta(self, gid: str, **fields) -> None:
        delta = self._gen_delta.setdefault(gid, {"id": gid})
        delta.update(fields)
        self._window_status[gid] = fields.get("status", self._window_status.get(gid))

    def _drop_from_window(self, gid: str) -> None:
        self._window.pop(gid, None)
        self._window_status.pop(gid, None)
        self._positions_sent.pop(gid, None)
        self._gen_delta.pop(gid, None)
        self._gen_reload.discard(gid)

    def _remember_finished(self, gid: str) -> None:
        self._finished_ids.add(gid)
        self._finished_order.append(gid)
        while len(self._finished_order) > 20_000:
            self._finished_ids.discard(self._finished_order.popleft())

    def _seed_running(self, orders: list[dict]) -> None:
        """Generations the catalog says run, for orders that started before this panel listened."""
        for row in orders:
            if not row.get("generating"):
                continue
            frame = self.studio.views.generations(row["id"], status=["generating"])
            with self._lock:
                for gid, started in zip(frame["id"], frame["started_at"]):
                    if gid not in self._running and gid not in self._finished_ids:
                        self._running[gid] = {"order_id": row["id"], "started": epoch(started) or time.time(),
                                              "step": 0, "total": None}

    def _order_json(self, row: dict) -> dict:
        total = int(row["generation_count"])
        complete, failed, cancelled = int(row["complete"]), int(row["failed"]), int(row["cancelled"])
        with self._lock:
            runs = [r for r in self._running.values() if r["order_id"] == row["id"]]
        done = complete + failed + cancelled
        # The catalog's counts are committed before the finish event reaches us: a generation can
        # be counted done while still in the running overlay for a moment. Done wins.
        runs = runs[:max(0, total - done)]
        running = len(runs)
        queued = max(0, total - done - running)
        # A generation past its last step is still being saved: it counts as not quite done.
        partial = sum(min((r.get("step") or 0) / r["total"], 0.99) for r in runs if r.get("total"))
        prompt = jsonable(row.get("prompt"))
        return {
            "id": row["id"], "model": row["model"], "project_id": jsonable(row.get("project_id")),
            "project": jsonable(row.get("project")), "status": row["status"],
            "prompt": prompt[:300] if isinstance(prompt, str) else prompt, "total": total,
            "counts": {"queued": queued, "running": running, "complete": complete, "failed": failed,
                       "cancelled": cancelled},
            "progress": min(1.0, (done + partial) / total) if total else 1.0,
            "created": epoch(row.get("created_at")), "started": epoch(row.get("started_at")),
            "finished": epoch(row.get("finished_at")),
        }

    def _gen_json(self, row: dict, varying: list[str]) -> dict:
        """A generation row for the page (call with the lock held: it reads the running overlay)."""
        status = GEN_STATUS.get(row["status"], row["status"])
        started, finished = epoch(row.get("started_at")), epoch(row.get("finished_at"))
        item = {
            "id": row["id"], "seq": int(row["seq"]), "status": status, "label": _label(row.get("params"), varying),
            "started": started, "finished": finished,
            "duration": finished - started if started is not None and finished is not None else None,
            "attempts": int(row.get("attempts") or 0), "error_type": jsonable(row.get("error_type")),
            "error_message": jsonable(row.get("error_message")), "product_id": jsonable(row.get("product_id")),
            "products": int(jsonable(row.get("products")) or 0), "step": None, "total": None, "position": None,
        }
        run = self._running.get(row["id"])
        if run is not None and status in ("queued", "running"):
            # The catalog writes 'generating' in batches; the events say it runs already.
            item.update(status="running", started=run["started"], step=run.get("step"), total=run.get("total"))
        return item

    def _reload_rows(self, ids: set[str]) -> list[dict]:
        """Fresh rows of window generations that finished or were queued again."""
        by_order: dict[str, list[str]] = {}
        with self._lock:
            for gid in ids:
                if gid in self._window:
                    by_order.setdefault(self._window[gid], []).append(gid)
        out = []
        for order_id, gids in by_order.items():
            records = self.studio.views.generations(order_id, ids=gids).to_dict("records")
            with self._lock:
                varying = self._varying.get(order_id, [])
                for r in records:
                    if r["id"] not in self._window:  # collapsed meanwhile
                        continue
                    item = self._gen_json(r, varying)
                    self._window_status[r["id"]] = item["status"]
                    if item["status"] != "queued":
                        self._positions_sent.pop(r["id"], None)
                    out.append(item)
        return out

    def _add_positions(self, items: list[dict]) -> None:
        queued = [i["id"] for i in items if i["status"] == "queued"]
        if not queued:
            return
        positions = self.studio.views.queue_positions(queued)
        with self._lock:
            for item in items:
                if item["id"] in positions:
                    item["position"] = positions[item["id"]]
                    self._positions_sent[item["id"]] = positions[item["id"]]

    def _position_changes(self) -> dict[str, int | None]:
        """Queue positions of queued window rows that moved since they were last sent."""
        with self._lock:
            queued = [g for g, s in self._window_status.items() if s == "queued"]
        if not queued:
            return {}
        positions = self.studio.views.queue_positions(queued)
        changes: dict[str, int | None] = {}
        with self._lock:
            for gid in queued:
                if self._window_status.get(gid) != "queued":
                    continue
                pos = positions.get(gid)
                if self._positions_sent.get(gid) != pos:
                    changes[gid] = pos
                    if pos is None:
                        self._positions_sent.pop(gid, None)
                    else:
                        self._positions_sent[gid] = pos
        return changes

    def _push_activity(self) -> None:
        """Push ``activity`` when the number of active generations changed, ≤ 1 a second while it
        only moves; a move to or from zero goes out at once (the badge appears or disappears)."""
        active = self.studio.views.active_generations()
        now = time.monotonic()
        with self._lock:
            last = self._active_sent
            if active == last:
                return
            edge = last is None or (active == 0) != (last == 0)
            wait = self._active_at + ACTIVITY_INTERVAL - now
            if not edge and wait > 0:
                if self._activity_timer is None and self.throttle is not None:
                    self._activity_timer = threading.Timer(wait, self._activity_due)
                    self._activity_timer.daemon = True
                    self._activity_timer.start()
                return
            self._active_sent, self._active_at = active, now
        self.push("activity", {"active": active})

    def _activity_due(self) -> None:
        with self._lock:
            self._activity_timer = None
        if self.throttle is not None:
            self.throttle.poke()
