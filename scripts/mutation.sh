#!/usr/bin/env bash
# Mutation runs with cosmic-ray (outside CI: hours on two cores).
#   scripts/mutation.sh                 the write path (mutation/cosmic-ray.toml): mutation/{survivors,score}.txt
#   scripts/mutation.sh reviews         what people read to decide, one group after another
#                                       (mutation/reviews/*.toml): mutation/reviews/<group>-{survivors,score}.txt
#   scripts/mutation.sh CONFIG.toml     one configuration: <config>-{survivors,score}.txt beside it
#   ... --survivors-of SESSION.sqlite   only the mutants that survived that session, against today's
#                                       tests: rerun-{survivors,score}.txt (one configuration only)
# cosmic-ray edits the modules it mutates, so each worker runs in its own copy of the committed
# tree; the workers listen on the loopback ports the configuration lists. Bytecode caching is off
# everywhere, so a worker never imports a stale compiled copy of a module it mutated.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
target="${1:-mutation/cosmic-ray.toml}"
[ $# -gt 0 ] && shift
if [ "$target" = reviews ]; then
  for config in mutation/reviews/*.toml; do
    "$0" "$config" "$@"
  done
  exit 0
fi
previous=""
rerun=""
if [ "${1:-}" = "--survivors-of" ]; then
  previous=$(realpath "$2")
  rerun="rerun-"
fi
if [ "$target" = mutation/cosmic-ray.toml ]; then
  out="mutation/${rerun}"                      # the write path's files keep their names
else
  out="${target%.toml}-${rerun}"
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
ports=$(grep -o '127.0.0.1:[0-9]*' "$target" | cut -d: -f2)
for port in $ports; do
  copy "$work/worker-$port"
  (cd "$work/worker-$port" && exec .venv/bin/python mutation/worker.py "$port") >"$work/worker-$port.log" 2>&1 &
  pids+=($!)
done
copy "$work/session"
cd "$work/session"
db=session.sqlite
.venv/bin/cosmic-ray init "$target" "$db"
.venv/bin/cr-filter-operators "$db" "$target"
.venv/bin/python mutation/skip_annotations.py "$db"
if [ -n "$previous" ]; then
  .venv/bin/python mutation/only_survivors.py "$db" "$previous"
fi
.venv/bin/cosmic-ray baseline "$target"
.venv/bin/cosmic-ray exec "$target" "$db"
.venv/bin/cr-report --surviving-only --show-diff "$db" > "$root/${out}survivors.txt"
.venv/bin/cr-report "$db" | tail -n 3 | tee "$root/${out}score.txt"
cp "$db" "$root/${out}session.sqlite"
