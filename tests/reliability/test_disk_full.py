"""A full disk pauses the work, says so once, resumes when space is back, and loses nothing.

These run on a real 20 MB tmpfs (mounting one needs root; skipped with the reason otherwise).
The fault-injected versions of the same paths, which run anywhere, are in tests/engine/test_space.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagen_nb as inb
from imagen_nb.core.errors import DiskFull
from imagen_nb.core.records import GenerationFinished, GenerationResult, ModelInfo, Output, QueuePaused, QueueResumed
from imagen_nb.providers import registry
from imagen_nb.providers.instant import SPEC, InstantFactory, InstantProvider

MB = 2**20

# The warning is part of what is tested (once per pause); keep it out of the summary.
pytestmark = pytest.mark.filterwarnings("ignore::imagen_nb.DiskFullWarning")


def noise_png(width: int, height: int) -> bytes:
    """Random pixels, stored uncompressed: a product whose size is known (no compression helps)."""
    pixels = np.frombuffer(os.urandom(width * height * 3), dtype=np.uint8).reshape(height, width, 3)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


class NoiseFactory(InstantFactory):
    """Counts calls, as a paid provider would bill them; ``outputs=False`` returns no file at all
    (only the catalog is written then); ``delay`` seconds per generation."""

    calls = 0
    outputs = True
    delay = 0.0
    lock = threading.Lock()

    def run(self, requests, ctx):
        out = []
        for r in requests:
            with NoiseFactory.lock:
                NoiseFactory.calls += 1
            time.sleep(NoiseFactory.delay)
            files = (Output(noise_png(r.params["width"], r.params["height"])),) if NoiseFactory.outputs else ()
            out.append(GenerationResult(files, actual=dict(r.params)))
        return out


class NoiseProvider(InstantProvider):
    name = "noise"

    def models(self):
        return [ModelInfo("noise", "n", "text-to-image", "swatch", SPEC, "random pixels, counted calls")]

    def factory(self, model):
        return NoiseFactory(model)


@pytest.fixture
def small_disk(tmp_path):
    """A 20 MB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mnt)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the fault-injected tests in tests/engine/test_space.py "
                    "cover the same paths")
    if done.returncode != 0:
        pytest.skip(f"mounting a 20 MB tmpfs is not allowed here (needs root / CAP_SYS_ADMIN: "
                    f"{done.stderr.strip()}); tests/engine/test_space.py covers the same paths with injected faults")
    yield mnt
    if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture
def noise():
    registry.register(NoiseProvider)
    NoiseFactory.calls, NoiseFactory.outputs, NoiseFactory.delay = 0, True, 0.0
    yield NoiseFactory
    registry.unregister("noise")


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a ballast file until only ``leave`` bytes are free (0: until the disk refuses a byte)."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (MB, 64 * 1024, 4096, 1):
            try:
                while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - chunk >= leave:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return ballast


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def watch(studio):
    events: list = []
    studio.subscribe(lambda e: events.append(e) if isinstance(e, (QueuePaused, QueueResumed, GenerationFinished))
                     else None)
    return events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_a_full_disk_pauses_the_queue_keeps_every_paid_result_and_resumes(small_disk, noise, caplog):
    studio = inb.Studio(home=small_disk / "home")
    try:
        studio.space.interval = 0.1
        events = watch(studio)
        ballast = fill(small_disk, leave=2 * MB)
        # 30 products of ~0.2 MB each (6 MB): about 8 fit before the disk is full, all of them after.
        order = studio.order("noise:n", prompt="p [1..30]", width=256, height=256)
        assert wait_for(lambda: studio.paused is not None, 60), "the queue never paused on a full disk"
        time.sleep(0.5)  # generations already running when it paused reach their save
        calls = noise.calls
        time.sleep(1.0)
        assert noise.calls == calls, "generations kept starting (and billing) on a full disk"
        assert calls < 30
        assert "full" in studio.paused and "paused" in studio.paused and str(small_disk) in studio.paused
        paused = of(events, QueuePaused)
        assert len(paused) == 1 and paused[0].reason == "disk_full"  # said once, not once per generation
        warned = [r for r in caplog.records if "is full" in r.getMessage()]
        assert len(warned) == 1
        assert not [e for e in of(events, GenerationFinished) if e.status != "complete"]

        ballast.unlink()
        assert order.wait(60), "the order did not finish once space was back"
        assert studio.paused is None and len(of(events, QueueResumed)) == 1
        assert order.status == "fulfilled" and set(order.generations.status) == {"complete"}
        assert noise.calls == 30  # a result whose save failed was kept and saved, not bought again
        products = order.products
        assert len(products) == 30 and all(Path(p.path).is_file() for p in products)
        files = [p for p in (small_disk / "home" / "products").rglob("*") if p.is_file()]
        assert len(files) == 30  # no file without its row (nothing half-recorded)
        assert not studio.recorder.errors
    finally:
        studio.close()


