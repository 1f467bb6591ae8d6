"""The notebooks run top to bottom in a fresh kernel and show what they promise.

Each runs under nbclient with the kernelspec ``python3`` (jupyter_client starts it with this
interpreter), ``IMAGEN_NB_HOME`` pointing at the test's temp home and the working directory a
temp folder; every notebook opens the user's own studio, here the temp home. After a run the kernel
is gone, so the test opens the studio the notebook used and checks the catalog itself.
"""

from __future__ import annotations

import base64
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the dev extra (nbformat, nbclient)")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the dev extra (nbformat, nbclient)")

import imagen_nb as inb

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["quickstart", "smart-parameters", "sql", "card-deck", "studio", "train-lora", "refine"]
CELL_TIMEOUT = 120  # seconds per cell; the slowest (the first diffusers:tiny order) takes ~10 s
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def run(name: str, cwd: Path):
    """Execute ``notebooks/<name>.ipynb`` in a fresh kernel; the executed notebook (any cell error fails)."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def outputs(nb, tag: str) -> list:
    """The outputs of the one cell tagged ``tag``."""
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0].outputs


def text(outs) -> str:
    """Printed text and text/plain results of some outputs, joined."""
    parts = []
    for o in outs:
        if o.output_type == "stream" and o.name == "stdout":
            parts.append(o.text)
        elif "data" in o:
            parts.append(str(o.data.get("text/plain", "")))
    return "\n".join(parts)


def image(outs):
    """The first image/png output, opened with PIL."""
    from PIL import Image

    for o in outs:
        if "image/png" in o.get("data", {}):
            return Image.open(io.BytesIO(base64.b64decode(o.data["image/png"])))
    raise AssertionError(f"no image/png output among {[list(o.get('data', {})) for o in outs]}")


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs_and_name_the_python3_kernel(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: cell {cell.id} has outputs"


def test_every_notebook_has_a_test():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.slow
def test_quickstart_orders_shows_products_and_the_widgets(tmp_path, home):
    # A user's own things in the home the quickstart opens: it must leave every one alone.
    with inb.Studio(home) as studio:
        studio.tokens["animal"] = ["owl", "heron"]
        studio.project("Book covers")
        mine = studio.order("instant:swatch", prompt="mine", project="Book covers").wait().products[0]
        studio.rate([mine], 2)
        studio.collection("favourites").add([mine])
    nb = run("quickstart", tmp_path)

    assert WIDGET_MIME in outputs(nb, "studio-widget")[0].data, "showing `studio` must display the Studio widget"
    assert WIDGET_MIME in outputs(nb, "gallery-panel")[0].data
    assert "fulfilled: 8 generations, 8 complete, 0 failed" in text(outputs(nb, "wait"))
    assert image(outputs(nb, "product")).size == (192, 192)
    assert image(outputs(nb, "strip")).size == (800, 96)
    assert "fulfilled: 9 generations, 9 complete" in text(outputs(nb, "swatches"))
    assert image(outputs(nb, "swatches")).size == (64, 64)
    rated = text(outputs(nb, "sql"))
    assert "a brown cat, watercolor" in rated and "a brown fox, watercolor" in rated and "black" not in rated

    assert "this kernel hosts the studio: True" in text(outputs(nb, "hosting"))
    with inb.Studio(home) as studio:
        counts = studio.sql("SELECT model, count(*) AS n, count(rating) AS rated FROM gallery "
                            "WHERE project = 'quickstart' GROUP BY model ORDER BY model")
        assert counts.to_dict("records") == [{"model": "diffusers:tiny", "n": 8, "rated": 3},
                                             {"model": "instant:swatch", "n": 9, "rated": 0}]
        assert studio.tokens["animal"] == ["owl", "heron"]
        assert studio.product(mine.id).rating == 2
        assert studio.sql("SELECT count(*) AS n FROM gallery WHERE project = 'Book covers'")["n"][0] == 1
        favourites = studio.sql("SELECT collections FROM gallery WHERE product_id = ?", [mine.id])["collections"][0]
        assert list(favourites) == ["favourites"]
        assert studio.sql("SELECT count(*) AS n FROM gallery WHERE list_contains(collections, 'favourites')")["n"][0] == 1
        assert all(Path(p).is_file() for p in studio.sql("SELECT path FROM gallery")["path"])


def test_smart_parameters_shows_every_form_and_its_errors(tmp_path, home):
    nb = run("smart-parameters", tmp_path)

    ranges = text(outputs(nb, "ranges"))
    for line in ("[3..1] → [3, 2, 1]", "[7..8:0.5] → [7.0, 7.5, 8.0]", "[0..0.3:0.1] → [0.0, 0.1, 0.2, 0.3]",
                 "[1..3,10] → [1, 2, 3, 10]"):
        assert line in ranges
    assert "same picks with the same rng_seed: True" in text(outputs(nb, "picks"))
    assert "a dog, ink [sketch]" in text(outputs(nb, "tokens"))  # token values are not parsed
    assert "[masterpiece], a cat, sleeping" in text(outputs(nb, "escapes"))
    limit = text(outputs(nb, "limit"))
    assert "generations: 12000" in limit and "OrderTooLarge → this order would make 12,000 generations" in limit
    assert text(outputs(nb, "limit-raised")).strip() == "1200"
    errors = text(outputs(nb, "errors"))
    assert "SmartParameterError(param='prompt', column=11)" in errors
    assert "Did you mean 'animal'?" in errors
    assert "SmartParameterError(param='seed', column=2)" in errors
    assert "ValidationError(param='width')" in errors
    assert "fulfilled: 18 generations, 18 complete" in text(outputs(nb, "order"))
    assert text(outputs(nb, "reorder")).strip() == "True"

    with inb.Studio(home) as studio:  # the user's own studio, not a private one
        assert studio.tokens["animal"] == ["cat", "dog", "fox"]
        assert studio.orders()["generation_count"].tolist() == [18, 18]


@pytest.mark.slow
def test_sql_makes_real_data_and_plots_products_per_model_per_day(tmp_path, home):
    nb = run("sql", tmp_path)

    plot = image(outputs(nb, "plot"))
    assert plot.width >= 500 and plot.height >= 250
    assert len(plot.convert("RGB").resize((64, 32)).getcolors(64 * 32)) > 4, "the plot is blank"
    assert "image: no file at" in text(outputs(nb, "failures"))  # the start image removed before it ran
    assert "cancelled" in text(outputs(nb, "status"))
    assert "DPM++ 2M" in text(outputs(nb, "json"))
    assert "SqlRefused: DELETE statements are not allowed" in text(outputs(nb, "refused"))
    assert "provider" in text(outputs(nb, "api-calls"))

    with inb.Studio(home) as studio:
        per_model = studio.sql("SELECT model, count(*) AS n FROM gallery GROUP BY model ORDER BY model")
        assert per_model.to_dict("records") == [{"model": "diffusers:tiny", "n": 8}, {"model": "instant:swatch", "n": 24}]
        failed = studio.sql("SELECT count(*) AS n FROM generations WHERE status = 'failed'")["n"][0]
        assert failed == 3
    day_table = text(outputs(nb, "per-day"))
    assert re.search(r"diffusers:tiny\s+8\n", day_table) and re.search(r"instant:swatch\s+24\b", day_table)


def test_card_deck_makes_54_cards_in_a_collection_and_a_contact_sheet(tmp_path, home):
    nb = run("card-deck", tmp_path)

    assert text(outputs(nb, "cards")).startswith("54 cards: Ace of Spades")
    grid = image(outputs(nb, "set-grid"))  # the example set's 54 rows laid out by value × suit
    assert 1000 < grid.width < 2000 and grid.height > 400
    assert "fulfilled: 54 generations, 54 complete" in text(outputs(nb, "order"))
    assert "<Collection 'deck': 54 products>" in text(outputs(nb, "collection"))
    sheet = image(outputs(nb, "contact-sheet"))
    assert sheet.width > sheet.height > 400  # 13 columns × 5 rows of 96×144 cards

    with inb.Studio(home) as studio:
        deck = studio.collection("deck", create=False)
        prompts = [p.prompt for p in deck.products]
        assert len(prompts) == 54
        assert prompts[0] == "a playing card: Ace of Spades, ornate"
        assert prompts[-1] == "a playing card: Black Joker, ornate"
        assert len(set(prompts)) == 54
        assert (studio.home / "deck-contact-sheet.png").is_file()


def test_train_lora_rates_selects_trains_and_compares_in_a_grid(tmp_path, home):
    nb = run("train-lora", tmp_path)

    dataset = text(outputs(nb, "train"))
    assert "inkstyle, a red cat in ink" in dataset and "blue" not in dataset  # only the rated ones
    assert "completed, step 30 of 30, 4 images" in text(outputs(nb, "wait"))
    image(outputs(nb, "curve"))  # the loss plot
    assert "ink-style" in text(outputs(nb, "loras"))
    grid = image(outputs(nb, "compare"))  # 3 seeds × (base, LoRA)
    assert grid.width > grid.height > 150
    assert "ink-style True" in text(outputs(nb, "hash"))

    with inb.Studio(home) as studio:
        lora = studio.training_run("ink-style")
        assert lora.status == "completed" and len(lora.metrics()) == 30
        assert list(lora.checkpoints()["step"]) == [10, 20]
        assert [p.params["training_step"] for p in lora.samples()] == [10, 20, 30]
        compared = studio.sql("select cast(return_params->'loras'->0->>'weight' as double) as w from generations"
                              " where order_id = (select id from orders order by created_at desc limit 1) order by seq")
        assert compared["w"].tolist() == [0.0, 0.8] * 3  # seed by seed: base, then the LoRA


def test_studio_notebook_runs_in_a_kernel(tmp_path, home):
    nb = run("studio", tmp_path)
    assert outputs(nb, "app"), "the app cell shows the Panel app in a notebook"
    with inb.Studio(home):  # the kernel's studio was released when the kernel stopped
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_panel_serve_serves_the_studio_notebook(tmp_path, home):
    port = _free_port()
    panel = Path(sys.executable).with_name("panel")
    command = [str(panel) if panel.exists() else sys.executable, *([] if panel.exists() else ["-m", "panel"]),
               "serve", str(NOTEBOOKS / "studio.ipynb"), "--address", "127.0.0.1", "--port", str(port),
               "--allow-websocket-origin", f"127.0.0.1:{port}", "--plugins", "imagen_nb.web.panel_plugin"]
    server = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "IMAGEN_NB_HOME": str(home)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/studio", timeout=30) as response:
                    page = response.read().decode()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"panel serve did not answer:\n{server.stdout.read() if server.poll() is not None else ''}")
                time.sleep(0.5)
        assert "<title>imagen-nb</title>" in page
        # The session ran the notebook, which opened the studio in the server process.
        assert (home / "catalog.duckdb").is_file()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_refine_notebook_runs_three_prompts_three_rounds(tmp_path, home):
    nb = run("refine", tmp_path)
    assert "done: 3/3 prompts finished, 9 rounds done" in text(outputs(nb, "run"))
    summary = text(outputs(nb, "summary"))
    assert "Lighthouse" in summary and "Fox" in summary
    assert text(outputs(nb, "best")).count("ran 3 rounds") == 3
    assert image(outputs(nb, "image")).size == (64, 64)
    with inb.Studio(home) as studio:
        (ref,) = studio.refinements()["id"]
        rounds = studio.get_refinement(ref).summary
        assert len(rounds) == 9 and rounds["score"].notna().all()
        assert studio.sql("select count(*) as n from texts")["n"][0] == 9 * 2 + 3 * 2  # judgements + rewrites
        assert studio.gallery_count(project="refine") == 18
