#!/usr/bin/env bash
# The whole test suite: unit tests, then the integration suites (real Prefect flows, Dask clusters,
# servers on loopback). Services the suites need are started by their own fixtures and scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
# Style and structure first (seconds): the formatter, the linter, the import contracts (layers, no
# cycles), the docs site (a dead link or a page missing from the nav fails it).
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "${TMPDIR:-/tmp}/curate-docs-site"
.venv/bin/python -m pytest -q -m "not integration" --timeout=600 "$@"
# Debian packages the integration suites use: Chromium for the Argilla browser test (Redis is
# installed by the stack itself). Without root, the browser test skips and says why.
if [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "test: could not install chromium"
fi

# The Argilla stack for the integration suites, on ports of its own so that a developer's stack
# on this machine is left alone; stopped when the suite ends, whatever happens.
export CURATE_ARGILLA_PORT=16900 CURATE_OPENSEARCH_PORT=19201 CURATE_OPENSEARCH_TRANSPORT_PORT=19301 CURATE_REDIS_PORT=16380
export CURATE_STACK_DIR="${CURATE_STACK_DIR:-$PWD/.stack-test}"
unset ARGILLA_API_URL ARGILLA_API_KEY
trap '.venv/bin/python -m annotation.stack down || true' EXIT
.venv/bin/python -m annotation.stack up
.venv/bin/python -m pytest -q -m integration --timeout=1200 "$@"
