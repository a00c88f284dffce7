#!/usr/bin/env bash
# Set up and run every check: lint, type check, and the test suite (all offline, loopback only).
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the inner loop: the pure core and the CLI, no provider host, no Node
#   scripts/test.sh ARGS...    pytest arguments (e.g. tests/test_diff.py -k store)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
# The overview page is checked in Debian's Chromium (driven by the pinned playwright-core); the
# workflow's comment filter is run with jq (gh runs it with the same language).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v jq >/dev/null 2>&1 || missing="$missing jq"
if [ -n "$missing" ]; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  as_root apt-get install -y -q $missing >/dev/null 2>&1 || { as_root apt-get update -q >/dev/null && \
    as_root apt-get install -y -q $missing >/dev/null; }
fi
py=.venv/bin/python
$py -m ruff check stacks tests policy bench __main__.py
if [ "${1:-}" = "--quick" ]; then
  shift
  # The inner loop: the pure core and the command line as people run it; nothing that starts the
  # Pulumi program, the provider host, Node or a browser (the full run has those).
  exec $py -m pytest -q tests/test_write_plan.py tests/test_estate_rules.py tests/test_codemod.py tests/test_docs.py \
    tests/test_phased.py tests/test_bad_input.py tests/test_cli.py tests/test_diff.py tests/test_init.py \
    tests/test_pacing.py tests/test_wrangler_config.py -k "not demo and not console_script and not 429 and not fuzz and not plan_json and not \
    after_the_command and not (test_phased and not rule)" "$@"
fi
$py -m mypy
$py -m pytest -q "$@"
