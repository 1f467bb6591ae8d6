"""The background executor: lanes of workers, a batching recorder and the event bus."""

from .bus import EventBus
from .executor import Executor

__all__ = ["EventBus", "Executor"]
