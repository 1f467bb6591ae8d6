"""How a host runs a client's call: only that call's warnings go back with it."""

from __future__ import annotations

import os
import threading
import warnings

import pytest

import imagen_nb as inb
from imagen_nb.studio.calls import call_with_warnings


@pytest.mark.filterwarnings("ignore:someone else:UserWarning")
def test_a_calls_warnings_are_its_own_while_other_threads_warn(tmp_path):
    with inb.Studio(tmp_path, serve=False) as studio:
        studio.order("instant:swatch", prompt="x", seed="[1,2,3]").wait(60)
        stop = threading.Event()

        def someone_else() -> None:  # another thread of the host warning all the while
            while not stop.is_set():
                warnings.warn("someone else's warning", UserWarning)

        other = threading.Thread(target=someone_else)
        other.start()
        try:
            for _ in range(30):
                frame, given = call_with_warnings(studio, "sql", ["select id from products"], {"max_rows": 1}, pid=7)
                assert len(frame) == 1
                assert given == [["UserWarning", "studio.sql: result cut to 1 rows; add a LIMIT or pass max_rows="]]
        finally:
            stop.set()
            other.join()


def test_an_order_records_the_process_that_placed_it(tmp_path):
    with inb.Studio(tmp_path, serve=False) as studio:
        studio.order("instant:swatch", prompt="mine")
        call_with_warnings(studio, "order", ["instant:swatch"], {"prompt": "a client's"}, pid=4242)
        studio.wait_idle(60)
        rows = studio.sql("select g.params->>'prompt' as prompt, o.ordered_by_pid as ordered, g.pid as ran "
                          "from orders o join generations g on g.order_id = o.id order by prompt")
    assert list(rows.prompt) == ["a client's", "mine"]
    assert list(rows.ordered) == [4242, os.getpid()]
    assert list(rows.ran) == [os.getpid(), os.getpid()]
