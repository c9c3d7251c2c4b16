#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, on SQLite and on the PostgreSQL at
# QM_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check qm flows tests bench
exec .venv/bin/pytest -q "$@"
