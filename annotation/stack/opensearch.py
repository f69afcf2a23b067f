"""OpenSearch 2.19 with the k-NN plugin, built from Maven Central by `search_node/pom.xml`.

The build writes only into the data directory (jars, classes); Maven's own cache (~/.m2) makes
a rebuild in a fresh clone fast. A stamp of the Maven project's sources skips the build when
nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

from .config import SEARCH_NODE_PROJECT, StackConfig
from .process import Service, StackError, http_ok, port_open, run_logged, wait_until

MAIN_CLASS = "curate.stack.SearchNode"


def service(cfg: StackConfig) -> Service:
    return Service("opensearch", cfg.run, cfg.logs)


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SEARCH_NODE_PROJECT.rglob("*")):
        if path.is_file() and "target" not in path.parts:
            digest.update(str(path.relative_to(SEARCH_NODE_PROJECT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_file(cfg: StackConfig):
    return cfg.search_home / "build.stamp"


def is_built(cfg: StackConfig) -> bool:
    try:
        return _stamp_file(cfg).read_text().strip() == _sources_digest()
    except OSError:
        return False


def _require_tools() -> tuple[str, str]:
    java, mvn = shutil.which("java"), shutil.which("mvn")
    missing = [name for name, path in (("java (JDK 11+)", java), ("mvn (Maven 3.6+)", mvn)) if not path]
    if missing:
        raise StackError(
            f"{' and '.join(missing)} not found on PATH; the local search engine is built and run "
            "with them. On Debian: `apt-get install -y openjdk-17-jdk-headless maven`."
        )
    return java, mvn


def build(cfg: StackConfig) -> None:
    if is_built(cfg):
        return
    _, mvn = _require_tools()
    for stale in ("lib", "knn", "build"):
        shutil.rmtree(cfg.search_home / stale, ignore_errors=True)
    cfg.search_home.mkdir(parents=True, exist_ok=True)
    run_logged(
        [mvn, "-B", "-q", "-f", str(SEARCH_NODE_PROJECT / "pom.xml"), f"-Dstack.home={cfg.search_home}", "package"],
        cfg.logs / "setup.log",
        what="Maven build of the search node (OpenSearch + k-NN from Maven Central)",
    )
    _stamp_file(cfg).write_text(_sources_digest() + "\n")


def _classpath(cfg: StackConfig) -> str:
    home = cfg.search_home
    return os.pathsep.join([str(home / "build" / "classes"), str(home / "lib" / "*"), str(home / "knn" / "*")])


def health_url(cfg: StackConfig) -> str:
    return f"{cfg.opensearch_url}/_cluster/health?wait_for_status=yellow&timeout=1s"


def start(cfg: StackConfig) -> None:
    svc = service(cfg)
    if svc.pid() is not None:
        return
    java, _ = _require_tools()
    for port in (cfg.opensearch_port, cfg.opensearch_transport_port):
        if port_open(port):
            raise StackError(
                f"port {port} is already in use by a process this stack did not start; stop it "
                "or set CURATE_OPENSEARCH_PORT / CURATE_OPENSEARCH_TRANSPORT_PORT"
            )
    node_home = cfg.search_home / "node"
    node_home.mkdir(parents=True, exist_ok=True)
    cmd = [
        java,
        f"-Xms{cfg.opensearch_heap}",
        f"-Xmx{cfg.opensearch_heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        "-Dfile.encoding=UTF-8",
        "-Dlog4j2.formatMsgNoLookups=true",
        "-cp",
        _classpath(cfg),
        MAIN_CLASS,
        str(node_home),
        str(cfg.opensearch_port),
        str(cfg.opensearch_transport_port),
    ]
    svc.start(cmd, os.environ, cwd=cfg.search_home)


def wait_ready(cfg: StackConfig, timeout: float = 120) -> None:
    wait_until(lambda: http_ok(health_url(cfg)), service(cfg), "cluster health yellow", timeout)


def plugins(cfg: StackConfig) -> list[str]:
    """The plugin classes the running node reports (to show that k-NN is loaded)."""
    import urllib.request

    with urllib.request.urlopen(f"{cfg.opensearch_url}/_cat/plugins?format=json", timeout=5) as r:
        return [row["component"] for row in json.load(r)]
