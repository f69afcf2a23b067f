"""Where the local Argilla stack lives and which ports it uses.

Everything is overridable by environment variables so that a second checkout, a CI job or a
developer with something else on a port can move the stack without editing code.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent
SEARCH_NODE_PROJECT = PACKAGE_DIR / "search_node"
SERVER_LOCK = PACKAGE_DIR / "argilla-server.lock"

ARGILLA_SERVER_VERSION = "2.8.0"
OWNER_USERNAME = "argilla"  # what `argilla_server database users create_default` creates

_PYTHON_CANDIDATES = ("/root/.pyenv/versions/3.11.7/bin/python3.11", "python3.11")


def _port(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a port number") from None


def _server_python() -> str:
    explicit = os.environ.get("CURATE_STACK_PYTHON")
    if explicit:
        return explicit
    for candidate in _PYTHON_CANDIDATES:
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    return "3.11"  # let uv find an installed 3.11 (downloads are switched off)


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    argilla_port: int
    opensearch_port: int
    opensearch_transport_port: int
    redis_port: int
    opensearch_heap: str
    server_python: str

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None) -> StackConfig:
        root = data_dir or os.environ.get("CURATE_STACK_DIR") or REPO_ROOT / ".stack"
        return cls(
            data_dir=Path(root).expanduser().resolve(),
            argilla_port=_port("CURATE_ARGILLA_PORT", 6900),
            opensearch_port=_port("CURATE_OPENSEARCH_PORT", 9201),
            opensearch_transport_port=_port("CURATE_OPENSEARCH_TRANSPORT_PORT", 9301),
            redis_port=_port("CURATE_REDIS_PORT", 6380),
            opensearch_heap=os.environ.get("CURATE_OPENSEARCH_HEAP", "1g"),
            server_python=_server_python(),
        )

    # layout of the data directory
    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run(self) -> Path:
        return self.data_dir / "run"

    @property
    def venv(self) -> Path:
        return self.data_dir / "argilla-venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def search_home(self) -> Path:
        return self.data_dir / "opensearch"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def argilla_home(self) -> Path:
        return self.data_dir / "argilla"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "argilla-owner.json"

    @property
    def env_file(self) -> Path:
        return self.data_dir / "argilla.env"

    @property
    def secret_key_file(self) -> Path:
        return self.argilla_home / "auth-secret-key"

    @property
    def argilla_url(self) -> str:
        return f"http://127.0.0.1:{self.argilla_port}"

    @property
    def opensearch_url(self) -> str:
        return f"http://127.0.0.1:{self.opensearch_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def database_url(self) -> str:
        db = self.argilla_home / "argilla.db"
        return f"sqlite+aiosqlite:///{db}?check_same_thread=False"
