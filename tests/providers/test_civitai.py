"""civitai against a loopback civitai (civitai_server.py): importing by AIR/URL/id with resumable,
verified downloads and errors that teach; identify by hash; search; generation on the orchestrator
with LoRAs, polling, cancel and the fault cases of the other remote providers."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

import imagen_nb as inb
from civitai_server import CivitaiServer, ServerFile
from imagen_nb.cli import main
from imagen_nb.core.errors import MissingKey, ProviderError, UnknownModelError, ValidationError

TOKEN = "civitai-loopback-token-5f0e1d2c3b4a"
CHECKPOINT_AIR = "urn:air:sd1:checkpoint:civitai:4384@128713"


def safetensors_bytes(seed: int, n: int = 64) -> bytes:
    """A real safetensors file (one float tensor), different per seed."""
    from safetensors.numpy import save

    return save({"lora_unet_down.weight": np.random.default_rng(seed).standard_normal(n).astype(np.float32)})


@pytest.fixture
def server():
    with CivitaiServer(TOKEN) as srv:
        srv.add(328553, 368189, name="Tarot cards", trained_words=["tarot card", "rider waite"],
                files=[ServerFile(9001, "tarotCards_v10.safetensors", safetensors_bytes(1))])
        srv.add(4384, 128713, name="DreamShaper", type_="Checkpoint", version_name="8",
                files=[ServerFile(9002, "dreamshaper_8.safetensors", safetensors_bytes(2, 4096))])
        srv.add(77, 770, name="XL sparkles", base_model="SDXL 1.0", ecosystem="sdxl",
                files=[ServerFile(9003, "sparkles_xl.safetensors", safetensors_bytes(3))])
        srv.add(88, 880, name="Bad negative", type_="TextualInversion",
                files=[ServerFile(9004, "badneg.safetensors", safetensors_bytes(4))])
        yield srv


@pytest.fixture
def studio(home, server, monkeypatch):
    monkeypatch.setenv("CIVITAI_API_TOKEN", TOKEN)
    with inb.Studio(providers={"civitai": server.settings()}, serve=False) as s:
        yield s


def storage_tokens(server) -> list[str]:
    return [r.headers.get("authorization", "") + str(r.query) for r in server.hits(server="storage")]


# ---- importing ---------------------------------------------------------------------------------


def test_a_lora_by_air_lands_in_the_lora_folder_verified_and_recorded(studio, server, home):
    from imagen_nb.core.records import ModelDownload

    seen, events = [], []
    studio.subscribe(lambda e: events.append(e) if isinstance(e, ModelDownload) else None)
    name = studio.add_model("urn:air:sd15:lora:civitai:328553@368189", progress=lambda d, t: seen.append((d, t)))
    path = home / "loras" / "tarotCards_v10.safetensors"
    assert name == "tarotCards_v10" and path.read_bytes() == server.files[9001].data
    assert seen[-1] == (len(server.files[9001].data),) * 2
    assert events[-1].state == "done" and events[-1].file_name == "tarotCards_v10.safetensors"
    row = studio.civitai.files().iloc[0]
    assert (row["source"], row["air"], row["version_id"], row["base_model"]) == (
        "civitai", "urn:air:sd1:lora:civitai:328553@368189", 368189, "SD 1.5")
    assert list(row["trigger_words"]) == ["tarot card", "rider waite"]
    assert row["licence"]["allowCommercialUse"] == ["Image", "RentCivit"]
    assert row["sha256"] == hashlib.sha256(server.files[9001].data).hexdigest()
    download = server.hits("GET", r"/api/download/models/368189")[0]
    assert download.headers["authorization"] == f"Bearer {TOKEN}"
    assert not any(TOKEN in t for t in storage_tokens(server)), "the token went to the storage host"


def test_a_checkpoint_by_url_or_id_lands_in_the_model_folder(studio, server, home):
    url = f"{server.url}/models/4384?modelVersionId=128713"
    assert studio.add_model(url) == "diffusers:dreamshaper_8"
    assert (home / "models" / "dreamshaper_8.safetensors").read_bytes() == server.files[9002].data
    # Again by id: the same file is there already, so nothing is downloaded, it is only recorded.
    before = len(server.hits(server="storage"))
    assert studio.add_model("civitai:128713") == "diffusers:dreamshaper_8"
    assert len(server.hits(server="storage")) == before
    assert list(studio.civitai.files()["air"]) == [CHECKPOINT_AIR]


def test_a_model_page_url_without_a_version_takes_the_newest(studio, server, home):
    server.add(328553, 400000, name="Tarot cards", version_name="v2.0",
               files=[ServerFile(9010, "tarotCards_v20.safetensors", safetensors_bytes(10))])
    assert studio.add_model(f"{server.url}/models/328553/tarot-cards") == "tarotCards_v20"


def test_no_token_says_how_to_set_it_before_any_request(home, server, monkeypatch):
    monkeypatch.delenv("CIVITAI_API_TOKEN", raising=False)
    with inb.Studio(providers={"civitai": server.settings()}, serve=False) as studio:
        with pytest.raises(MissingKey) as err:
            studio.add_model("urn:air:sd1:lora:civitai:328553@368189")
    assert "imagen-nb keys set civitai" in str(err.value) and "CIVITAI_API_TOKEN" in str(err.value)
    assert server.hits() == []


@pytest.mark.parametrize("login", [False, True])
def test_a_refused_token_or_the_login_page_teaches_the_fix(home, server, monkeypatch, login):
    server.bad_token_login = login
    monkeypatch.setenv("CIVITAI_API_TOKEN", "a-wrong-token-123456")
    with inb.Studio(providers={"civitai": server.settings()}, serve=False) as studio:
        with pytest.raises(ProviderError) as err:
            studio.add_model("urn:air:sd1:lora:civitai:328553@368189")
    message = str(err.value)
    assert ("login page" in message) == login and ("HTTP 401" in message) == (not login)
    assert "imagen-nb keys set civitai" in message and "a-wrong-token" not in message
    assert not (home / "loras" / "tarotCards_v10.safetensors").exists()


def test_a_stale_download_url_is_retried_with_the_file_id(studio, server, home):
    server.stale.add(368189)
    assert studio.add_model("urn:air:sd1:lora:civitai:328553@368189") == "tarotCards_v10"
    asked = [r.query for r in server.hits("GET", r"/api/download/models/368189")]
    assert "fileId" not in asked[0] and asked[-1]["fileId"] == ["9001"]


def test_an_interrupted_download_resumes_with_a_range_request(studio, server, home):
    size = len(server.files[9002].data)
    server.fault("GET", r"/files/9002", "cut", server="storage", after=size // 3)
    assert studio.add_model("civitai:128713") == "diffusers:dreamshaper_8"
    tries = server.hits("GET", r"/files/9002", server="storage")
    assert len(tries) == 2 and "range" not in tries[0].headers
    assert tries[1].headers["range"] == f"bytes={size // 3}-"
    assert (home / "models" / "dreamshaper_8.safetensors").read_bytes() == server.files[9002].data
    assert not list((home / "models").glob(".*part"))


def test_a_server_that_ignores_the_range_gets_the_whole_file_again(studio, server, home):
    size = len(server.files[9002].data)
    server.fault("GET", r"/files/9002", "cut", server="storage", after=size // 2)
    server.fault("GET", r"/files/9002", "ignore_range", server="storage")
    studio.add_model("civitai:128713")
    assert (home / "models" / "dreamshaper_8.safetensors").read_bytes() == server.files[9002].data


def test_a_file_that_does_not_match_the_published_sha256_is_deleted(studio, server, home):
    server.files[9001].published_sha = "ab" * 32
    server.versions[368189]["files"][0]["hashes"]["SHA256"] = ("AB" * 32)
    with pytest.raises(ProviderError) as err:
        studio.add_model("urn:air:sd1:lora:civitai:328553@368189")
    assert "does not match the SHA-256" in str(err.value)
    assert list((home / "loras").iterdir()) == [] and studio.civitai.files().empty


def test_a_lora_for_another_family_is_refused_before_the_download(studio, server):
    with pytest.raises(ValidationError) as err:
        studio.add_model("urn:air:sdxl:lora:civitai:77@770", for_model="diffusers:tiny")
    assert err.value.param == "for_model" and "SDXL 1.0" in str(err.value) and "stable-diffusion-1" in str(err.value)
    with pytest.raises(ValidationError) as err:  # the AIR itself says another ecosystem than civitai lists
        studio.add_model("urn:air:sd1:lora:civitai:77@770")
    assert "base model 'SDXL 1.0'" in str(err.value) and "urn:air:sdxl:lora:civitai:77@770" in str(err.value)
    assert server.hits(server="storage") == []


def test_what_cannot_run_here_is_refused_by_name(studio, server):
    with pytest.raises(ValidationError, match="TextualInversion"):
        studio.add_model("civitai:880")
    with pytest.raises(UnknownModelError, match="no version 999"):
        studio.add_model("civitai:999")
    assert server.hits(server="storage") == []


@pytest.mark.parametrize("fault", [
    dict(kind="status", status=429, retry_after="0"), dict(kind="status", status=500), dict(kind="drop"),
    dict(kind="slow", delay=3.0)])  # request_timeout is 2 s: the slow answer is abandoned and asked again
def test_transient_faults_of_the_site_api_are_retried(studio, server, fault):
    server.fault("GET", r"/api/v1/model-versions/368189", fault.pop("kind"), **fault)
    assert studio.add_model("urn:air:sd1:lora:civitai:328553@368189") == "tarotCards_v10"
    assert len(server.hits("GET", r"/api/v1/model-versions/368189")) == 2


def test_malformed_json_is_an_error_that_says_so(studio, server):
    server.fault("GET", r"/api/v1/model-versions/368189", "malformed")
    with pytest.raises(ProviderError, match="malformed JSON"):
        studio.add_model("urn:air:sd1:lora:civitai:328553@368189")


def test_the_cli_adds_by_air_and_sets_the_key(capsys, home, server, monkeypatch):
    monkeypatch.delenv("CIVITAI_API_TOKEN", raising=False)
    monkeypatch.setenv("CIVITAI_SITE_URL", server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO(TOKEN + "\n"))
    assert main(["keys", "set", "civitai"]) == 0
    assert main(["models", "add", "urn:air:sd1:lora:civitai:328553@368189"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "tarotCards_v10"
    assert main(["models", "add"]) == 2
    assert "needs a path or civitai reference" in capsys.readouterr().err
    assert main(["models", "search", "tarot", "--type", "LORA"]) == 0
    assert "urn:air:sd1:lora:civitai:328553@368189" in capsys.readouterr().out


# ---- cancelling and resuming ---------------------------------------------------------------------

BIG_AIR = "urn:air:sd1:lora:civitai:990@9900"


def _big(server, pace: float = 0.02) -> bytes:
    """A 2 MiB LoRA whose next download streams slowly (16 KiB every ``pace`` s: about 2.6 s in all)."""
    data = safetensors_bytes(7, 512 * 1024)
    server.add(990, 9900, name="Big style", files=[ServerFile(9900, "bigStyle.safetensors", data)])
    server.fault("GET", r"/files/9900", "slow", server="storage", pace=pace)
    return data


def _wait_for(check, timeout: float = 30.0):
    import time

    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def _nothing_added(studio, home) -> None:
    assert studio.civitai.files().empty
    assert [p.name for p in (home / "loras").iterdir()] == [".bigStyle.safetensors.part"]
    assert "bigStyle" not in studio.loras("diffusers:tiny")


def test_a_background_download_reports_progress_and_cancels_then_resumes(studio, server, home):
    from imagen_nb.core.errors import DownloadCancelled
    from imagen_nb.core.records import ModelDownload
    from imagen_nb.studio.downloads import ModelImport

    data = _big(server)
    events = []
    studio.subscribe(lambda e: events.append(e) if isinstance(e, ModelDownload) else None)
    handle = studio.add_model(BIG_AIR, wait=False)
    assert isinstance(handle, ModelImport) and handle.ref == BIG_AIR
    _wait_for(lambda: handle.done > 0)
    assert handle.state == "downloading" and handle.total == len(data) and 0 < handle.fraction < 1
    assert handle.cancel() is True
    with pytest.raises(DownloadCancelled) as err:
        handle.wait(timeout=30)
    message = str(err.value)
    assert "cancelled after" in message and "add_model('urn:air:sd1:lora:civitai:990@9900')" in message
    assert "imagen-nb models add urn:air:sd1:lora:civitai:990@9900" in message
    assert handle.state == "cancelled" and handle.result is None and handle.cancel() is False
    assert "cancelled" in repr(handle)
    _wait_for(lambda: events and events[-1].state == "cancelled")
    _nothing_added(studio, home)
    part = (home / "loras" / ".bigStyle.safetensors.part").stat().st_size
    assert 0 < part < len(data)

    # The next import resumes from the part (a Range request) and ends verified and recorded.
    again = studio.add_model(BIG_AIR, wait=False)
    assert again.wait(timeout=60) == "bigStyle" and again.state == "done" and again.fraction == 1.0
    tries = server.hits("GET", r"/files/9900", server="storage")
    assert len(tries) == 2 and tries[1].headers["range"] == f"bytes={part}-"
    assert (home / "loras" / "bigStyle.safetensors").read_bytes() == data
    assert list(studio.civitai.files()["air"]) == [BIG_AIR]


def test_a_cancel_ends_a_download_at_once_while_storage_stalls(studio, server, home):
    """Storage stalls mid-file (60 s, as long as the stall limit): a cancel ends the download at once, the
    bytes so far stay in the part, and the next import resumes from there and verifies the whole file."""
    import time

    from imagen_nb.core.errors import DownloadCancelled

    data = safetensors_bytes(8, 512 * 1024)
    server.add(991, 9910, name="Stalled style", files=[ServerFile(9910, "stalledStyle.safetensors", data)])
    server.fault("GET", r"/files/9910", "stall", server="storage", after=256 << 10, delay=60)
    part = home / "loras" / ".stalledStyle.safetensors.part"
    handle = studio.add_model("civitai:9910", wait=False)
    _wait_for(lambda: part.exists() and part.stat().st_size == 256 << 10)  # everything before the stall is in
    time.sleep(0.3)  # and the reader is waiting for more
    assert handle.state == "downloading"
    asked = time.monotonic()
    assert handle.cancel() is True
    with pytest.raises(DownloadCancelled, match="resumes it"):
        handle.wait(timeout=30)
    # Before the socket was shut down on cancel, this took the whole stall (60 s). The bound is far
    # below that and far above the ~0.1 s it takes, so a loaded machine does not fail it.
    assert time.monotonic() - asked < 10
    assert handle.state == "cancelled" and studio.civitai.files().empty
    assert part.stat().st_size == 256 << 10

    assert studio.add_model("civitai:9910", wait=False).wait(timeout=60) == "stalledStyle"
    tries = server.hits("GET", r"/files/9910", server="storage")
    assert len(tries) == 2 and tries[1].headers["range"] == f"bytes={256 << 10}-"
    assert (home / "loras" / "stalledStyle.safetensors").read_bytes() == data and not part.exists()
    assert list(studio.civitai.files()["version_id"]) == [9910]


def test_a_blocking_import_stops_when_cancelled_from_elsewhere(studio, server, home):
    import threading

    from imagen_nb.core.errors import DownloadCancelled

    _big(server)
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 3:  # the panel's Cancel, another process or thread: by reference
            threading.Thread(target=studio.cancel_download, args=(BIG_AIR,)).start()

    with pytest.raises(DownloadCancelled):
        studio.add_model(BIG_AIR, progress=progress)
    _nothing_added(studio, home)
    assert studio.download_record(BIG_AIR)["state"] == "cancelled"
    assert studio.cancel_download(BIG_AIR) is False and studio.cancel_download("civitai:1") is False


def test_ctrl_c_in_a_blocking_import_cancels_cleanly_and_says_how_to_resume(studio, server, home):
    import os
    import signal

    _big(server)

    def progress(done, total):
        if done > 64 << 10:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in a notebook or terminal delivers it

    with pytest.raises(KeyboardInterrupt) as err:
        studio.add_model(BIG_AIR, progress=progress)
    assert any("resumes it" in note for note in getattr(err.value, "__notes__", []))
    _nothing_added(studio, home)
    assert studio.download_record(BIG_AIR)["state"] == "cancelled"
    assert studio.add_model(BIG_AIR) == "bigStyle"  # resumed, and nothing stuck behind it


def test_a_second_import_of_a_running_download_is_refused(studio, server):
    _big(server)
    handle = studio.add_model(BIG_AIR, wait=False)
    with pytest.raises(ValidationError, match="being downloaded already"):
        studio.add_model(BIG_AIR)
    with pytest.raises(ValidationError, match="downloading the same file"):  # another name of the same version
        studio.add_model("civitai:9900")
    handle.cancel()
    with pytest.raises(inb.DownloadCancelled):
        handle.wait(timeout=30)
    with pytest.raises(ValidationError, match="wait is True or False"):
        studio.add_model(BIG_AIR, wait="no")


def test_ctrl_c_in_the_cli_keeps_the_part_and_the_next_add_resumes(home, server, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    data = _big(server, pace=0.05)
    env = {**os.environ, "CIVITAI_API_TOKEN": TOKEN, "CIVITAI_SITE_URL": server.url, "IMAGEN_NB_HOME": str(home)}
    cmd = [sys.executable, "-m", "imagen_nb", "models", "add", BIG_AIR, "--progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = home / "loras" / ".bigStyle.safetensors.part"
    try:
        end = time.monotonic() + 120
        while not (part.exists() and part.stat().st_size > 0):
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "download cancelled after" in err and f"`imagen-nb models add {BIG_AIR}` resumes it" in err
    assert out == "" and [p.name for p in (home / "loras").iterdir()] == [part.name]
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    done = subprocess.run(cmd[:-1], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "bigStyle", done.stderr
    assert server.hits("GET", r"/files/9900", server="storage")[-1].headers["range"] == f"bytes={kept}-"
    assert (home / "loras" / "bigStyle.safetensors").read_bytes() == data


# ---- identify and search -------------------------------------------------------------------------


def test_identify_finds_local_files_by_hash_once_and_records_trigger_words(studio, server, home):
    (home / "loras" / "styles").mkdir(parents=True)
    (home / "loras" / "styles" / "my-tarot.safetensors").write_bytes(server.files[9001].data)
    (home / "loras" / "mine.safetensors").write_bytes(safetensors_bytes(99))
    (home / "models").mkdir()
    (home / "models" / "ds.safetensors").write_bytes(server.files[9002].data)
    found = studio.identify().set_index("path")
    tarot = found.loc[str(home / "loras" / "styles" / "my-tarot.safetensors")]
    assert tarot["found"] and tarot["model_name"] == "Tarot cards" and list(tarot["trigger_words"]) == [
        "tarot card", "rider waite"]
    assert found.loc[str(home / "models" / "ds.safetensors")]["air"] == CHECKPOINT_AIR
    assert not found.loc[str(home / "loras" / "mine.safetensors")]["found"]
    asked = len(server.hits("GET", r"/api/v1/model-versions/by-hash/.*"))
    assert asked == 3
    again = studio.identify()
    assert len(server.hits("GET", r"/api/v1/model-versions/by-hash/.*")) == asked, "answers are cached"
    assert list(again["found"]) == list(found.reset_index()["found"])
    studio.identify(refresh=True)
    assert len(server.hits("GET", r"/api/v1/model-versions/by-hash/.*")) == 2 * asked
    recorded = studio.civitai.files()
    assert set(recorded["origin"]) == {"identify"} and len(recorded) == 2


def test_search_returns_a_dataframe_and_passes_civitai_its_filters(studio, server):
    found = studio.civitai.search("tarot", types=["LORA"], base_models=["SD 1.5"])
    assert list(found["air"]) == ["urn:air:sd1:lora:civitai:328553@368189"]
    assert list(found.loc[0, "trigger_words"]) == ["tarot card", "rider waite"]
    query = server.hits("GET", r"/api/v1/models")[-1].query
    assert query["types"] == ["LORA"] and query["baseModels"] == ["SD 1.5"] and query["query"] == ["tarot"]
    assert studio.civitai.search("sparkles", base_models="SD 1.5").empty
    with pytest.raises(ValidationError, match="Did you mean 'LORA'"):
        studio.civitai.search("x", types=["LoRA"])


def test_resolve_shows_what_would_be_downloaded_without_downloading(studio, server):
    info = studio.civitai.resolve("urn:air:sd1:lora:civitai:328553@368189")
    assert (info["kind"], info["file_name"], info["size"]) == ("lora", "tarotCards_v10.safetensors",
                                                               len(server.files[9001].data))
    assert info["sha256"] == server.files[9001].sha256 and server.hits(server="storage") == []


# ---- generation ----------------------------------------------------------------------------------


def test_an_order_runs_a_workflow_with_the_checkpoint_and_loras_by_air(studio, server):
    order = studio.order(f"civitai:{CHECKPOINT_AIR}", prompt="a tarot card", negative_prompt="blurry", seed=7,
                         num_inference_steps=20, guidance_scale=6.5,
                         loras="urn:air:sd1:lora:civitai:328553@368189:0.8").wait(30)
    assert order.status == "fulfilled", order.errors
    sent = server.hits("POST", r"/v2/consumer/workflows")[0].json["steps"][0]
    assert sent["$type"] == "textToImage"
    step = sent["input"]
    assert step["model"] == CHECKPOINT_AIR
    assert step["additionalNetworks"] == {"urn:air:sd1:lora:civitai:328553@368189": {"type": "Lora", "strength": 0.8}}
    assert (step["prompt"], step["negativePrompt"], step["steps"], step["cfgScale"], step["seed"]) == (
        "a tarot card", "blurry", 20, 6.5, 7)
    returned = order.generations.return_params[0]
    assert returned["workflow_id"].startswith("wf-") and returned["seed"] == 7
    assert order.products[0].path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_lora_of_another_ecosystem_is_refused_before_anything_runs(studio, server):
    with pytest.raises(ValidationError) as err:
        studio.order(f"civitai:{CHECKPOINT_AIR}", prompt="x", loras=[{"air": "urn:air:sdxl:lora:civitai:77@770"}])
    assert err.value.param == "loras" and "made for sdxl" in str(err.value)
    assert server.hits("POST", r"/v2/consumer/workflows") == []


@pytest.mark.parametrize("method, path, fault", [
    ("POST", r"/v2/consumer/workflows", dict(kind="status", status=429, retry_after="0")),
    ("GET", r"/v2/consumer/workflows/.*", dict(kind="status", status=503)),
    ("GET", r"/v2/consumer/workflows/.*", dict(kind="slow", delay=3.0)),
    ("GET", r"/v2/consumer/workflows/.*", dict(kind="drop")),
])
def test_transient_faults_of_the_orchestrator_are_retried(studio, server, method, path, fault):
    server.fault(method, path, fault.pop("kind"), **fault)
    order = studio.order(f"civitai:{CHECKPOINT_AIR}", prompt="a fox").wait(30)
    assert order.status == "fulfilled", order.errors
    calls = studio.sql("select status_code, error from api_calls where error is not null")
    assert len(calls) >= 1, "the failed attempt is recorded"


@pytest.mark.parametrize("fault, says", [
    (dict(kind="malformed"), "malformed JSON"),
    (dict(kind="status", status=401, detail="token expired"), "imagen-nb keys set civitai"),
    (dict(kind="status", status=402, detail="Insufficient buzz"), "too little Buzz"),
])
def test_lasting_faults_fail_the_generation_with_a_message_that_teaches(studio, server, fault, says):
    server.fault("POST", r"/v2/consumer/workflows", fault.pop("kind"), **fault)
    order = studio.order(f"civitai:{CHECKPOINT_AIR}", prompt="a fox").wait(30)
    gen = order.generations.iloc[0]
    assert gen["status"] == "failed" and says in gen["error_message"], gen["error_message"]


def test_a_cancelled_generation_cancels_its_workflow(studio, server):
    server.orchestrator.ending = "hang"
    order = studio.order(f"civitai:{CHECKPOINT_AIR}", prompt="a slow fox")
    for _ in range(200):
        if server.hits("GET", r"/v2/consumer/workflows/.*"):
            break
        import time
        time.sleep(0.02)
    order.cancel().wait(10)
    assert list(order.generations["status"]) == ["cancelled"]
    (put,) = server.hits("PUT", r"/v2/consumer/workflows/.*")
    assert put.json == {"status": "canceled"}
    wid = put.path.rsplit("/", 1)[1]
    assert server.orchestrator.workflows[wid].json["status"] == "canceled"


def test_a_model_that_is_no_checkpoint_air_is_unknown_with_the_form(studio):
    with pytest.raises(UnknownModelError, match="checkpoint AIR"):
        studio.order("civitai:urn:air:sd1:lora:civitai:328553@368189", prompt="x")


# ---- the whole path with the tiny model ------------------------------------------------------------


@pytest.mark.slow
def test_a_downloaded_lora_and_checkpoint_run_on_the_tiny_model(home, tiny_path, tmp_path, monkeypatch):
    """A LoRA made for the tiny UNet and the tiny pipeline as one LDM checkpoint, both from the
    loopback civitai, are ordered on diffusers."""
    import shutil

    from diffusers import StableDiffusionPipeline
    from ldm_checkpoint import write_ldm_checkpoint
    from test_loras import make_lora

    made = make_lora(tiny_path, tmp_path, "style.safetensors", seed=3)
    write_ldm_checkpoint(StableDiffusionPipeline.from_pretrained(tiny_path), tmp_path / "tinyckpt.safetensors")
    shutil.copytree(tiny_path, home / "providers" / "diffusers" / tiny_path.name)
    monkeypatch.setenv("CIVITAI_API_TOKEN", TOKEN)
    with CivitaiServer(TOKEN) as server:
        server.add(5, 50, name="Tiny style", files=[ServerFile(500, "tiny-style.safetensors", made.read_bytes())])
        server.add(6, 60, name="Tiny ckpt", type_="Checkpoint",
                   files=[ServerFile(600, "tinyckpt.safetensors", (tmp_path / "tinyckpt.safetensors").read_bytes())])
        with inb.Studio(providers={"civitai": server.settings(), "diffusers": {"device": "cpu"}}, serve=False) as s:
            lora = s.add_model("urn:air:sd1:lora:civitai:5@50", for_model="diffusers:tiny")
            model = s.add_model("civitai:60")
            assert model in set(s.models()["id"])
            s.add_model(tiny_path, name="tiny-folder")  # gives the small checkpoint its configs offline
            order = s.order("diffusers:tiny", prompt="a fox", num_inference_steps=2, width=64, height=64,
                            loras=[{"name": lora, "weight": 0.7}]).wait(300)
            assert order.status == "fulfilled", order.errors
            assert s.order(model, prompt="a fox", num_inference_steps=2, width=64, height=64).wait(300).status \
                == "fulfilled"


def test_a_taken_model_name_is_refused_and_name_picks_another(studio, server, home):
    (home / "models" / "dreamshaper_8").mkdir(parents=True)
    with pytest.raises(ValidationError, match="already has a model 'dreamshaper_8'"):
        studio.add_model("civitai:128713")
    assert server.hits(server="storage") == []
    assert studio.add_model("civitai:128713", name="ds8") == "diffusers:ds8"
    assert (home / "models" / "ds8.safetensors").read_bytes() == server.files[9002].data
    with pytest.raises(ValidationError, match="name 'a/b'"):
        studio.add_model("civitai:128713", name="a/b")


def test_a_storage_host_that_stalls_is_left_and_the_download_tried_again(home, server, monkeypatch):
    monkeypatch.setenv("CIVITAI_API_TOKEN", TOKEN)
    server.fault("GET", r"/files/9001", "slow", server="storage", delay=2.0)
    with inb.Studio(providers={"civitai": server.settings(download_timeout=0.5)}, serve=False) as studio:
        assert studio.add_model("urn:air:sd1:lora:civitai:328553@368189") == "tarotCards_v10"
    assert len(server.hits("GET", r"/files/9001", server="storage")) == 2
    assert (home / "loras" / "tarotCards_v10.safetensors").read_bytes() == server.files[9001].data
