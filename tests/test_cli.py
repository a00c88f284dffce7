"""The offline commands as a user runs them: a subprocess, the shipped project, both entry points."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from stacks.core.estate import load_estate


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stacks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_validate_shipped_project() -> None:
    proc = run("validate")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: 25 secrets, 5 workers, 69 bindings, stacks prod, staging, backend legacy")


@pytest.mark.parametrize("stack", ["staging", "prod"])
@pytest.mark.parametrize("backend", ["legacy", "store"])
def test_plan_json_of_the_shipped_manifest(stack: str, backend: str) -> None:
    proc = run("plan", "--stack", stack, "--backend", backend, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    desired = load_estate(ROOT).desired_state(stack, backend)
    assert plan["stack"] == stack and plan["backend"] == backend
    assert plan["manifest_digest"] == desired.manifest_digest
    assert [w["script_name"] for w in plan["workers"]] == [w.script_name for w in desired.workers]
    for planned, wanted in zip(plan["workers"], desired.workers, strict=True):
        assert [(b["name"], b["type"], b["secret"], b.get("store_secret_name")) for b in planned["bindings"]] == \
               [(b.name, b.kind, b.secret, b.store_secret_name) for b in wanted.bindings]
    if backend == "store":
        assert plan["store"] == {"mode": "adopt", "id": "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"}
        assert len(plan["store_secrets"]) == 25
    else:
        assert plan["store"] is None and plan["store_secrets"] == []
    types = {r["type"] for r in plan["resources"]}
    assert "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings" in types
    assert set(plan["missing_values"]) == set(desired.needed_values), "the shipped stacks carry no values"


def test_console_script_runs_the_same_commands() -> None:
    script = shutil.which("secrets-plane", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.fail("the secrets-plane console script is not installed: run scripts/setup.sh")
    proc = subprocess.run([script, "validate"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("ok: 25 secrets")


def test_errors_have_no_traceback_and_exit_1(tmp_path: Path) -> None:
    proc = run("--project-dir", str(tmp_path), "validate")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "secrets_manifest.yaml: error: file not found (fix: create secrets_manifest.yaml or pass the right path)",
        "Pulumi.<stack>.yaml: error: no stack files found (fix: add Pulumi.staging.yaml and Pulumi.prod.yaml (see README.md))",
    ]
