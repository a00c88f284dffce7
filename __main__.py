"""secrets-plane Pulumi program: secrets_manifest.yaml -> Secrets Store or legacy Worker secrets."""

from pathlib import Path

from stacks.resources.program import run

run(Path(__file__).resolve().parent)
