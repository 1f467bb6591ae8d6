"""Warnings for the caller, per thread: what catch_warnings (process-wide) could not keep apart."""

from __future__ import annotations

import threading
import warnings

import pytest

from imagen_nb.core import notices
from imagen_nb.core.errors import MetadataWarning


def test_outside_collect_it_warns_as_python_does():
    with pytest.warns(MetadataWarning, match="seed dropped"):
        notices.warn("seed dropped", MetadataWarning)


def test_collect_keeps_its_own_warnings_and_python_sees_none():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escaped would raise here
        with notices.collect() as given:
            notices.warn("first", MetadataWarning)
            with notices.collect() as inner:
                notices.warn("second")
            notices.warn("third")
    assert given == [(MetadataWarning, "first"), (UserWarning, "third")]
    assert inner == [(UserWarning, "second")]


def test_two_threads_collecting_at_once_keep_their_own():
    start = threading.Barrier(2)
    seen: dict[str, list] = {}

    def work(name: str) -> None:
        with notices.collect() as given:
            start.wait()
            for i in range(200):
                notices.warn(f"{name} {i}")
        seen[name] = given

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [m for _, m in seen["a"]] == [f"a {i}" for i in range(200)]
    assert [m for _, m in seen["b"]] == [f"b {i}" for i in range(200)]
