"""A real second process hosting the test's home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HOST = Path(__file__).with_name("host_process.py")


class HostProcess:
    """A ``host_process.py`` child: ``ask(line)`` sends a command and returns its answer line."""

    def __init__(self, home: Path):
        self.proc = subprocess.Popen([sys.executable, str(HOST), str(home)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["READY"], f"the host process did not start: {line}"
        self.pid = int(line[1])

    def ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait(30)


@pytest.fixture
def host(home):
    """Another process hosting ``home`` (closed, or killed, after the test)."""
    child = HostProcess(home)
    yield child
    child.stop()


@pytest.fixture
def make_host():
    """Start a host process on any folder: ``make_host(home)`` (stop it with ``.stop()``)."""
    return HostProcess
