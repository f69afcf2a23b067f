"""Our HTTP client against the engine itself: the same prompts through `pipelines.llm` (streaming,
over loopback HTTP, to the embedded llama.cpp server in its own process) and through llama.cpp's
in-process API (`xllamacpp.Server.handle_completions`, one Python thread per slot, no HTTP), with
the same model, threads and slots, measured in the same run, alternating.

    .venv/bin/python bench/llm/bench_llamacpp.py [--prompts 8] [--tokens 32] [--repeats 2]

Throughput is completion tokens (as the engine counted them) per second of wall time.
Goal: ours >= 0.9 of the in-process throughput. vLLM (in-process engine against `vllm serve`) needs
a GPU: not measured by this script.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.engine.prefect_server import free_port  # noqa: E402
from pipelines.llm.client import LLMClient  # noqa: E402
from pipelines.llm.embedded import EngineOptions, embedded_endpoint, model_path, serve  # noqa: E402
from pipelines.llm.http_backend import BASE_STOP, plain_prompt  # noqa: E402
from pipelines.llm.settings import LLMSettings  # noqa: E402
from pipelines.llm.types import ChatRequest  # noqa: E402

TOPICS = [
    "a rainy morning",
    "a lost key",
    "a new neighbour",
    "a long train ride",
    "a shared kitchen",
    "a borrowed book",
    "a late reply",
    "a loud party",
    "a broken promise",
    "a small gift",
]


def requests(n: int, tokens: int, salt: int) -> list[ChatRequest]:
    # the same prompts for both sides (each side has an engine of its own: no shared prompt cache)
    return [
        ChatRequest.make(
            [
                {"role": "system", "content": f"Write a short story (run {salt})."},
                {"role": "user", "content": f"The story is about {TOPICS[i % len(TOPICS)]}."},
            ],
            {"temperature": 0.0, "max_tokens": tokens, "seed": 0, "ignore_eos": True},
        )
        for i in range(n)
    ]


def in_process(server, reqs: list[ChatRequest], slots: int) -> tuple[int, float]:
    def one(r: ChatRequest) -> int:
        # the body our client sends for free text to a base model, less the streaming
        body = {"prompt": plain_prompt(r.message_dicts()), "stop": [*BASE_STOP, "\n\n"], **r.param_dict()}
        return int(server.handle_completions(body)["usage"]["completion_tokens"])

    start = time.perf_counter()
    with ThreadPoolExecutor(slots) as pool:
        tokens = sum(pool.map(one, reqs))
    return tokens, time.perf_counter() - start


def ours(base_url: str, reqs: list[ChatRequest]) -> tuple[int, float]:
    client = LLMClient(LLMSettings(base_url=base_url))  # no cache: every request goes to the engine
    start = time.perf_counter()
    results, usage = client.complete(reqs, desc="bench")
    assert usage.failed == 0 and all(r.text is not None for r in results)
    return usage.completion_tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    options = EngineOptions.from_env()
    print(
        f"model {model_path().name}, {options.threads} thread(s), {options.slots} slots, "
        f"{args.prompts} prompts x {args.tokens} tokens, {args.repeats} rounds"
    )
    ratios = []
    for round_no in range(args.repeats):
        server = serve(free_port(), options)  # the embedded engine's own settings, in this process
        base_tokens, base_s = in_process(server, requests(args.prompts, args.tokens, round_no), options.slots)
        del server  # one engine at a time on the machine
        with embedded_endpoint(options=options) as base_url:
            our_tokens, our_s = ours(base_url, requests(args.prompts, args.tokens, round_no))
        base_rate, our_rate = base_tokens / base_s, our_tokens / our_s
        ratios.append(our_rate / base_rate)
        print(
            f"round {round_no + 1}: in-process {base_tokens} tokens in {base_s:.1f} s = {base_rate:.2f} tok/s; "
            f"ours over HTTP {our_tokens} tokens in {our_s:.1f} s = {our_rate:.2f} tok/s; ratio {ratios[-1]:.2f}"
        )
    print(f"median ratio ours / in-process: {statistics.median(ratios):.2f} (goal >= 0.9)")
    print("vLLM: not measured (no GPU on this machine)")


if __name__ == "__main__":
    main()
