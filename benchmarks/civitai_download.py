"""civitai download: a 144 MB file from the loopback civitai, ours (resumable, SHA-256 verified) vs a plain httpx stream.

Both go the same way: ``/api/download/models/<version>`` with the Bearer token, a 307 to the
storage host, the bytes written to a file. Ours (``CivitaiProvider.download``) also hashes every
byte (on a second thread) and checks the hash civitai publishes before renaming the file into
place; the plain one only writes (``plain``: ``iter_bytes()``, the usual way; ``raw``:
``iter_raw()``, the reader ours uses, so the difference is the hashing and the checks alone). The loopback civitai runs in a process of its own (as civitai
is not in the user's process: in-process its threads would compete for our GIL). Runs alternate
(plain, raw, ours, plain, …) so both see the same load; the figure is the ratio of median
throughputs, and of the best runs (the least disturbed by other work on a shared machine).
Target: ours ≥ 0.9× plain.

    .venv/bin/python benchmarks/civitai_download.py [MB] [ROUNDS]
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "providers"))

from civitai_server import CivitaiServer, ServerFile  # noqa: E402  (the tests' loopback civitai)

from imagen_nb.providers.base import ProviderContext  # noqa: E402
from imagen_nb.providers.civitai import CivitaiProvider  # noqa: E402

TOKEN = "bench-civitai-token-0123456789"


def plain(client, url: str, dest: Path, raw: bool = False) -> int:
    """The baseline: one streamed GET (redirects followed) written to a file, nothing else
    (``iter_bytes()``, the usual way; ``raw``: ``iter_raw()``, as ours reads)."""
    size = 0
    with open(dest, "wb") as f:
        with client.stream("GET", url, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            response.raise_for_status()
            for chunk in (response.iter_raw() if raw else response.iter_bytes()):
                f.write(chunk)
                size += len(chunk)
    return size


def serve(conn, size: int) -> None:
    """The loopback civitai in this (child) process: sends (site URL, SHA-256) and serves until told to stop."""
    with CivitaiServer(TOKEN) as server:
        server.add(1, 10, name="Big", type_="Checkpoint", files=[ServerFile(100, "big.safetensors", os.urandom(size))])
        conn.send((server.url, server.versions[10]["files"][0]["hashes"]["SHA256"]))
        conn.recv()


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 144
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    size = mb * 2**20
    os.environ["CIVITAI_API_TOKEN"] = TOKEN
    ours_end, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs, size), daemon=True)
    child.start()
    site, sha = ours_end.recv()
    with tempfile.TemporaryDirectory() as tmp:
        import httpx

        url = f"{site}/api/download/models/10"
        client = httpx.Client(follow_redirects=True, timeout=60)  # made once, as the provider's is
        provider = CivitaiProvider(ProviderContext(Path(tmp), settings={"site_url": site}))
        times: dict[str, list[float]] = {"plain": [], "raw": [], "ours": []}
        for i in range(rounds):
            for kind in ("plain", "raw", "ours"):
                dest = Path(tmp) / f"{kind}-{i}.bin"
                t0 = time.perf_counter()
                if kind in ("plain", "raw"):
                    got = plain(client, url, dest, raw=kind == "raw")
                else:
                    done = provider.download(url, dest, sha256=sha, size=size)
                    got = done.size
                times[kind].append(time.perf_counter() - t0)
                assert got == size
                dest.unlink()
        provider.close()
        client.close()
    ours_end.send("stop")
    child.join(10)
    load = os.getloadavg()
    print(f"file {mb} MiB, {rounds} rounds each, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for kind, seconds in times.items():
        print(f"{kind:5}: median {statistics.median(seconds):.3f} s = {mb / statistics.median(seconds):.0f} MiB/s, "
              f"best {min(seconds):.3f} s = {mb / min(seconds):.0f} MiB/s (all: {', '.join(f'{s:.2f}' for s in seconds)})")
    for base in ("plain", "raw"):
        ratio = statistics.median(times[base]) / statistics.median(times["ours"])
        best = min(times[base]) / min(times["ours"])
        print(f"ours / {base} throughput: median {ratio:.3f}, best {best:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
