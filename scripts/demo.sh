#!/usr/bin/env bash
# The main job on the embedded default (the shipped manifest and stacks), offline:
# validate everything, then plan staging with the manifest's backend and after the flip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh runtime
py=.venv/bin/python
echo "== validate"
$py -m stacks validate 2>/dev/null
echo
# Per-binding lines and the per-value commands are long: keep the demo to a summary.
summarize() {
  awk '/^    /{next} /^  pulumi config set/{n++; if (n==1) print "  pulumi config set --secret --path '"'"'secrets-plane:values.<NAME>'"'"' --stack staging   (one per value)"; next} {print}'
}
echo "== plan staging (manifest backend)"
$py -m stacks plan --stack staging 2>/dev/null | summarize
echo
echo "== plan staging after the flip (--backend store)"
$py -m stacks plan --stack staging --backend store | summarize
echo
echo "full plans: $py -m stacks plan --stack staging|prod [--backend legacy|store] [--format json]"
