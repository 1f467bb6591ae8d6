"""Crash recovery: a real SIGKILL mid-order, then a reopened studio with nothing lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import imagen_nb as inb

CHILD = textwrap.dedent("""
    import sys, imagen_nb as inb
    s = inb.Studio(sys.argv[1])
    o = s.order("instant:swatch", prompt="crash [1..30]", num_inference_steps=4, step_seconds=0.02)
    print(o.id, flush=True)
    o.wait()
""")


def kill_mid_order(home: Path, after_products: int = 6) -> str:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(home)], stdout=subprocess.PIPE, text=True)
    try:
        order_id = child.stdout.readline().strip()
        assert order_id, "the child did not place its order"
        deadline = time.time() + 60
        while time.time() < deadline:
            made = [p for p in (home / "products").rglob("*.png")] if (home / "products").exists() else []
            if len(made) >= after_products:
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    return order_id


def assert_files_and_rows_agree(studio: inb.Studio) -> None:
    rows = studio.sql("select path from gallery")  # absolute, under the home it is open in
    on_disk = {str(p) for p in (studio.home / "products").rglob("*") if p.is_file()}
    assert on_disk == set(rows.path)


def test_sigkill_mid_order_then_requeue(home):
    order_id = kill_mid_order(home)
    with inb.Studio(home) as studio:
        assert order_id in studio.recovery.resumed_orders
        assert_files_and_rows_agree(studio)
        order = studio.get_order(order_id).wait(60)
        assert order.status == "fulfilled"
        gens = order.generations
        assert list(gens.status) == ["complete"] * 30
        products = order.products
        assert sorted(p.prompt for p in products) == sorted(f"crash {i}" for i in range(1, 31))
        assert len({p.generation_id for p in products}) == 30  # one product per generation, no duplicates
        assert_files_and_rows_agree(studio)
    with inb.Studio(home) as again:  # a clean reopen finds nothing to fix
        assert not again.recovery
        assert_files_and_rows_agree(again)


def test_sigkill_mid_order_then_fail_by_setting(home):
    order_id = kill_mid_order(home)
    with inb.Studio(home, recovery="fail") as studio:
        order = studio.get_order(order_id).wait(60)
        gens = order.generations
        interrupted = gens[gens.error_type == "Interrupted"]
        assert studio.recovery.failed == len(interrupted) >= 1
        assert "recovery='fail'" in interrupted.error_message.iloc[0]
        assert set(gens.status) <= {"complete", "failed"}
        assert (gens.status == "complete").sum() == len(order.products) == 30 - len(interrupted)
        assert order.status == "fulfilled"
        assert_files_and_rows_agree(studio)


def test_orphan_files_go_to_trash_and_rows_without_files_are_retired(home):
    with inb.Studio(home) as studio:
        order = studio.order("instant:swatch", prompt="keep [1,2]").wait(30)
        gone, kept = order.products
        gone.path.unlink()  # a row without a file
        orphan = gone.path.with_name("0000orphan.png")
        orphan.write_bytes(kept.read_bytes())  # a file without a row
        temp = gone.path.with_name(".tmp-crashed.png")
        temp.write_bytes(b"partial")
    with inb.Studio(home) as studio:
        report = studio.recovery
        assert report.missing_files == [gone.id]
        assert [p.name for p in report.orphan_files] == ["0000orphan.png"]
        assert report.orphan_files[0].exists() and "trash" in report.orphan_files[0].parts
        assert not orphan.exists() and not temp.exists()
        assert report.temp_files_removed == 1
        assert [p.id for p in studio.get_order(order.id).products] == [kept.id]
        assert_files_and_rows_agree(studio)


def test_close_mid_order_resumes_on_reopen(home):
    studio = inb.Studio(home)
    order = studio.order("instant:swatch", prompt="resume [1..10]", num_inference_steps=5, step_seconds=0.02)
    time.sleep(0.3)
    studio.close()
    with inb.Studio(home) as again:
        resumed = again.get_order(order.id).wait(60)
        assert resumed.status == "fulfilled"
        assert len(resumed.products) == 10


@pytest.mark.parametrize("bad", ["retry"])
def test_recovery_setting_is_checked(home, bad):
    with pytest.raises(ValueError, match="'requeue' or 'fail'"):
        inb.Studio(home, recovery=bad)