def test_a_catalog_that_cannot_commit_pauses_and_commits_the_same_outcomes_later(small_disk, noise):
    noise.outputs, noise.delay = False, 0.05  # no product files: only the catalog writes
    studio = inb.Studio(home=small_disk / "home")
    try:
        studio.space.interval = 0.1
        events = watch(studio)
        order = studio.order("noise:n", prompt="p [1..40]")
        assert wait_for(lambda: of(events, GenerationFinished), 30)
        ballast = fill(small_disk)
        assert wait_for(lambda: studio.paused is not None, 30), "a failed catalog commit did not pause the queue"
        assert "catalog" in studio.paused
        time.sleep(0.5)
        calls = noise.calls
        time.sleep(1.0)
        assert noise.calls == calls < 40
        ballast.unlink()
        assert order.wait(60)
        assert order.status == "fulfilled" and len(order.errors) == 0
        counts = studio.sql("select status, count(*) as n from generations group by status")
        assert counts.to_dict("records") == [{"status": "complete", "n": 40}]
        assert noise.calls == 40 and not studio.recorder.errors
        assert len(of(events, QueuePaused)) >= 1 and of(events, QueueResumed)
    finally:
        studio.close()


def test_an_order_on_a_full_disk_is_refused_in_plain_words(small_disk, noise):
    studio = inb.Studio(home=small_disk / "home")
    try:
        ballast = fill(small_disk)
        # 300 generations: more than the slack in the last filesystem page the catalog's WAL holds
        # (a few small rows can fit there even on a full disk)
        with pytest.raises(DiskFull, match="is full") as info:
            studio.order("noise:n", prompt="p [1..300]")
        assert "imagen-nb trash empty" in str(info.value)
        assert noise.calls == 0
        ballast.unlink()
        assert studio.order("noise:n", prompt="p").wait(30)
        assert noise.calls == 1
    finally:
        studio.close()


def test_opening_a_home_on_a_full_disk_says_so_and_lets_go_of_it(small_disk, noise):
    home = small_disk / "home"
    with inb.Studio(home=home) as studio:
        studio.order("instant:swatch", prompt="p [1..5]").wait(30)
    ballast = fill(small_disk)
    with pytest.raises(DiskFull, match="is full") as info:
        inb.Studio(home=home)
    assert str(home) in str(info.value) and "free some space" in str(info.value).lower()
    with pytest.raises(DiskFull):
        inb.Studio(home=small_disk / "fresh")
    ballast.unlink()
    with inb.Studio(home=home) as studio:  # the failed opens released the home
        assert len(studio.gallery()) == 5


def test_outcomes_the_catalog_could_not_take_at_close_are_recorded_on_reopen_not_run_again(small_disk, noise):
    """Finished (paid) generations held for a full catalog when the Studio closes are kept in a journal
    (written in the space of the home's reserve) and recorded on reopen: each is billed once."""
    noise.outputs, noise.delay = False, 0.05  # no product files: only the catalog writes
    home = small_disk / "home"
    studio = inb.Studio(home=home)
    try:
        studio.space.interval = 0.1
        events = watch(studio)
        order = studio.order("noise:n", prompt="p [1..40]")
        assert wait_for(lambda: of(events, GenerationFinished), 30)
        ballast = fill(small_disk)
        assert wait_for(lambda: studio.paused is not None, 30), "a failed catalog commit did not pause the queue"
        time.sleep(0.5)
        assert noise.calls > len(of(events, GenerationFinished))  # finished, paid for, not in the catalog
    finally:
        studio.close()
    assert list((home / "outcomes").glob("*.json")), "the held outcomes were not kept at close"
    ballast.unlink()
    with inb.Studio(home=home) as again:
        assert again.recovery.recorded_late > 0
        done = again.get_order(order.id).wait(60)
        assert done.status == "fulfilled"
        counts = again.sql("select status, count(*) as n from generations group by status")
        assert counts.to_dict("records") == [{"status": "complete", "n": 40}]
        assert noise.calls == 40, f"{noise.calls - 40} generation(s) were run (and billed) twice"
        assert not list((home / "outcomes").glob("*.json"))  # committed once, then removed
