#!/usr/bin/env bash
# Set up and run every check: lint, type check, and the test suite (all offline, loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
py=.venv/bin/python
$py -m ruff check stacks tests policy bench __main__.py
$py -m mypy
$py -m pytest -q "$@"
