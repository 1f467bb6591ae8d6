"""The disk-full pause with injected faults (runs anywhere; tests/reliability/test_disk_full.py runs
the same paths on a real full tmpfs where mounting one is allowed).

A fake is used only for what a real disk cannot do on cue: fail exactly the first write, stay
full for as long as the test needs, or fail a commit that DuckDB would only fail on a full disk.
"""

from __future__ import annotations

import errno
import time

import duckdb
import pytest

import imagen_nb as inb
from imagen_nb.core.errors import DiskFull, is_disk_full
from imagen_nb.core.records import QueuePaused, QueueResumed
from imagen_nb.providers.instant import InstantFactory
from imagen_nb.store import ProductStore

pytestmark = pytest.mark.filterwarnings("ignore::imagen_nb.DiskFullWarning")

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_errors_are_recognised_through_their_causes():
    assert is_disk_full(OSError(errno.ENOSPC, "x")) and is_disk_full(OSError(errno.EDQUOT, "x"))
    assert is_disk_full(duckdb.TransactionException(
        'TransactionContext Error: Failed to commit: Could not write file "c.wal": No space left on device'))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("saving failed") from exc
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied")) and not is_disk_full(ValueError("x"))
    assert is_disk_full(DiskFull("full")) and isinstance(DiskFull("x"), OSError)


@pytest.fixture
def disk(studio, monkeypatch):
    """The studio's disk as the test says: ``disk["free"]`` bytes free; writes of product files fail
    while ``disk["fail_writes"]`` > 0 (counting down); factory calls counted in ``disk["calls"]``."""
    state = {"free": 0, "fail_writes": 0, "calls": 0}
    studio.space.interval = 0.05
    monkeypatch.setattr(studio.space, "free", lambda: state["free"])
    write = ProductStore.write

    def failing_write(self, *args, **kwargs):
        if state["fail_writes"] > 0:
            state["fail_writes"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(ProductStore, "write", failing_write)
    run = InstantFactory.run

    def counted(self, requests, ctx):
        state["calls"] += len(requests)
        return run(self, requests, ctx)

    monkeypatch.setattr(InstantFactory, "run", counted)
    return state


def events_of(studio):
    seen: list = []
    studio.subscribe(lambda e: seen.append(e) if isinstance(e, (QueuePaused, QueueResumed)) else None)
    return seen


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_a_failed_save_pauses_keeps_the_result_and_saves_it_when_space_is_back(studio, disk):
    events = events_of(studio)
    disk["fail_writes"] = 1
    order = studio.order("instant:swatch", prompt="p [1..6]")
    assert wait_for(lambda: studio.paused is not None)
    assert "full" in studio.paused and "nothing is lost" in studio.paused
    time.sleep(0.3)
    started = disk["calls"]
    assert started < 6  # what was queued did not start
    time.sleep(0.3)
    assert disk["calls"] == started
    disk["free"] = 10 * 2**30
    order.wait(10)
    assert order.status == "fulfilled" and len(order.products) == 6
    assert disk["calls"] == 6  # the generation whose save failed was not run again
    assert [type(e).__name__ for e in events] == ["QueuePaused", "QueueResumed"]
    assert studio.paused is None


def test_a_failed_commit_is_committed_again_and_counted_once(studio, disk, monkeypatch):
    events = events_of(studio)
    write = studio.recorder._write
    fails = {"n": 1}

    def failing_write(*args):
        if fails["n"]:
            fails["n"] -= 1
            raise duckdb.TransactionException(
                'TransactionContext Error: Failed to commit: Could not write file "catalog.duckdb.wal": '
                "No space left on device")
        return write(*args)

    monkeypatch.setattr(studio.recorder, "_write", failing_write)
    order = studio.order("instant:swatch", prompt="p [1..5]")
    assert wait_for(lambda: studio.paused is not None)
    assert "catalog" in studio.paused
    assert studio.recorder.flush(timeout=5) is False  # says at once that it is waiting, never hangs
    with pytest.raises(TimeoutError, match="queue is paused"):  # a wait that times out says why
        order.wait(0.2)
    disk["free"] = 10 * 2**30
    order.wait(10)
    row = studio.sql("select status, complete_count, failed_count from orders").to_dict("records")
    assert row == [{"status": "fulfilled", "complete_count": 5, "failed_count": 0}]
    assert studio.sql("select count(*) as n from products").n[0] == 5
    assert not studio.recorder.errors and len(events) == 2


def test_closing_while_paused_is_quick_and_the_next_open_runs_the_generation_again(home, studio, disk):
    disk["fail_writes"] = 10**6  # the disk stays full
    order = studio.order("instant:swatch", prompt="p")
    assert wait_for(lambda: studio.paused is not None)
    t0 = time.monotonic()
    studio.close()
    assert time.monotonic() - t0 < 5
    disk["fail_writes"] = 0
    with inb.Studio() as again:
        done = again.get_order(order.id).wait(10)
        assert done.status == "fulfilled" and len(done.products) == 1
        assert again.sql("select count(*) as n from products").n[0] == 1  # nothing half-recorded before


def test_cancelling_a_generation_that_waits_for_space_cancels_it(studio, disk):
    disk["fail_writes"] = 10**6
    order = studio.order("instant:swatch", prompt="p")
    assert wait_for(lambda: studio.paused is not None)
    order.cancel()
    order.wait(10)
    assert order.status == "cancelled" and order.products == []
    assert not list((studio.home / "products").rglob("*.png"))


def test_outcomes_held_for_a_full_catalog_at_close_are_recorded_on_reopen_not_run_again(home, studio, disk,
                                                                                          monkeypatch):
    def full(*args):
        raise duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Could not write file "catalog.duckdb.wal": '
            "No space left on device")

    monkeypatch.setattr(studio.recorder, "_write", full)  # the catalog takes nothing: the files are saved
    order = studio.order("instant:swatch", prompt="p [1..3]")
    assert wait_for(lambda: studio.paused is not None and disk["calls"] == 3)
    time.sleep(0.3)
    studio.close()
    assert disk["calls"] == 3
    with inb.Studio() as again:
        assert again.recovery.recorded_late == 3 and not again.recovery.orphan_files
        done = again.get_order(order.id).wait(10)
        assert done.status == "fulfilled" and len(done.products) == 3
        assert disk["calls"] == 3  # recorded from the journal, not bought again
        assert not list((home / "trash").rglob("*.png"))
