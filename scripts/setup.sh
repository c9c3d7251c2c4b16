#!/usr/bin/env bash
# Create .venv in the repository root and install qm with its bundled offline models.
# torch is installed first, pinned to the CPU build (an unpinned torch pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "qm installed: $(.venv/bin/qm --help >/dev/null && echo .venv/bin/qm)" >&2
