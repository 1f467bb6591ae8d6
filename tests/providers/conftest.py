"""Fixtures of the provider tests: the tiny model built once per session, and a recording run context."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from imagen_nb.core.records import Event, GenerationRequest


class RecordingContext:
    """A RunContext that records progress and events, and cancels when told to."""

    def __init__(self, cancel_after: int | None = None):
        self.progress_calls: list[tuple[str, int, int]] = []
        self.events: list[Event] = []
        self.cancel_after = cancel_after
        self.cancelled_ids: set[str] = set()
        self._lock = threading.Lock()

    def progress(self, generation_id: str, step: int, total: int) -> None:
        with self._lock:
            self.progress_calls.append((generation_id, step, total))

    def cancelled(self, generation_id: str) -> bool:
        if generation_id in self.cancelled_ids:
            return True
        done = sum(1 for gid, _, _ in self.progress_calls if gid == generation_id)
        return self.cancel_after is not None and done >= self.cancel_after

    def publish(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def make_ctx():
    """``make_ctx(cancel_after=1)`` → a RecordingContext that cancels after that many steps."""
    return RecordingContext


@pytest.fixture
def request_for():
    """``request_for(model, **params)`` → a GenerationRequest with a fresh id."""
    counter = iter(range(1, 10**9))

    def make(model, **params) -> GenerationRequest:
        n = next(counter)
        return GenerationRequest(f"gen-{n}", "order-1", model.id, params)

    return make


@pytest.fixture(scope="session")
def provider_home(tmp_path_factory) -> Path:
    """A studio home whose diffusers cache holds the tiny model (built once per test session)."""
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers.tiny import ensure_tiny_model

    home = tmp_path_factory.mktemp("home")
    ensure_tiny_model(ProviderContext(home=home).cache_dir("diffusers"))
    return home


@pytest.fixture(scope="session")
def tiny_path(provider_home) -> Path:
    from imagen_nb.providers.diffusers.tiny import TINY_DIRNAME

    return provider_home / "providers" / "diffusers" / TINY_DIRNAME


@pytest.fixture(scope="session")
def tiny_provider(provider_home):
    """A diffusers provider on the CPU, shared by the tests (its pipelines stay loaded)."""
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=provider_home, settings={"device": "cpu"}))
    yield provider
    provider.close()


@pytest.fixture
def fresh_provider(provider_home):
    """A new diffusers provider on the CPU (nothing loaded yet) over the session's home."""
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=provider_home, settings={"device": "cpu"}))
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def tiny_upscaler_path(provider_home) -> Path:
    """The tiny x4 upscaler pipeline's folder (built once per session in the shared provider home)."""
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers.tiny import ensure_tiny_upscaler

    return ensure_tiny_upscaler(ProviderContext(home=provider_home).cache_dir("diffusers"))


@pytest.fixture(scope="session")
def tiny_esrgan_path(provider_home) -> Path:
    """The tiny ESRGAN weights file (written once per session in the shared provider home)."""
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers.tiny import ensure_tiny_esrgan

    return ensure_tiny_esrgan(ProviderContext(home=provider_home).cache_dir("diffusers"))


@pytest.fixture
def upscale_studio(home, tiny_path, tiny_upscaler_path, tiny_esrgan_path):
    """A Studio on the CPU whose diffusers cache holds the tiny model, the tiny x4 upscaler and the tiny ESRGAN."""
    import shutil

    import imagen_nb as inb

    cache = home / "providers" / "diffusers"
    cache.mkdir(parents=True, exist_ok=True)
    for path in (tiny_path, tiny_upscaler_path):
        shutil.copytree(path, cache / path.name)  # not rebuilt per test
    shutil.copy(tiny_esrgan_path, cache / tiny_esrgan_path.name)
    with inb.Studio(providers={"diffusers": {"device": "cpu"}}, serve=False) as studio:
        yield studio
