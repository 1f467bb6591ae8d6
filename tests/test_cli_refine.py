"""``imagen-nb refine``: a progress bar per prompt, one line per prompt, the loop in the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import imagen_nb as inb
from imagen_nb.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_refine_a_prompts_json(capsys, home, tmp_path):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"title": "Fox", "scene": "a fox", "mood": "calm", "prompt": "a red fox"},
                                   {"title": "Sea", "scene": "a calm sea", "mood": "grey"}]))
    code, out, err = run(capsys, "refine", str(prompts), "--model", "instant:swatch", "--iterations", "2",
                         "--scorer", "clip:tiny-clip", "--width", "64")
    assert code == 0, err
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert [(n, status, label) for n, status, _, _, label in lines] == [("1", "done", "Fox"), ("2", "done", "Sea")]
    assert all(Path(path).is_file() and path.startswith(str(home)) for _, _, _, path, _ in lines)
    assert "Fox" in err and "Sea" in err and "2/2" in err  # a progress bar per prompt, each at its end
    with inb.Studio(serve=False) as studio:
        (ref,) = studio.refinements()["id"]
        summary = studio.get_refinement(ref).summary
        assert len(summary) == 4 and set(summary["status"]) == {"done"}
        assert studio.refinements()["status"][0] == "done"


def test_refine_bad_input_is_one_line(capsys, home, tmp_path):
    code, _, err = run(capsys, "refine", str(tmp_path / "missing.json"), "--model", "instant:swatch")
    assert code == 2 and err.count("\n") == 1 and "no file" in err
    code, _, err = run(capsys, "refine", "a fox", "--model", "instant:swatch", "--judge", "transformers:tiny-rewriter")
    assert code == 2 and "image-to-text" in err
