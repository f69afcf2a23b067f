"""The in-process transformers backend against a bare batched `model.generate` on the same prompts,
same model, same batch size and greedy decoding, measured in the same run (tokens generated per
second). The model is initialised locally from a config (random weights, no download): its text is
gibberish but its speed is that of a real model of its shape.

    .venv/bin/python bench/llm/bench_transformers.py [--prompts 512] [--batch-size 32] [--layers 8 --width 512]

Needs an NVIDIA GPU: without CUDA it says so and exits 0 (`--allow-cpu` runs a small CPU smoke
run, which is no measurement of the GPU path). Goal: ours >= 90% of the bare generate's tokens/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def prompts(n: int) -> list[str]:
    base = "The quick brown fox jumps over the lazy dog. "
    return [f"question {i}: " + base * (1 + (i * 37) % 12) for i in range(n)]


def bare_generate(model, tokenizer, texts: list[str], batch_size: int, max_new: int, device: str) -> int:
    """The baseline: batches in the given order, left padding, one generate call a batch."""
    import torch

    tokenizer.padding_side = "left"
    new_tokens = 0
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        gen = out[:, enc["input_ids"].shape[1] :]
        new_tokens += int((gen != tokenizer.pad_token_id).sum())
    return new_tokens


def ours(backend, texts: list[str], max_new: int) -> int:
    from pipelines.llm.client import LLMClient
    from pipelines.llm.types import ChatRequest

    requests = [
        ChatRequest.make([{"role": "user", "content": t}], {"temperature": 0.0, "max_tokens": max_new}) for t in texts
    ]
    # the backend adds the "user: ... assistant:" frame (no chat template): same prompts, a few tokens longer
    results, usage = LLMClient(backend.settings, None, backend=backend).complete(requests, desc="ours")
    return usage.completion_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--allow-cpu", action="store_true", help="a CPU smoke run (not the GPU measurement)")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print(
            "SKIPPED: no CUDA device on this machine; the transformers-backend-vs-bare-generate GPU comparison "
            "needs an NVIDIA GPU (run with --allow-cpu for a CPU smoke run)"
        )
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    from pipelines.llm.settings import LLMSettings
    from pipelines.llm.transformers_backend import TransformersBackend
    from tests.llm_tiny import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, layers=args.layers, width=args.width, heads=max(2, args.width // 64))
    if device == "cuda":
        model = model.to(device=device, dtype=torch.bfloat16)
    settings = LLMSettings(backend="transformers", model="tiny-local", batch_size=args.batch_size, device=device)
    backend = TransformersBackend(settings, model=model, tokenizer=tokenizer)
    texts = prompts(args.prompts)
    print(
        f"{device}: {args.layers} layers x {args.width} wide, {args.prompts} prompts, batch {args.batch_size}, "
        f"{args.max_new_tokens} new tokens, median of {args.repeats}"
    )
    bare_generate(model, tokenizer, texts[: args.batch_size], args.batch_size, 4, device)  # warm-up
    bare, mine = [], []
    for _ in range(args.repeats):
        for fn, out in (
            (lambda: bare_generate(model, tokenizer, texts, args.batch_size, args.max_new_tokens, device), bare),
            (lambda: ours(backend, texts, args.max_new_tokens), mine),
        ):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            tokens = fn()
            if device == "cuda":
                torch.cuda.synchronize()
            out.append(tokens / (time.perf_counter() - start))
    b, o = statistics.median(bare), statistics.median(mine)
    print(f"  bare batched generate   {b:10.0f} new tokens/s   (baseline)")
    print(f"  transformers backend    {o:10.0f} new tokens/s   ratio {o / b:.2f}  (goal >= 0.90)")


if __name__ == "__main__":
    main()
