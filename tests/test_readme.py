"""The README's example runs as written, and its commands exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_the_ten_line_example_runs_as_written(home):
    block = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert block.count("\n") <= 12
    check = ("\nimport imagen_nb as inb\n"
             "with inb.Studio() as s:\n"
             "    df = s.sql(\"select prompt, seed from gallery where project = 'pets' order by prompt, seed\")\n"
             "    print(len(df), sorted(set(df.prompt)))\n")
    env = {**os.environ, "IMAGEN_NB_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", block + check], capture_output=True, text=True,
                            env=env, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "12 ['a black cat', 'a black dog', 'a black fox', 'a brown cat', 'a brown dog', 'a brown fox']" \
        in result.stdout


def test_the_two_commands_are_the_ones_dev_sh_and_ci_use():
    assert "./dev.sh demo" in README and "./dev.sh test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev.sh test" in ci
    dev = (ROOT / "dev.sh").read_text()
    assert "demo)" in dev and "test)" in dev and "TORCH_VERSION=2.13.0" in dev
    assert "--constraint requirements.lock" in dev  # every install takes the locked versions


def test_cli_examples_parse(capsys):
    from imagen_nb.cli import build_parser

    for line in re.search(r"```bash\nimagen-nb models\n(.*?)```", README, re.S).group(1).splitlines():
        argv = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', line)][1:]
        args, extra = build_parser().parse_known_args(argv)
        assert args.command in {"order", "sql", "tokens", "keys", "trash", "models", "upscale", "doctor", "refine"}


def test_the_sets_and_grids_example_runs_as_written(home, tmp_path):
    section = README[README.index("## Card sets from a table"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "cards.csv").write_text("value,suit\nAce,Spades\nTwo,Hearts\n")
    prelude = "import imagen_nb as inb\nstudio = inb.Studio()\n"
    check = ("cards.wait()\n"
             "print(len(deck.products), cards.generations['params'].map(lambda p: p['prompt']).tolist())\n"
             "print(studio.sql('select count(*) as n from sets').n[0], sorted(studio.sets))\n"
             "studio.close()\n")
    env = {**os.environ, "IMAGEN_NB_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", prelude + block + check], capture_output=True, text=True,
                            env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "108 ['Ace of Spades, ink', 'Two of Hearts, ink']" in result.stdout
    assert "0 ['card_deck', 'tarot', 'zodiac']" in result.stdout  # the examples are built in, not rows of `sets`
    assert (tmp_path / "deck.png").is_file()


def test_the_civitai_example_runs_as_written_against_a_loopback_civitai(home, tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "providers"))
    from civitai_server import CivitaiServer, ServerFile

    section = README[README.index("### Models and LoRAs from civitai"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    token = "readme-civitai-token-123456"
    with CivitaiServer(token) as server:
        server.add(328553, 368189, name="Tarot cards", trained_words=["tarot card"],
                   files=[ServerFile(1, "tarotCards_v10.safetensors", b"lora bytes")])
        server.add(4384, 128713, name="DreamShaper", type_="Checkpoint", version_name="8",
                   files=[ServerFile(2, "dreamshaper_8.safetensors", b"checkpoint bytes")])
        prelude = "import imagen_nb as inb\nstudio = inb.Studio()\n"
        check = ("print(lora, model, order.wait(30).status, len(studio.civitai.files()))\n"
                 "print(studio.identify()['found'].tolist())\nstudio.close()\n")
        env = {**os.environ, "IMAGEN_NB_HOME": str(home), "CIVITAI_API_TOKEN": token,
               "CIVITAI_SITE_URL": server.url, "CIVITAI_ORCHESTRATION_URL": server.url}
        result = subprocess.run([sys.executable, "-c", prelude + block + check], capture_output=True, text=True,
                                env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tarotCards_v10 diffusers:dreamshaper_8 fulfilled 2" in result.stdout
    assert "[True, True]" in result.stdout


@pytest.mark.slow
def test_the_refine_example_runs_as_written(home, tmp_path):
    section = README[README.index("## Generate, judge, rewrite"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    prelude = "import imagen_nb as inb\nstudio = inb.Studio(serve=False)\n"
    check = ("print(ref.status, len(ref.summary), len(studio.lineage(ref.best_products()[0])))\n"
             "print(len(studio.sql('select model, text from texts')))\n"
             "studio.close()\n")
    env = {**os.environ, "IMAGEN_NB_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", prelude + block + check], capture_output=True, text=True,
                            env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # 2 prompts x 3 rounds x 2 images judged, and 2 x 2 rewrites
    assert "done 6 3" in result.stdout and "\n16\n" in result.stdout
