"""Throughput of our HTTP client (pipelines.llm: bounded concurrency, retries, accounting) against a
plain asyncio client (httpx.AsyncClient + a semaphore, nothing else) on the same local
OpenAI-protocol server with the same concurrency, measured in the same run.

    .venv/bin/python bench/llm/bench_http.py [--requests 2000] [--concurrency 32] [--delay 0.02]

The server (tests/llm_loopback.py) runs in its own process; `--delay` is the model time per
request (0 measures pure client overhead, where both clients compete with the server for the CPU).
Runs alternate between the two clients; the median of `--repeats` runs is reported.
Goal: ours >= 90% of the plain client's requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.llm.client import LLMClient  # noqa: E402
from pipelines.llm.completion_cache import CompletionCache  # noqa: E402
from pipelines.llm.settings import LLMSettings  # noqa: E402
from pipelines.llm.types import ChatRequest  # noqa: E402

MODEL = "scripted-model"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, delay: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.llm_loopback", "--port", str(port), "--delay", str(delay)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the loopback server did not start: {proc.stderr.read().decode()[-500:]}")


def make_requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest.make(
            [
                {"role": "system", "content": "You answer in JSON."},
                {"role": "user", "content": f"question number {i}: what would you do?"},
            ],
            {"temperature": 0.0, "max_tokens": 32, "seed": 0},
            template_hash="bench@1",
        )
        for i in range(n)
    ]


def run_ours(base_url: str, requests: list[ChatRequest], concurrency: int, cache_dir: str | None) -> float:
    settings = LLMSettings(base_url=base_url, model=MODEL, concurrency=concurrency, guided_decoding="off")
    cache = CompletionCache(Path(cache_dir) / "c.sqlite") if cache_dir else None
    client = LLMClient(settings, cache)
    start = time.perf_counter()
    results, usage = client.complete(requests, desc="ours")
    elapsed = time.perf_counter() - start
    assert all(r.text for r in results) and usage.requests == len(requests)
    return len(requests) / elapsed


async def _plain(base_url: str, requests: list[ChatRequest], concurrency: int) -> list[str]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def one(r: ChatRequest) -> str:
            async with gate:
                resp = await client.post(
                    "/chat/completions", json={"model": MODEL, "messages": r.message_dicts(), **r.param_dict()}
                )
                return resp.json()["choices"][0]["message"]["content"]

        return await asyncio.gather(*(one(r) for r in requests))


def run_plain(base_url: str, requests: list[ChatRequest], concurrency: int) -> float:
    start = time.perf_counter()
    texts = asyncio.run(_plain(base_url, requests, concurrency))
    elapsed = time.perf_counter() - start
    assert all(texts)
    return len(requests) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, nargs="+", default=[0.0, 0.02])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    requests = make_requests(args.requests)
    print(f"{args.requests} requests, concurrency {args.concurrency}, median of {args.repeats} alternating runs")
    for delay in args.delay:
        port = free_port()
        server = start_server(port, delay)
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            run_plain(base_url, requests[:100], args.concurrency)  # warm up the server
            plain, ours, cached = [], [], []
            for _ in range(args.repeats):
                plain.append(run_plain(base_url, requests, args.concurrency))
                ours.append(run_ours(base_url, requests, args.concurrency, None))
                with tempfile.TemporaryDirectory() as tmp:  # a fresh cache: every completion is written
                    cached.append(run_ours(base_url, requests, args.concurrency, tmp))
        finally:
            server.terminate()
            server.wait()
        p, o, c = statistics.median(plain), statistics.median(ours), statistics.median(cached)
        print(f"server delay {delay * 1000:.0f} ms/request:")
        print(f"  plain httpx + semaphore      {p:8.0f} req/s   (baseline)")
        print(f"  ours, no completion cache    {o:8.0f} req/s   ratio {o / p:.2f}  (goal >= 0.90)")
        print(f"  ours, writing the cache      {c:8.0f} req/s   ratio {c / p:.2f}")


if __name__ == "__main__":
    main()
