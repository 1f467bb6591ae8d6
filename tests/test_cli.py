"""The imagen-nb command: models, order, sql, tokens; bad input is one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imagen_nb.cli import main, parse_params


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "diffusers:tiny" in out and "instant:swatch" in out


def test_order_prints_the_product_paths(capsys, home):
    code, out, err = run(capsys, "order", "instant:swatch", "--prompt", "a [red,blue] fox", "--seed", "[1,2]",
                         "--num-inference-steps=2")
    assert code == 0, err
    paths = out.split()
    assert len(paths) == 4 and all(Path(p).exists() and p.startswith(str(home)) for p in paths)
    assert "4/4" in err  # the progress bar


def test_sql_and_tokens(capsys):
    assert run(capsys, "tokens", "set", "animal", "cat", "dog")[0] == 0
    code, out, _ = run(capsys, "tokens", "list")
    assert "animal: cat, dog" in out
    assert run(capsys, "order", "instant:swatch", "--prompt", "a [animal]")[0] == 0
    code, out, _ = run(capsys, "sql", "select prompt from gallery order by prompt")
    assert code == 0 and out.split() == ["prompt", "a", "cat", "a", "dog"]
    code, out, _ = run(capsys, "sql", "--json", "select count(*) as n from products")
    assert out.strip() == '[{"n":2}]'


@pytest.mark.parametrize("argv, message", [
    (["order", "instant:swatch", "--prompt", "p", "--width", "65"], "multiple of 8"),
    (["order", "nope:model", "--prompt", "p"], "no provider 'nope'"),
    (["order", "instant:swatch", "--prompt", "a [b,c|d]"], "prompt"),
    (["order", "instant:swatch"], "give the model's parameters"),
    (["order", "instant:swatch", "--prompt"], "--prompt needs a value"),
    (["sql", "delete from products"], "DELETE statements are not allowed"),
    (["sql", "select * from nowhere"], "nowhere"),
    (["tokens", "set", "animal"], "needs at least one value"),
    (["frobnicate"], "invalid choice"),
    (["models", "extra"], "invalid choice: 'extra'"),
    (["models", "list", "extra"], "takes no argument"),
    (["models", "list", "a", "b"], "unexpected arguments"),
    (["serve", "--address", "0.0.0.0"], "set --password"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert out == ""


def test_the_installed_command_exits_2_on_bad_input():
    result = subprocess.run([sys.executable, "-m", "imagen_nb", "order", "instant:swatch", "--prompt", "p",
                             "--steps", "4"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("imagen-nb: ") and "Did you mean 'num_inference_steps'" in result.stderr


def test_parse_params_types_numbers_and_keeps_text():
    assert parse_params(["--seed", "[1,2]", "--num-inference-steps=4", "--guidance_scale", "7.5",
                         "--prompt", "a cat"]) == {
        "seed": "[1,2]", "num_inference_steps": 4, "guidance_scale": 7.5, "prompt": "a cat"}


def test_keys_are_stored_0600_and_never_printed(capsys, home, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    secret = "fal-id-1234:very-secret-5678"
    code, out, err = run(capsys, "keys", "set", "fal", secret)
    assert code == 0 and secret not in out + err
    keys_file = home / "keys.json"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    code, out, _ = run(capsys, "keys", "list")
    assert f"fal: {keys_file}" in out and "replicate: not set" in out and "very-secret" not in out
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_token_abcdef")
    assert "replicate: env REPLICATE_API_TOKEN" in run(capsys, "keys", "list")[1]
    assert run(capsys, "keys", "delete", "fal")[0] == 0
    code, _, err = run(capsys, "keys", "delete", "fal")
    assert code == 2 and "no stored key" in err


def test_keys_set_reads_a_piped_key(capsys, home, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("piped-key-123456\n"))
    assert run(capsys, "keys", "set", "replicate")[0] == 0
    from imagen_nb.providers.keys import KeyStore

    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    assert KeyStore(home).get("replicate") == "piped-key-123456"


def test_trash_list_and_empty(capsys, home):
    from datetime import datetime, timezone

    from imagen_nb.store import ProductStore

    store = ProductStore(home)
    store.move_to_trash(store.write("1" * 26, b"x" * 2048, "png", datetime.now(timezone.utc)).path)
    code, out, _ = run(capsys, "trash", "list")
    assert code == 0 and "2,048" in out and "1 file(s)" in out and "trash empty" in out
    code, _, err = run(capsys, "trash", "empty")  # no terminal to ask: nothing deleted without --yes
    assert code == 2 and "trash empty --yes" in err and len(store.trash_files()) == 1
    code, out, _ = run(capsys, "trash", "empty", "--yes")
    assert code == 0 and "removed 1 file(s)" in out
    assert run(capsys, "trash", "list")[1].strip().startswith("0 file(s)")


def test_trash_commands_open_no_catalog_and_set_nothing_aside(capsys, home):
    """A home whose catalog was lost: listing or emptying the trash must not run recovery first."""
    from datetime import datetime, timezone

    from imagen_nb.store import ProductStore

    store = ProductStore(home)
    kept = store.write("2" * 26, b"y" * 100, "png", datetime.now(timezone.utc)).path
    import imagen_nb as inb

    with inb.Studio(home=home):  # a notebook hosts the home meanwhile: no CatalogBusy for the CLI
        code, out, _ = run(capsys, "trash", "empty", "--yes")
        assert code == 0 and "0 file(s)" in out
    assert kept.exists() and store.trash_files() == []  # a file no generation of this catalog made stays


def test_sql_max_rows_note_names_the_cli_flag(capsys):
    code, out, err = run(capsys, "sql", "select * from range(20)", "--max-rows", "5")
    assert code == 0 and "--max-rows" in err and "max_rows=" not in err
