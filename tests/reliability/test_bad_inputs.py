"""Bad inputs from the adversarial review (issue 10, item 8): each fails with our own error that
names what is wrong, before anything is written.

``PYTHON_ATTACKS`` and ``CLI_ATTACKS`` are the lists tried; the counts of attacks tried and
held come from them (``len(PYTHON_ATTACKS) + len(CLI_ATTACKS)``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from imagen_nb.cli import main
from imagen_nb.core.errors import ImagenError, SmartParameterError, SqlError, SqlRefused, ValidationError

# (name, call on a studio, error class, words the message must hold)
PYTHON_ATTACKS = [
    ("order limit='abc'", lambda s: s.order("instant:swatch", prompt="p", limit="abc"), ValidationError, "limit"),
    ("order limit=-1", lambda s: s.order("instant:swatch", prompt="p", limit=-1), ValidationError, "limit"),
    ("order limit=True", lambda s: s.order("instant:swatch", prompt="p", limit=True), ValidationError, "limit"),
    ("order rng_seed='abc'", lambda s: s.order("instant:swatch", prompt="p [a|b]", rng_seed="abc"),
     ValidationError, "rng_seed"),
    ("order rng_seed=2**70", lambda s: s.order("instant:swatch", prompt="p", rng_seed=2**70), ValidationError,
     "rng_seed"),
    ("expand limit='abc'", lambda s: s.expand(prompt="p", limit="abc"), ValidationError, "limit"),
    ("lone surrogate in a prompt", lambda s: s.order("instant:swatch", prompt="a\ud800b"), ValidationError,
     "prompt"),
    ("NUL in a prompt", lambda s: s.order("instant:swatch", prompt="a\x00b"), ValidationError, "NUL"),
    ("NUL in a negative prompt", lambda s: s.order("instant:swatch", prompt="p", negative_prompt="x\x00"),
     ValidationError, "negative_prompt"),
    ("NUL in a list option", lambda s: s.order("instant:swatch", prompt=["a", "b\x00"]), ValidationError, "prompt"),
    ("10,000-deep [ prompt", lambda s: s.order("instant:swatch", prompt="[" * 10_000), SmartParameterError,
     "nest more than 32"),
    ("collection('')", lambda s: s.collection(""), ValidationError, "non-empty"),
    ("collection(None)", lambda s: s.collection(None), ValidationError, "text"),
    ("collection with NUL", lambda s: s.collection("a\x00"), ValidationError, "NUL"),
    ("collection('c1').add(['nope'])", lambda s: s.collection("c1").add(["nope"]), LookupError, "nope"),
    ("project with a surrogate", lambda s: s.project("p\udcff"), ValidationError, "project"),
    ("token value with NUL", lambda s: s.tokens.__setitem__("animal", ["cat\x00"]), ValidationError, "NUL"),
    ("sql timeout=None", lambda s: s.sql("select 1", timeout=None), ValidationError, "timeout"),
    ("sql timeout=-1", lambda s: s.sql("select 1", timeout=-1), ValidationError, "timeout"),
    ("sql timeout=nan", lambda s: s.sql("select 1", timeout=float("nan")), ValidationError, "timeout"),
    ("sql max_rows=-1", lambda s: s.sql("select 1", max_rows=-1), ValidationError, "max_rows"),
    ("sql result over max_bytes", lambda s: s.sql("select repeat('x', 16384) as s from range(1000)",
                                                  max_bytes=5 * 2**20), SqlError, "larger than 5 MB"),
    ("sql INSTALL", lambda s: s.sql("INSTALL httpfs"), SqlRefused, "INSTALL statements"),
    ("sql IMPORT DATABASE", lambda s: s.sql("IMPORT DATABASE '/tmp'"), SqlRefused, "IMPORT DATABASE statements"),
    ("import_products(None)", lambda s: s.import_products(None), ValidationError, "paths"),
    ("import_products([None])", lambda s: s.import_products([None]), ValidationError, "paths"),
    ("gallery(limit=-1)", lambda s: s.gallery(limit=-1), ValidationError, "limit"),
    ("gallery(limit='abc')", lambda s: s.gallery(limit="abc"), ValidationError, "limit"),
    ("gallery(offset=-5)", lambda s: s.gallery(offset=-5), ValidationError, "offset"),
    ("orders(limit=-1)", lambda s: s.orders(limit=-1), ValidationError, "limit"),
    ("order_summaries(limit='x')", lambda s: s.views.order_summaries(limit="x"), ValidationError, "limit"),
    ("generations(offset=-1)", lambda s: s.views.generations("x", offset=-1), ValidationError, "offset"),
    ("Studio(limit='abc')", lambda s: type(s)(home=s.home / "other", limit="abc"), ValidationError, "limit"),
    ("keys.set('nope')", lambda s: s.keys.set("nope", "abc123"), ValidationError, "no provider 'nope'"),
]


def footprint(studio) -> dict:
    """What a bad input must not change: rows of every table a call could write, and the files."""
    counts = studio.sql("""select (select count(*) from orders) as orders, (select count(*) from generations) as gens,
                                  (select count(*) from collections) as collections,
                                  (select count(*) from projects) as projects,
                                  (select count(*) from products) as products,
                                  (select count(*) from smart_tokens) as tokens""").to_dict("records")[0]
    files = sorted(str(p.relative_to(studio.home)) for p in studio.home.rglob("*")
                   if p.is_file() and not p.name.startswith("catalog."))
    return {**counts, "files": files}


@pytest.mark.parametrize("name, attack, error, words", PYTHON_ATTACKS, ids=[a[0] for a in PYTHON_ATTACKS])
def test_python_attack_is_refused_before_anything_is_written(studio, name, attack, error, words):
    before = footprint(studio)
    with pytest.raises(error) as info:
        attack(studio)
    assert words in str(info.value)
    assert isinstance(info.value, (ImagenError, LookupError)), f"{name}: {type(info.value)} is not ours"
    assert footprint(studio) == before, f"{name} wrote something before failing"


def test_a_bytes_cap_holds_for_the_50_x_100_mb_attack(studio):
    with pytest.raises(SqlRefused, match="would make a value of more than"):  # refused before it runs
        studio.sql("select repeat('x', 100000000) as s from range(50)", timeout=300)
    with pytest.raises(SqlError, match="larger than 50 MB"):  # 50 x 2 MB built from pieces each allowed
        studio.sql("select string_agg(repeat('x', 16384), '') as s from range(6400) t(i) group by i % 50",
                   timeout=300, max_bytes=50 * 2**20)
    assert studio.sql("select 1 as one").one[0] == 1  # the catalog is still fine


def test_the_bytes_cap_stops_within_a_few_rows_of_the_cap_not_a_batch_of_2048(studio):
    """Rows of 16 KB, a cap of 1 MB: refused after reading at most the cap and one batch of 256 rows
    (it was checked once per 2,048 rows: 32 MB read for a 1 MB cap)."""
    with pytest.raises(SqlError, match="larger than 1 MB") as info:
        studio.sql("select repeat('x', 16384) as s from range(100000)", max_bytes=2**20)
    read = float(re.search(r"stopped after reading ([0-9.]+) MB", str(info.value)).group(1))
    assert read <= 1 + 256 * 16384 / 2**20 + 0.5, f"read {read} MB before refusing a 1 MB result"


def test_png_text_chunks_never_hold_nul():
    from imagen_nb.providers.instant import swatch_png
    from imagen_nb.store import pngmeta

    data = pngmeta.embed(swatch_png("p", 1, 64, 64), {"prompt": "a\x00b", "seed": 1}, "instant:swatch")
    meta = pngmeta.read(data)
    assert meta["params"]["prompt"] in ("ab", "a\x00b")  # the JSON chunk escapes it; the infotext drops it
    assert b"a\x00b" not in data


# (argv, words the one line on stderr must hold); each must exit 2 without a traceback.
CLI_ATTACKS = [
    (["order", "instant:swatch", "--prompt", "[" * 10_000], "nest more than 32"),
    (["order", "instant:swatch", "--prompt", "a\udcff"], "not valid UTF-8"),
    (["sql", "select '\udcfe'"], "not valid UTF-8"),
    (["order", "instant:swatch", "--prompt", "p", "--limit", "abc"], "--limit"),
    (["serve", "--port", "99999"], "1 to 65535"),
    (["serve", "--port", "0"], "1 to 65535"),
    (["serve", "--port", "abc"], "not a port"),
    (["keys", "set", "nope", "abc123"], "no provider 'nope'"),
    (["keys", "set", "fall", "abc123"], "Did you mean 'fal'"),
    (["sql", "INSTALL httpfs"], "INSTALL statements"),
    (["sql", "select 1", "--timeout", "-1"], "--timeout"),
    (["sql", "select 1", "--max-rows", "-1"], "--max-rows"),
    (["trash", "burn"], "invalid choice"),
]


@pytest.mark.parametrize("argv, words", CLI_ATTACKS, ids=[" ".join(a)[:40] for a, _ in CLI_ATTACKS])
def test_cli_attack_is_one_line_and_exit_2(capsys, home, argv, words):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (home / "keys.json").exists()


def test_cli_home_at_a_file_or_under_proc(capsys, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for home, words in ((afile, "is a file, not a folder"), (Path("/proc/imagen-nb-home"), "cannot use")):
        code = main(["--home", str(home), "models"])
        err = capsys.readouterr().err
        assert code == 2 and words in err and err.count("\n") == 1, err


def test_cli_invalid_utf8_from_a_real_process(tmp_path):
    env = {**os.environ, "IMAGEN_NB_HOME": str(tmp_path / "h"), "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-m", "imagen_nb", "order", "instant:swatch", "--prompt", b"\xff\xfe"],
                          capture_output=True, env=env, timeout=120)
    assert done.returncode == 2
    assert b"not valid UTF-8" in done.stderr and b"Traceback" not in done.stderr
    assert not (tmp_path / "h").exists()


def test_cli_serve_on_a_port_in_use_says_so(capsys, home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["serve", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and f"port {port}" in err and "in use" in err and err.count("\n") == 1
    assert not (home / "catalog.duckdb").exists()  # refused before the studio opened


def test_cli_sql_timeout_names_the_cli_flag(capsys):
    code = main(["sql", "select count(*) from range(100000000000)", "--timeout", "0.2"])
    err = capsys.readouterr().err
    assert code == 2 and "--timeout" in err and "timeout=" not in err
