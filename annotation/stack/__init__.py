"""The local Argilla stack: Redis, OpenSearch with k-NN, argilla-server and its worker.

    from annotation import stack
    info = stack.up()          # sets up at first use, then starts; idempotent
    info.url, info.api_key     # connect with rg.Argilla(api_url=info.url, api_key=info.api_key)
    stack.status()
    stack.down()               # stops every process of the stack

Or from a shell: `python -m annotation.stack up|down|status`.

Everything lives in a git-ignored data directory, `<repo>/.stack/` unless CURATE_STACK_DIR is
set: the server's virtual environment, the search node's jars, databases, logs, pid files and
the owner's credentials (argilla-owner.json, mode 0600).

A user with a server of their own (Docker quickstart, a Hugging Face Space) sets
ARGILLA_API_URL and ARGILLA_API_KEY; `up()` then starts nothing and returns that server.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import argilla, opensearch, redis
from .config import StackConfig
from .process import StackError, http_ok, redis_ok

__all__ = ["StackError", "StackInfo", "connection", "down", "status", "up"]

KNN_PLUGIN = "org.opensearch.knn.plugin.KNNPlugin"


@dataclass(frozen=True)
class StackInfo:
    url: str
    api_key_file: Path | None
    username: str | None = None
    data_dir: Path | None = None
    log_dir: Path | None = None
    env_file: Path | None = None
    opensearch_url: str | None = None
    redis_url: str | None = None
    external: bool = False
    seconds: float = 0.0
    started: tuple[str, ...] = field(default_factory=tuple)

    @property
    def api_key(self) -> str:
        if self.external:
            return os.environ["ARGILLA_API_KEY"]
        return json.loads(Path(self.api_key_file).read_text())["api_key"]

    def client_env(self) -> dict[str, str]:
        """ARGILLA_API_URL and ARGILLA_API_KEY for a process that should use this server."""
        return {"ARGILLA_API_URL": self.url, "ARGILLA_API_KEY": self.api_key}


def _external() -> tuple[str, str] | None:
    url, key = os.environ.get("ARGILLA_API_URL"), os.environ.get("ARGILLA_API_KEY")
    return (url.rstrip("/"), key) if url and key else None


def _is_local(url: str, cfg: StackConfig) -> bool:
    return url.rstrip("/") in (cfg.argilla_url, f"http://localhost:{cfg.argilla_port}")


@contextmanager
def _lock(cfg: StackConfig):
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.data_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _info(cfg: StackConfig, seconds: float = 0.0, started: tuple[str, ...] = ()) -> StackInfo:
    return StackInfo(
        url=cfg.argilla_url,
        api_key_file=cfg.credentials_file,
        username=argilla.OWNER_USERNAME,
        data_dir=cfg.data_dir,
        log_dir=cfg.logs,
        env_file=cfg.env_file,
        opensearch_url=cfg.opensearch_url,
        redis_url=cfg.redis_url,
        seconds=seconds,
        started=started,
    )


def up(data_dir: str | os.PathLike | None = None, *, verbose: bool = True) -> StackInfo:
    """Set up (first time only) and start the stack; return once the server answers."""
    cfg = StackConfig.from_env(data_dir)
    external = _external()
    if external and not _is_local(external[0], cfg):
        if verbose:
            print(
                f"Using the Argilla server at {external[0]} (ARGILLA_API_URL); no local stack started.", file=sys.stderr
            )
        return StackInfo(url=external[0], api_key_file=None, external=True)

    def say(message: str) -> None:
        if verbose:
            print(f"[stack] {message}", file=sys.stderr, flush=True)

    began = time.monotonic()
    with _lock(cfg):
        before = _running(cfg)
        _preflight(cfg, before)

        # A running service keeps the artifacts it started with: rebuilding under it would pull
        # jars or the venv from under its feet. `down` then `up` picks up changes.
        def search_node() -> None:
            if before["opensearch"]:
                return
            if not opensearch.is_built(cfg):
                say("building the search node (OpenSearch 2.19 + k-NN, Maven Central) ...")
            opensearch.build(cfg)
            opensearch.start(cfg)

        def redis_server() -> None:
            if not before["redis"]:
                redis.start(cfg, redis.ensure_installed(cfg))

        def server_env() -> dict:
            if before["argilla-server"] or before["argilla-worker"]:
                return argilla.owner_credentials(cfg)
            if not argilla.venv_ready(cfg):
                say("creating the argilla-server virtual environment ...")
            argilla.ensure_venv(cfg)
            return argilla.prepare_database(cfg)

        with ThreadPoolExecutor(max_workers=3) as pool:
            jobs = [pool.submit(search_node), pool.submit(redis_server), pool.submit(server_env)]
            errors = [job.exception() for job in jobs if job.exception() is not None]
        if errors:
            raise StackError(
                "; ".join(str(e) for e in errors)
                + f"\n(processes already started keep running: `python -m annotation.stack down`"
                f" stops them; data dir {cfg.data_dir})"
            )

        # One after the other: on two cores, starting argilla-server's imports next to the
        # JVM's start made both slower than running them in turn.
        redis.wait_ready(cfg)
        opensearch.wait_ready(cfg)
        loaded = opensearch.plugins(cfg)
        if KNN_PLUGIN not in loaded:
            raise StackError(f"the search node runs without the k-NN plugin (plugins: {loaded})")
        argilla.start_server(cfg)
        argilla.wait_server(cfg)
        argilla.start_worker(cfg)

        started = tuple(name for name, pid in _running(cfg).items() if pid and not before.get(name))
        info = _info(cfg, time.monotonic() - began, started)
    if verbose:
        state = f"started {', '.join(started)}" if started else "already running"
        print(
            f"Argilla is up at {info.url} ({state}, {info.seconds:.1f}s)\n"
            f"  owner '{info.username}': password and API key in {info.api_key_file}\n"
            f"  ARGILLA_API_URL/ARGILLA_API_KEY for clients: {info.env_file}\n"
            f"  logs: {info.log_dir}",
            file=sys.stderr,
        )
    return info


def _preflight(cfg: StackConfig, running: dict) -> None:
    """Fail before starting anything when a tool the missing services need is absent."""
    import shutil

    missing = []
    if not running["opensearch"]:
        for tool, hint in (("java", "a JDK 11+, e.g. openjdk-17-jdk-headless"), ("mvn", "Maven, e.g. maven")):
            if shutil.which(tool) is None:
                missing.append(f"`{tool}` ({hint})")
    if not running["argilla-server"] and not argilla.venv_ready(cfg) and shutil.which("uv") is None:
        missing.append("`uv` (pip install uv)")
    if not running["redis"] and redis.redis_binary() is None and (shutil.which("apt-get") is None or os.geteuid() != 0):
        missing.append("`redis-server` (apt-get install redis-server; needs root to install it for you)")
    if missing:
        raise StackError("the local Argilla stack needs " + ", ".join(missing) + " on PATH")


def _services(cfg: StackConfig):
    # in stopping order: clients of a service stop before it
    return [
        argilla.worker_service(cfg),
        argilla.server_service(cfg),
        opensearch.service(cfg),
        redis.service(cfg),
    ]


def _running(cfg: StackConfig) -> dict[str, int | None]:
    return {svc.name: svc.pid() for svc in _services(cfg)}


def down(data_dir: str | os.PathLike | None = None, *, verbose: bool = True) -> list[str]:
    """Stop every process of the local stack; returns the names of those that were running."""
    cfg = StackConfig.from_env(data_dir)
    if not cfg.data_dir.exists():
        return []
    stopped = []
    with _lock(cfg):
        for svc in _services(cfg):
            if svc.pid() is not None:
                svc.stop(timeout=60 if svc.name == "opensearch" else 30)
                stopped.append(svc.name)
    if verbose:
        print(f"[stack] stopped: {', '.join(stopped) or 'nothing was running'}", file=sys.stderr)
    return stopped


def status(data_dir: str | os.PathLike | None = None) -> dict:
    """Each service's pid (None when not running) and whether it answers."""
    cfg = StackConfig.from_env(data_dir)
    pids = _running(cfg)
    checks = {
        "redis": lambda: redis_ok(cfg.redis_port),
        "opensearch": lambda: http_ok(opensearch.health_url(cfg)),
        "argilla-server": lambda: http_ok(argilla.status_url(cfg)),
        "argilla-worker": lambda: pids["argilla-worker"] is not None,
    }
    services = {name: {"pid": pids[name], "healthy": bool(pids[name]) and checks[name]()} for name in pids}
    return {
        "url": cfg.argilla_url,
        "data_dir": str(cfg.data_dir),
        "credentials": str(cfg.credentials_file),
        "up": all(s["healthy"] for s in services.values()),
        "services": services,
    }


def connection(data_dir: str | os.PathLike | None = None) -> tuple[str, str]:
    """(api_url, api_key): the user's own server when ARGILLA_API_URL/KEY are set, else ours."""
    external = _external()
    if external:
        return external
    cfg = StackConfig.from_env(data_dir)
    if not cfg.credentials_file.exists():
        raise StackError("no local Argilla stack set up yet: run `python -m annotation.stack up`")
    return cfg.argilla_url, json.loads(cfg.credentials_file.read_text())["api_key"]
