"""Redis from Debian's packages, run on a loopback port with its own directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .config import StackConfig
from .process import Service, StackError, redis_ok, run_logged, wait_until


def service(cfg: StackConfig) -> Service:
    return Service("redis", cfg.run, cfg.logs)


def redis_binary() -> str | None:
    return shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


def ensure_installed(cfg: StackConfig) -> str:
    found = redis_binary()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise StackError(
            "redis-server is not installed and cannot be installed from here "
            "(needs apt-get as root). Install it, e.g. `sudo apt-get install -y redis-server`, "
            "or put a redis-server on PATH."
        )
    log = cfg.logs / "setup.log"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "redis-server"]
    try:
        run_logged(install, log, env=env, what="apt-get install redis-server")
    except StackError:
        # a fresh machine has no package lists yet
        run_logged([apt, "update", "-q"], log, env=env, what="apt-get update")
        run_logged(install, log, env=env, what="apt-get install redis-server")
    found = redis_binary()
    if not found:
        raise StackError(f"apt-get installed redis-server but it is not on PATH; see {log}")
    return found


def start(cfg: StackConfig, binary: str) -> None:
    svc = service(cfg)
    if svc.pid() is not None:
        return
    cfg.redis_dir.mkdir(parents=True, exist_ok=True)
    if redis_ok(cfg.redis_port):
        raise StackError(
            f"port {cfg.redis_port} already serves a Redis that this stack did not start; "
            "stop it or set CURATE_REDIS_PORT"
        )
    cmd = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(cfg.redis_port),
        "--dir",
        str(cfg.redis_dir),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        # rq jobs only; a lost queue on a crash is fine for a dev stack
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    svc.start(cmd, os.environ, cwd=cfg.redis_dir)


def wait_ready(cfg: StackConfig, timeout: float = 30) -> None:
    wait_until(lambda: redis_ok(cfg.redis_port), service(cfg), "answering PING", timeout)
