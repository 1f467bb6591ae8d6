"""Two real Jupyter kernels on one home: the first hosts it, the second is its client."""

from __future__ import annotations

import os

import pytest

jupyter_client = pytest.importorskip("jupyter_client", reason="needs jupyter_client (the dev extra)")


class Kernel:
    """A real IPython kernel; ``run(code)`` returns what the cell printed (stdout, stderr)."""

    def __init__(self, env: dict):
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 120) -> tuple[str, str]:
        out, err = [], []

        def hook(msg):
            if msg["msg_type"] == "stream":
                (out if msg["content"]["name"] == "stdout" else err).append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                err.append("\n".join(msg["content"]["traceback"]))

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        assert reply["content"]["status"] == "ok", "".join(err)
        return "".join(out), "".join(err)

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels(home):
    env = {**os.environ, "IMAGEN_NB_HOME": str(home)}
    made = []

    def start() -> Kernel:
        made.append(Kernel(env))
        return made[-1]

    yield start
    for kernel in made:
        kernel.stop()


def test_an_order_from_a_client_kernel_runs_on_the_host_kernels_executor(kernels):
    host, client = kernels(), kernels()
    out, _ = host.run("import os, imagen_nb as inb\nstudio = inb.Studio()\nseen = set()\n"
                      "sub = studio.subscribe(lambda e: seen.add(getattr(e, 'order_id', None)))\n"
                      "print(studio.is_host, os.getpid())")
    is_host, host_pid = out.split()
    assert is_host == "True"
    out, err = client.run("import imagen_nb as inb\nstudio = inb.Studio()\nprint(studio.is_host, studio.hosted_by)")
    assert out.split() == ["False", host_pid]
    assert f"connected to the studio hosted by pid {host_pid}" in err
    out, _ = client.run(
        "events = []\nsub = studio.subscribe(lambda e: events.append(type(e).__name__))\n"
        "order = studio.order('instant:swatch', prompt='kernel [1,2]', num_inference_steps=3).wait(60)\n"
        "import time; time.sleep(0.3)\n"
        "print(order.id, order.status, len(order.products), events.count('GenerationProgress'))")
    order_id, status, products, progress = out.split()
    assert (status, products, progress) == ("fulfilled", "2", "6")  # live step events reached the client
    # the host's executor ran it (its bus saw the order), and the host's gallery has the products
    out, _ = host.run(f"print({order_id!r} in seen, studio.gallery_count(order_id={order_id!r}))")
    assert out.split() == ["True", "2"]
    # the records say so too: the host's pid ran both generations, the client's placed the order
    out, _ = client.run("import os\nprint(os.getpid())")
    client_pid = out.strip()
    out, _ = host.run(f"print(*studio.sql('select distinct g.pid, o.ordered_by_pid from generations g join orders o "
                      f"on o.id = g.order_id where o.id = ?', [{order_id!r}]).iloc[0])")
    assert out.split() == [host_pid, client_pid]
    # and the other way: the host's order, queried with sql in the client
    out, _ = host.run("print(studio.order('instant:swatch', prompt='from the host').wait(60).id)")
    out, _ = client.run(f"print(int(studio.sql('select count(*) as n from products where order_id = ?', "
                        f"[{out.strip()!r}])['n'][0]), int(studio.sql('select count(*) as n from products')['n'][0]))")
    assert out.split() == ["1", "3"]
