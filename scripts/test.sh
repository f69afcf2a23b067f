#!/usr/bin/env bash
# The whole test suite: unit tests, then the integration suites (real Prefect flows, Dask clusters,
# servers on loopback). Services the suites need are started by their own fixtures and scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/python -m pytest -q -m "not integration" --timeout=600 "$@"
.venv/bin/python -m pytest -q -m integration --timeout=1200 "$@"
