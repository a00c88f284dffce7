#!/usr/bin/env bash
# Mutation run over the write path with cosmic-ray (outside CI: hours on two cores).
#   scripts/mutation.sh                 every mutant: mutation/{survivors,score}.txt, mutation/session.sqlite
#   scripts/mutation.sh --survivors-of mutation/session.sqlite
#                                       only the mutants that survived that run, against today's tests:
#                                       mutation/rerun-{survivors,score}.txt
# cosmic-ray edits the modules it mutates, so each worker runs in its own copy of the committed
# tree; the workers listen on the loopback ports mutation/cosmic-ray.toml lists.
set -euo pipefail
cd "$(dirname "$0")/.."
previous=""
prefix=""
if [ "${1:-}" = "--survivors-of" ]; then
  previous=$(realpath "$2")
  prefix="rerun-"
fi
scripts/setup.sh dev
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r mutation/requirements.txt -c constraints.txt
root=$PWD
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
copy() {
  mkdir -p "$1"
  git ls-files -z | xargs -0 cp --parents -t "$1"
  ln -s "$root/.venv" "$1/.venv"
  ln -s "$root/node_modules" "$1/node_modules"
}
ports=$(grep -o '127.0.0.1:[0-9]*' mutation/cosmic-ray.toml | cut -d: -f2)
for port in $ports; do
  copy "$work/worker-$port"
  (cd "$work/worker-$port" && exec .venv/bin/python mutation/worker.py "$port") >"$work/worker-$port.log" 2>&1 &
  pids+=($!)
done
copy "$work/session"
cd "$work/session"
db=session.sqlite
.venv/bin/cosmic-ray init mutation/cosmic-ray.toml "$db"
.venv/bin/cr-filter-operators "$db" mutation/cosmic-ray.toml
.venv/bin/python mutation/skip_annotations.py "$db"
if [ -n "$previous" ]; then
  .venv/bin/python mutation/only_survivors.py "$db" "$previous"
fi
.venv/bin/cosmic-ray baseline mutation/cosmic-ray.toml
.venv/bin/cosmic-ray exec mutation/cosmic-ray.toml "$db"
.venv/bin/cr-report --surviving-only --show-diff "$db" > "$root/mutation/${prefix}survivors.txt"
.venv/bin/cr-report "$db" | tail -n 3 | tee "$root/mutation/${prefix}score.txt"
cp "$db" "$root/mutation/${prefix}session.sqlite"
