"""A local text model's context: a prompt longer than it keeps its end; a reply that cannot fit is refused."""

from __future__ import annotations

import pytest

import imagen_nb as inb


@pytest.mark.slow
def test_a_prompt_longer_than_the_context_keeps_its_end_and_a_too_long_reply_is_refused(tmp_path):
    with inb.Studio(tmp_path, providers={"transformers": {"device": "cpu"}}, serve=False) as studio:
        # the tiny rewriter has a 512-token context; a refinement's history can outgrow it
        long = studio.order("transformers:tiny-rewriter", prompt="a storm over the sea, " * 400,
                            max_new_tokens=8, seed=1).wait(240)
        assert long.status == "fulfilled", long.generations.error_message.tolist()
        assert long.products[0].media_type == "text/plain"
        too_much = studio.order("transformers:tiny-rewriter", prompt="x", max_new_tokens=600, seed=1).wait(240)
        assert too_much.status == "failed"
        assert "fills this model's whole 512-token context" in too_much.generations.error_message[0]
