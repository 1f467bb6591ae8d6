"""Ids sort in creation order and never repeat, across threads too."""

from __future__ import annotations

import threading

from imagen_nb.core.ids import new_id


def test_ids_are_unique_and_sorted_in_creation_order():
    ids = [new_id() for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 and int(i, 16) >= 0 for i in ids[:10])


def test_ids_from_many_threads_never_collide():
    out: list[list[str]] = [[] for _ in range(4)]

    def make(slot):
        out[slot].extend(new_id() for _ in range(10_000))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for chunk in out for i in chunk]
    assert len(set(every)) == 40_000
