#!/usr/bin/env bash
# The main job on the embedded default (the shipped manifest and stacks), offline:
# validate everything, then plan staging with the manifest's backend and after the flip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh runtime
py=.venv/bin/python
# Long lists (bindings, store secrets, rotation costs, commands) are cut to their first three
# entries here; `plan` prints them whole.
summarize() {
  awk '
    function flush() { if (hidden > 0) printf "%s... and %d more\n", indent, hidden; hidden = 0; run = 0 }
    {
      match($0, /^ */); width = RLENGTH
      if (width >= 2 && width == runwidth) { run++; if (run > 3) { hidden++; next } }
      else { flush(); runwidth = width; run = 1 }
      indent = substr($0, 1, width)
      print
    }
    END { flush() }'
}
echo "== validate"
$py -m stacks validate
echo
echo "== plan staging (manifest backend)"
$py -m stacks plan --stack staging | summarize
echo
echo "== plan staging after the flip (--backend store)"
$py -m stacks plan --stack staging --backend store | summarize
echo
echo "full plans: $py -m stacks plan --stack staging|prod [--backend legacy|store] [--format json]"
