"""One process owns a home; a process that cannot become its client gets a clear CatalogBusy naming
the owner; dead owners are taken over. (Clients of a serving host: tests/studio/test_hosting.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import imagen_nb as inb
from imagen_nb.studio import hosting

OPEN_IN_CHILD = textwrap.dedent("""
    import sys, imagen_nb as inb
    try:
        s = inb.Studio(sys.argv[1])
    except inb.CatalogBusy as e:
        print("BUSY", e.pid, str(e))
        sys.exit(3)
    print("OPENED", flush=True)
    if len(sys.argv) > 2:
        sys.stdin.readline()   # hold the home until killed
    s.close()
""")


def run_child(home, *extra, **kw):
    env = {**os.environ, "IMAGEN_NB_HOST_WAIT": "1"}
    return subprocess.run([sys.executable, "-c", OPEN_IN_CHILD, str(home), *extra],
                          capture_output=True, text=True, timeout=120, env=env, **kw)


def test_a_home_held_without_serving_gets_a_clear_error_naming_the_owner(home):
    studio = inb.Studio(home, serve=False)  # an owner with no API (as an older imagen-nb)
    try:
        result = run_child(home)
        assert result.returncode == 3, result.stderr
        out = result.stdout
        assert f"BUSY {os.getpid()}" in out
        assert f"held by process {os.getpid()}" in out and "does not serve it" in out
        assert "studio.close()" in out and "IMAGEN_NB_HOME" in out
        assert "Conflicting lock" not in out and "IO Error" not in out
    finally:
        studio.close()
    assert "OPENED" in run_child(home).stdout


def test_second_studio_in_the_same_process_is_refused(home):
    studio = inb.Studio(home)
    try:
        with pytest.raises(inb.CatalogBusy, match="this process already has a Studio open") as e:
            inb.Studio(home)
        assert e.value.pid == os.getpid() and "studio.close()" in str(e.value)
    finally:
        studio.close()


def test_a_killed_owner_is_taken_over(home, monkeypatch):
    monkeypatch.setattr(hosting, "HOST_WAIT", 0.5)
    child = subprocess.Popen([sys.executable, "-c", OPEN_IN_CHILD.replace("inb.Studio(sys.argv[1])",
                                                                          "inb.Studio(sys.argv[1], serve=False)"),
                              str(home), "hold"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "OPENED"
        with pytest.raises(inb.CatalogBusy):
            inb.Studio(home)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    studio = inb.Studio(home)  # the stale owner (dead pid) is taken over
    studio.close()
