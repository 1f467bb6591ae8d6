"""One home, many processes: a real host process, clients in this process and in the CLI.

The host is ``host_process.py`` in a child process (conftest ``host``); ``inb.Studio(home)`` here
becomes its client.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest

import imagen_nb as inb
from imagen_nb.core.records import GenerationProgress, OrderFinished, ProductReady
from imagen_nb.studio.hosting import TOKEN_FILE, host_info


def test_a_second_process_is_a_client_that_orders_on_the_hosts_executor(home, host, capfd):
    with inb.Studio(home) as studio:
        assert not studio.is_host and studio.hosted_by == host.pid
        assert isinstance(studio, inb.Studio)
        assert f"connected to the studio hosted by pid {host.pid}" in capfd.readouterr().err
        events = []
        studio.subscribe(events.append)
        order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1,2]", num_inference_steps=3)
        assert isinstance(order, inb.Order)
        order.wait(timeout=60)
        assert order.status == "fulfilled" and len(order.products) == 4
        assert all(p.path.is_file() and p.path.is_relative_to(home) for p in order.products)
        # live events from the host's workers reached this process
        time.sleep(0.3)
        mine = [e for e in events if getattr(e, "order_id", None) == order.id]
        assert sum(isinstance(e, GenerationProgress) for e in mine) == 4 * 3
        assert sum(isinstance(e, ProductReady) for e in mine) == 4
        assert any(isinstance(e, OrderFinished) and e.status == "fulfilled" for e in mine)
        # the host sees the client's products, and the client sees the host's
        assert host.ask("gallery") == "4"
        host_order = host.ask("order from the host")
        assert studio.get_order(host_order).status == "fulfilled"
        frame = studio.sql("select count(*) as n from products")
        assert isinstance(frame, pd.DataFrame) and int(frame["n"][0]) == 6
        page = studio.gallery(limit=60)
        assert len(page) == 6 and str(page["created_at"].dtype).startswith("datetime64")
        assert studio.gallery_count(text="from the host") == 2
        # who did what is recorded: this process placed its order, the host placed its own, and
        # the host's process ran every generation
        who = studio.sql("select o.id, o.ordered_by_pid as ordered, list(distinct g.pid) as ran from orders o "
                         "join generations g on g.order_id = o.id group by all")
        by_order = {row.id: (row.ordered, list(row.ran)) for row in who.itertuples()}
        assert by_order == {order.id: (os.getpid(), [host.pid]), host_order: (host.pid, [host.pid])}


def test_a_client_has_the_whole_user_api(home, host, tmp_path):
    with inb.Studio(home) as studio:
        studio.tokens["animal"] = ["cat", "dog"]
        assert studio.tokens["animal"] == ["cat", "dog"] and "animal" in studio.tokens
        order = studio.order("instant:swatch", prompt="a [animal]", project="zoo").wait(timeout=60)
        assert [p.prompt for p in order.products] == ["a cat", "a dog"]
        studio.presets["small"] = {"model": "instant:swatch", "params": {"width": 32}}
        assert studio.presets["small"]["params"] == {"width": 32}
        del studio.presets["small"]
        assert "small" not in studio.presets
        products = order.products
        product = products[0]
        assert studio.rate(product, 5) == 1 and studio.product(product.id).rating == 5
        favourites = studio.collection("favourites")
        assert favourites.add(order.products) == 2 and favourites.product_ids == [p.id for p in order.products]
        project = studio.project("zoo")
        assert project.name == "zoo" and len(project.products) == 2
        project.update(description="animals")
        assert project.description == "animals"
        with pytest.raises(inb.ValidationError, match="cannot make variations") as refused:
            product.vary(n=2)  # the host's error, the same class and message, here
        assert refused.value.param == "model"
        assert studio.delete(product) == 1 and studio.product(product.id).deleted
        assert "instant:swatch" in set(studio.models()["id"])
        assert studio.model("instant:swatch").id == "instant:swatch"
        imported = studio.import_products([products[1].path])
        assert imported[0].source == "imported" and imported[0].path.is_file()
        assert studio.expand(prompt="[a,b]") == [{"prompt": "a"}, {"prompt": "b"}]
        with pytest.raises(inb.SmartParameterError, match="prompt"):
            studio.order("instant:swatch", prompt="[a,b|c]")
        with pytest.raises(inb.UnknownModelError):
            studio.order("instant:nope", prompt="x")
        with pytest.raises(LookupError):
            studio.product("0" * 26)
        with pytest.raises(inb.SqlRefused):
            studio.sql("delete from products")
        slow = studio.order("instant:swatch", prompt="slow", seed="[1..4]", num_inference_steps=50, step_seconds=0.05)
        assert studio.cancel(slow) >= 0
        slow.wait(timeout=60)
        assert slow.status == "cancelled"
        retried = studio.retry(slow)
        assert retried.wait(timeout=60).status == "fulfilled"
        summaries = studio.views.order_summaries(limit=10)
        assert slow.id in set(summaries["id"])


def test_the_cli_is_a_client_while_a_process_hosts(home, host):
    env = {**os.environ, "IMAGEN_NB_HOME": str(home)}
    run = [sys.executable, "-m", "imagen_nb"]
    order = subprocess.run([*run, "order", "instant:swatch", "--prompt", "cli [fox,owl]"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert order.returncode == 0, order.stderr
    assert f"connected to the studio hosted by pid {host.pid}" in order.stderr
    paths = order.stdout.split()
    assert len(paths) == 2 and all(os.path.isfile(p) for p in paths)
    sql = subprocess.run([*run, "sql", "--json", "select count(*) as n from products"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout) == [{"n": 2}]
    tokens = subprocess.run([*run, "tokens", "set", "bird", "owl", "jay"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert tokens.returncode == 0, tokens.stderr
    assert host.ask("gallery") == "2"
    backup = subprocess.run([*run, "backup", str(home.parent / "backup")], env=env, capture_output=True, text=True,
                            timeout=120)  # the host writes it, while it keeps working
    assert backup.returncode == 0, backup.stderr
    assert "manifest of 2 product file(s)" in backup.stdout and (home.parent / "backup" / "catalog.duckdb").is_file()


def test_the_token_is_required_and_kept_private(home, host):
    info = host_info(home)
    assert info is not None and info.url.startswith("http://127.0.0.1:")
    token_file = home / TOKEN_FILE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 32
    url = f"{info.url}/api/v1/models"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {token[:-1]}"}).status_code == 401
    assert httpx.post(f"{info.url}/api/v1/call/sql", headers={"Authorization": "Bearer x"},
                      json={"args": ["select 1"]}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def _nobody_can_run_python() -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", ""],
                           capture_output=True) if os.path.exists("/usr/bin/setpriv") else None
    return probe is not None and probe.returncode == 0


def test_a_process_that_may_not_read_the_token_gets_one_clear_line(home, host, monkeypatch):
    # What another user meets (the token file is 0600); run for real below where the machine allows.
    from pathlib import Path

    real = Path.read_text

    def refuse(self, *a, **kw):
        if self.name == TOKEN_FILE:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(inb.ImagenError, match="cannot read its token") as refused:
        inb.Studio(home)
    assert "another user" in str(refused.value) and f"process {host.pid}" in str(refused.value)


@pytest.mark.skipif(not _nobody_can_run_python(),
                    reason="needs root and a Python interpreter another user (nobody) may run")
def test_another_user_without_the_token_is_refused_with_a_clear_line(make_host):
    import tempfile

    shared = tempfile.mkdtemp(prefix="inb-shared-")  # a folder another user can walk into
    os.chmod(shared, 0o755)
    home = os.path.join(shared, "home")
    os.makedirs(home, mode=0o755)
    host = make_host(home)
    try:
        code = "import imagen_nb as inb, sys\ntry:\n    inb.Studio(sys.argv[1])\nexcept inb.ImagenError as e:\n" \
               "    print('REFUSED', e)\n    sys.exit(3)\n"

        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run([*nobody, sys.executable, "-c", code, home], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "HOME": "/tmp"})
        assert result.returncode == 3, result.stdout + result.stderr
        assert "cannot read its token" in result.stdout and "another user" in result.stdout
        assert "Traceback" not in result.stderr
    finally:
        host.stop()
        subprocess.run(["rm", "-rf", shared])


def test_a_killed_host_is_taken_over_and_its_orders_finish(home, host, capfd):
    studio = inb.Studio(home)
    try:
        progressed = []
        studio.subscribe(lambda e: progressed.append(e) if isinstance(e, GenerationProgress) else None)
        order = studio.order("instant:swatch", prompt="kill [a,b,c,d]", seed="[1,2]", num_inference_steps=4,
                             step_seconds=0.1)
        deadline = time.monotonic() + 30
        while not progressed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert progressed, "the order never started on the host"
        os.kill(host.pid, signal.SIGKILL)
        host.proc.wait(30)
        order.wait(timeout=120)  # the client takes the home over and recovery resumes the order
        assert studio.is_host is False and studio.hosted_by == os.getpid()
        assert "went away; this process hosts it now" in capfd.readouterr().err
        assert order.status == "fulfilled"
        gens = order.generations
        assert len(gens) == 8 and set(gens["status"]) == {"complete"}
        # nothing orphaned: every product row has its file, every product file has its row
        rows = studio.sql("select id, path from products")
        assert len(rows) == 8
        assert all((home / p).is_file() for p in rows["path"])
        files = {p.stem for p in (home / "products").rglob("*.png")}
        assert files == set(rows["id"])
    finally:
        studio.close()


def test_when_the_host_closes_a_client_takes_over(home, host, capfd):
    studio = inb.Studio(home)
    try:
        assert studio.hosted_by == host.pid
        host.stop()
        deadline = time.monotonic() + 10
        while studio.hosted_by != os.getpid() and time.monotonic() < deadline:
            time.sleep(0.05)  # the event stream ends at once and the client takes over on its own
        assert studio.hosted_by == os.getpid()
        order = studio.order("instant:swatch", prompt="after").wait(timeout=60)
        assert order.status == "fulfilled"
    finally:
        studio.close()
    with inb.Studio(home) as again:  # closed after the takeover: the home is free again
        assert again.is_host


def _an_address_of_this_machine_that_is_not_loopback() -> str | None:
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing address
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_the_host_cannot_be_reached_from_another_address(home, host):
    address = _an_address_of_this_machine_that_is_not_loopback()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    info = host_info(home)
    port = info.url.rsplit(":", 1)[1]
    token = (home / TOKEN_FILE).read_text().strip()
    with pytest.raises(httpx.ConnectError):  # bound to 127.0.0.1 only: nothing listens there
        httpx.get(f"http://{address}:{port}/api/v1/models", headers={"Authorization": f"Bearer {token}"})


def test_another_address_needs_a_password_like_imagen_nb_serve(home, monkeypatch):
    monkeypatch.delenv("IMAGEN_NB_PASSWORD", raising=False)
    with pytest.raises(inb.ValidationError, match="set password=") as refused:
        inb.Studio(home, serve="0.0.0.0")
    assert refused.value.param == "serve"
    with inb.Studio(home) as free:  # nothing was left open by the refusal
        assert free.is_host
    address = _an_address_of_this_machine_that_is_not_loopback()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    with inb.Studio(home, serve="0.0.0.0", password="correct horse") as studio:
        port = studio.endpoint.server.port
        assert host_info(home).url == f"http://127.0.0.1:{port}"  # clients on this machine keep loopback
        url = f"http://{address}:{port}/api/v1/models"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer correct horse"}).status_code == 200


def test_when_taking_over_fails_the_next_call_says_why_in_one_line(home, host, monkeypatch):
    from imagen_nb.studio.local import LocalStudio

    studio = inb.Studio(home)
    try:
        assert studio.hosted_by == host.pid

        def cannot_open(self, *args, **kwargs):  # a fault a real part cannot produce on demand here
            raise inb.ImagenError("cannot open the catalog: the disk is full; free some space")

        monkeypatch.setattr(LocalStudio, "__init__", cannot_open)
        os.kill(host.pid, signal.SIGKILL)
        host.proc.wait(30)
        with pytest.raises(inb.ImagenError) as why:
            studio.sql("select 1")
        message = str(why.value)
        assert f"the host of {home}" in message and f"pid {host.pid}" in message and "went away" in message
        assert "could not take the home over" in message and "disk is full" in message
        assert "\n" not in message and "Traceback" not in message
    finally:
        monkeypatch.undo()
        studio.close()


def test_a_client_has_the_integration_lines_api_too(home, host, tmp_path):
    """What the integration line added to the Studio reaches a client: sets, order_set, grid,
    trash, empty_trash, paused, loras, collections stored with their first products, and an
    import's MetadataWarning given in the client's process."""
    with inb.Studio(home) as studio:
        assert not studio.is_host
        assert studio.paused is None
        studio.sets["pets"] = {"rows": [{"animal": "cat"}, {"animal": "dog"}], "template": "a {animal}"}
        assert "pets" in studio.sets and "nope" not in studio.sets
        assert isinstance(studio.sets["pets"], inb.SetRecipe)
        assert "pets" in set(studio.sets.listing()["name"])
        order = studio.order_set("pets", "instant:swatch").wait(timeout=60)
        assert order.status == "fulfilled" and order.set_name == "pets"
        grid = order.grid()
        assert isinstance(grid, inb.Grid) and grid.image.width > 0
        assert set(grid.cells["product_id"]) == {p.id for p in order.products}
        assert grid.save(tmp_path / "grid.png").is_file()
        trash = studio.trash()
        assert isinstance(trash, pd.DataFrame)
        assert studio.empty_trash() == 0
        new = studio.collection("keepers")
        assert new.product_ids == [] and new.remove(order.products) == 0
        assert new.add(order.products) == 2
        assert studio.collection("keepers", create=False).product_ids == [p.id for p in order.products]
        from PIL import Image, PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", "a castle\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: abc, Size: 8x8")
        Image.new("RGB", (8, 8)).save(tmp_path / "odd seed.png", pnginfo=info)
        with pytest.warns(inb.MetadataWarning, match=r"odd seed\.png: seed .* dropped"):
            studio.import_products([tmp_path / "odd seed.png"])
