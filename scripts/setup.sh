#!/usr/bin/env bash
# Create or update .venv from uv.lock. Idempotent: a no-op when the environment is current.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never  # no network but the package registries: use the machine's Python

PY=$(command -v python3.11 || command -v python3.12 || command -v python3 || true)
if [ -z "$PY" ]; then
  echo "setup: Python 3.11 or 3.12 is required (none found on PATH)" >&2
  exit 1
fi
if ! "$PY" -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv (the project's package manager) with pip"
  "$PY" -m pip install --quiet "uv==0.13.8" 2>/dev/null || "$PY" -m pip install --quiet --user "uv==0.13.8"
fi
# --compile-bytecode: every `curate` call and test subprocess imports a few thousand modules;
# compiled once here (about 20 s) they load from .pyc even where PYTHONDONTWRITEBYTECODE is set
# (containers, CI), which saves about 4 s per call. Later syncs only check the timestamps.
"$PY" -m uv sync --frozen --python "$PY" --quiet --compile-bytecode
echo "setup: .venv ready ($(.venv/bin/python --version))"
