"""The state owner (``engine.state.States``): random sequences of start / finish / fail / cancel /
retry, with the catalog's rows and counts checked against a model after every step."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from imagen_nb.catalog import Catalog
from imagen_nb.catalog import orders as q_orders
from imagen_nb.core.errors import ImagenError
from imagen_nb.core.ids import new_id
from imagen_nb.core.records import GenerationFinished, OrderFinished
from imagen_nb.core.status import order_outcome
from imagen_nb.engine.bus import EventBus
from imagen_nb.engine.recorder import Finished
from imagen_nb.engine.state import States

FINAL = ("complete", "failed", "cancelled")


class StateMachine(RuleBasedStateMachine):
    """A model of orders and generations next to a real States on a real DuckDB catalog."""

    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="imagen-nb-state-"))
        self.catalog = Catalog(self.dir)
        self.bus = EventBus()
        self.events: list = []
        self.bus.subscribe(self.events.append)
        self.states = States(self.catalog, self.bus)
        self.orders: dict[str, dict] = {}  # id -> {"gens": {gid: status}, "by_user": bool}
        self.accepted = 0  # outcomes the owner took: each must give exactly one event

    def teardown(self):
        self.states.close(5)
        self.catalog.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    def _gen(self, data, final: bool | None = None):
        gens = [(oid, gid) for oid, o in self.orders.items() for gid, s in o["gens"].items()
                if final is None or (s in FINAL) == final]
        return data.draw(st.sampled_from(gens)) if gens else (None, None)

    def _order(self, data):
        return data.draw(st.sampled_from(sorted(self.orders)))

    def _finish(self, oid, gid, status) -> None:
        was_final = self.orders[oid]["gens"][gid] in FINAL
        took = self.states.finish(Finished(oid, gid, status, error_type="RuntimeError" if status == "failed" else None,
                                           error_message="boom" if status == "failed" else None))
        assert took == (not was_final), f"{gid} {self.orders[oid]['gens'][gid]} -> {status}: took={took}"
        if took:
            self.orders[oid]["gens"][gid] = status
            self.accepted += 1

    # -- rules ---------------------------------------------------------------------------------
    @rule(n=st.integers(1, 4))
    def new_order(self, n):
        oid = new_id()
        gens = [{"id": new_id(), "order_id": oid, "seq": i, "model_id": "instant:swatch",
                 "status": "pending", "params": {"prompt": str(i)}} for i in range(n)]
        q_orders.insert_order(self.catalog.cursor(), {"id": oid, "project_id": None, "model_id": "instant:swatch",
                                                      "base_params": {"prompt": "x"}, "rng_seed": 1,
                                                      "status": "pending", "generation_count": n}, gens)
        self.states.begin(oid, [g["id"] for g in gens])
        self.states.queued(oid, n)
        self.orders[oid] = {"gens": {g["id"]: "pending" for g in gens}, "by_user": False}

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def start(self, data):
        oid, gid = self._gen(data)
        was = self.orders[oid]["gens"][gid]
        assert self.states.start(oid, gid) == (was not in FINAL)
        if was not in FINAL:
            self.orders[oid]["gens"][gid] = "generating"

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), status=st.sampled_from(FINAL))
    def finish(self, data, status):
        # any generation, final ones included: a second outcome must be refused
        oid, gid = self._gen(data)
        self._finish(oid, gid, status)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel(self, data):
        oid = self._order(data)
        live = any(s not in FINAL for s in self.orders[oid]["gens"].values())
        assert self.states.cancel_order(oid) == live or not live
        if live:
            self.orders[oid]["by_user"] = True
        for gid, s in list(self.orders[oid]["gens"].items()):  # queued ones dropped, running ones stop
            if s not in FINAL:
                assert self.states.is_cancelled(oid, gid)
                self._finish(oid, gid, "cancelled")

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel_one(self, data):
        oid, gid = self._gen(data)
        self.states.cancel_generation(gid)
        assert self.states.is_cancelled(oid, gid)
        if self.orders[oid]["gens"][gid] not in FINAL:  # dropped from its queue, or stops at its next step
            self._finish(oid, gid, "cancelled")

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), everything=st.booleans())
    def retry(self, data, everything):
        oid = self._order(data)
        gens = self.orders[oid]["gens"]
        chosen = {g: s for g, s in gens.items() if s in ("failed", "cancelled")}
        if not chosen:
            return
        if not everything:
            first = sorted(chosen)[0]
            chosen = {first: chosen[first]}
        self.states.flush()
        cur = self.catalog.cursor()
        finished = all(s in FINAL for s in gens.values())
        self.states.reopen(oid, chosen, total=len(gens), done=q_orders.generation_counts(cur, oid))
        self.states.queued(oid, len(chosen))
        for g in chosen:
            gens[g] = "pending"
        if finished:
            self.orders[oid]["by_user"] = False

    # -- the catalog agrees with the model after every step -----------------------------------
    @invariant()
    def catalog_agrees(self):
        assert self.states.flush()
        cur = self.catalog.cursor()
        for oid, model in self.orders.items():
            rows = q_orders.generations_of(cur, oid)
            assert dict(zip(rows.id, rows.status)) == model["gens"]
            order = q_orders.get_order(cur, oid)
            statuses = list(model["gens"].values())
            if all(s in FINAL for s in statuses):
                counts = {s: statuses.count(s) for s in FINAL}
                expected = order_outcome(counts["complete"], counts["failed"], counts["cancelled"],
                                         cancelled_by_user=model["by_user"])
                assert order["status"] == expected
                assert (order["complete_count"], order["failed_count"], order["cancelled_count"]) == \
                    (counts["complete"], counts["failed"], counts["cancelled"])
                assert self.states.wait(oid, 0)
            else:
                assert order["status"] in ("pending", "processing", "underway")
                assert not self.states.wait(oid, 0)

    @invariant()
    def one_event_per_outcome_with_fresh_counts(self):
        finished = [e for e in self.events if isinstance(e, GenerationFinished)]
        assert len(finished) == self.accepted
        for oid, model in self.orders.items():
            mine = [e for e in finished if e.order_id == oid]
            if mine and all(s in FINAL for s in model["gens"].values()):
                last = mine[-1]
                statuses = list(model["gens"].values())
                assert (last.total, last.complete, last.failed, last.cancelled) == \
                    (len(statuses), statuses.count("complete"), statuses.count("failed"),
                     statuses.count("cancelled"))


TestStateOwner = StateMachine.TestCase
TestStateOwner.settings = settings(max_examples=20, stateful_step_count=20, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])


def test_retry_while_cancelling_is_refused_with_a_reason(tmp_path):
    catalog = Catalog(tmp_path)
    states = States(catalog, EventBus())
    try:
        oid, gids = new_id(), [new_id(), new_id()]
        q_orders.insert_order(catalog.cursor(), {"id": oid, "project_id": None, "model_id": "instant:swatch",
                                                 "base_params": {}, "rng_seed": 1, "status": "pending",
                                                 "generation_count": 2},
                              [{"id": g, "order_id": oid, "seq": i, "model_id": "instant:swatch",
                                "status": "pending", "params": {}} for i, g in enumerate(gids)])
        states.begin(oid, gids)
        states.start(oid, gids[0])
        states.finish(Finished(oid, gids[1], "failed"))
        assert states.cancel_order(oid)  # gids[0] still running: the order is being cancelled
        with pytest.raises(ImagenError, match="being cancelled; retry when it has stopped"):
            states.reopen(oid, {gids[1]: "failed"}, total=2, done={"failed": 1})
        states.finish(Finished(oid, gids[0], "cancelled"))
        assert states.wait(oid, 10)
        assert q_orders.get_order(catalog.cursor(), oid)["status"] == "cancelled"
    finally:
        states.close(5)
        catalog.close()


def test_a_failed_commit_is_reported_once_by_the_order_it_hit(tmp_path, monkeypatch):
    """A commit that fails makes that order's wait() raise once; later waits (and other orders) do not."""
    catalog = Catalog(tmp_path)
    events = []
    bus = EventBus()
    bus.subscribe(lambda e: events.append(e) if isinstance(e, OrderFinished) else None)
    states = States(catalog, bus)
    try:
        def order(n=1):
            oid, gids = new_id(), [new_id() for _ in range(n)]
            q_orders.insert_order(catalog.cursor(), {"id": oid, "project_id": None, "model_id": "m:x",
                                                     "base_params": {}, "rng_seed": 1, "status": "pending",
                                                     "generation_count": n},
                                  [{"id": g, "order_id": oid, "seq": i, "model_id": "m:x", "status": "pending",
                                    "params": {}} for i, g in enumerate(gids)])
            states.begin(oid, gids)
            return oid, gids

        broken, (gid,) = order()
        real = q_orders.finish_generations
        monkeypatch.setattr(q_orders, "finish_generations",
                            lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
        states.finish(Finished(broken, gid, "complete"))
        with pytest.raises(ImagenError, match="disk full.*retry the order"):
            states.wait(broken, 10)
        states.wait(broken, 10)  # reported once, not on every later wait
        monkeypatch.setattr(q_orders, "finish_generations", real)
        fine, (gid2,) = order()
        states.finish(Finished(fine, gid2, "complete"))
        assert states.wait(fine, 10)
        assert q_orders.get_order(catalog.cursor(), fine)["status"] == "fulfilled"
    finally:
        states.close(5)
        catalog.close()
