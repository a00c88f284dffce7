"""The offline commands as a user runs them: a subprocess, the shipped project, both entry points."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ACCOUNT, ROOT, STORE_ID

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
        f"secrets_manifest.yaml: error: file not found (looked for {tmp_path}/secrets_manifest.yaml) (fix: create "
        "secrets_manifest.yaml there, or run from the project folder (the one holding Pulumi.yaml) or pass --project-dir)",
        f"Pulumi.<stack>.yaml: error: no stack files found in {tmp_path} (fix: add Pulumi.staging.yaml and "
        "Pulumi.prod.yaml there (see docs/getting-started.md))",
    ]


def test_run_from_a_subdirectory_finds_the_project() -> None:
    proc = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=ROOT / "stacks" / "core",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("ok: 25 secrets"), proc.stderr


def test_outside_any_project_it_says_where_it_looked(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=inner, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"Pulumi.yaml: error: no Pulumi.yaml in {inner} or any folder above it (looked in "
                                  f"{inner}, {inner.parent}, {tmp_path}, ")
    assert "(fix: run the command inside the secrets-plane project, or pass --project-dir PATH)" in proc.stderr


def test_project_dir_is_accepted_after_the_command(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "stacks", "plan", "--stack", "prod", "--project-dir", str(ROOT)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and proc.stdout.startswith("stack prod: backend legacy"), proc.stderr


@pytest.mark.parametrize("command", [["plan"], ["canary"], ["values", "status"], ["rotate", "OPENAI_API_KEY"]])
def test_a_missing_stack_lists_the_stacks(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "stacks", *command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "SECRETS_PLANE_PULUMI": sys.executable})  # rotate needs one
    assert proc.returncode == 1
    assert proc.stderr == "--stack: error: this command needs a stack (fix: pass --stack with one of: prod, staging)\n"


def test_the_demo_shows_the_warnings_it_counts_and_no_empty_section() -> None:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    counted = int(out.split(" warning(s)")[0].rsplit(", ", 1)[1])
    assert counted == 7 and out.count(": warning: ") == counted, "every warning counted is shown"
    # validate names each sample id once; each plan of staging only staging's own two
    assert out.count("still the sample's") == 4 + 2 * 2 and out.count("the sample's Pulumi org") == 1
    lines = proc.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(":") and not line.startswith("=="):
            following = lines[i + 1] if i + 1 < len(lines) else ""
            assert following.startswith("  "), f"section {line!r} has nothing under it"
    assert "rotation cost (25 secrets the plane rotates;" in proc.stdout and "... and 22 more" in proc.stdout


def test_plan_runs_the_program_on_the_manifest_given_with_manifest(project: Path) -> None:
    import yaml
    data = yaml.safe_load((project / "secrets_manifest.yaml").read_text())
    data["workers"]["billing"] = {"script_name": "ascend-billing-{stack}", "stacks": ["staging"],
                                  "secrets": ["HUBSPOT_ACCESS_TOKEN"]}
    (project / "draft.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "stacks", "plan", "--stack", "staging", "--manifest", "draft.yaml",
                           "--format", "json"], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ascend-billing-staging" in proc.stdout, "the program ran on draft.yaml, not the shipped manifest"
    shipped = subprocess.run([sys.executable, "-m", "stacks", "plan", "--stack", "staging", "--format", "json"],
                             cwd=project, capture_output=True, text=True, timeout=120)
    assert shipped.returncode == 0 and "ascend-billing-staging" not in shipped.stdout


def _validate_in(project: Path) -> list[str]:
    before = {p.name: p.read_bytes() for p in project.iterdir()}
    proc = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in project.iterdir()} == before, "validate touches nothing"
    lines = proc.stderr.splitlines()
    files = [line.split(":", 1)[0] for line in lines]
    assert files == sorted(files, key=lambda f: f != "secrets_manifest.yaml"), "grouped by file"
    manifest_lines = [int(line.split(":")[1]) for line in lines if line.startswith("secrets_manifest.yaml:")]
    assert manifest_lines == sorted(manifest_lines), "by line within the file"
    assert not any("HUBSPOT_ACCESS_TOKEN" in line and "rotation_days" not in line for line in lines), \
        "nothing said about the stand-in for the broken secret"
    return lines


def _has(lines: list[str], *messages: str) -> None:
    for message in messages:
        assert any(message in line and line.split(":")[1].isdigit() for line in lines), (message, lines)


def test_validate_reports_every_independent_mistake_in_one_run_grouped_by_file(project: Path) -> None:
    manifest = project / "secrets_manifest.yaml"
    shipped = manifest.read_text()
    # A schema error in one secret, a rule across files in another, a mistake in a stack file.
    broken = shipped.replace("rotation_days: 90", "rotation_days: -1", 1)
    broken = broken.replace("    rotation_days: 365\n", "    rotation_days: 365\n    store_names: {stagign: X}\n", 1)
    manifest.write_text(broken)
    stack = project / "Pulumi.staging.yaml"
    stack.write_text(stack.read_text().replace("5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b", "not-an-account"))
    lines = _validate_in(project)
    _has(lines, "secrets.HUBSPOT_ACCESS_TOKEN.rotation_days: error: Input should be greater than 0",
         "secrets.SALESFORCE_CLIENT_ID.store_names.stagign: error: secret 'SALESFORCE_CLIENT_ID' names its store "
         "secret in unknown stack 'stagign'",
         "config.secrets-plane:accountId: error: accountId is not a Cloudflare account id")
    # A rule of the manifest alone, beside the schema error and the stack file's mistake.
    manifest.write_text(broken.replace("      - SALESFORCE_CLIENT_ID\n", "      - NOT_DECLARED_ANYWHERE\n", 1))
    lines = _validate_in(project)
    _has(lines, "secrets.HUBSPOT_ACCESS_TOKEN.rotation_days: error: Input should be greater than 0",
         "workers.api.secrets[1]: error: Worker 'api' binds unknown secret 'NOT_DECLARED_ANYWHERE'",
         "config.secrets-plane:accountId: error: accountId is not a Cloudflare account id")


def test_validate_announces_every_external_secret_each_stack_needs(project: Path) -> None:
    import yaml
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    data["secrets"]["GONG_ACCESS_KEY"]["external"] = True  # legacy: set on each Worker by someone else
    data["secrets"]["SLACK_SIGNING_SECRET"].update(external=True, backend="store")  # in the store, by name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if "binds external secret" in line]
    for stack, script in (("prod", "ascend-v5"), ("staging", "ascend-v5-staging")):
        legacy = [line for line in said if f"stack '{stack}' binds external secret 'GONG_ACCESS_KEY'" in line]
        assert len(legacy) == 1, proc.stderr
        assert ": warning: " in legacy[0] and "must already exist on Worker" in legacy[0] and script in legacy[0]
        assert f"wrangler secret put GONG_ACCESS_KEY --name {script}" in legacy[0]
        store = [line for line in said if f"stack '{stack}' binds external secret 'SLACK_SIGNING_SECRET'" in line]
        assert len(store) == 1 and "through the store" in store[0] and "wrangler secrets-store secret create" in store[0]
    # The same needs, worded by the one rule plan uses.
    plan = json.loads(subprocess.run([sys.executable, "-m", "stacks", "plan", "--stack", "prod", "--format", "json"],
                                     cwd=project, capture_output=True, text=True, timeout=120, check=True).stdout)
    for need in plan["externals"]:
        assert any(f"'{need['secret']}'" in line and need["where"] in line and need["commands"][0] in line
                   for line in said), (need, said)


# ---- --manifest and the Pulumi CLI, for every command ---------------------------------------------

def _stand_in_pulumi(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment with the stand-in `pulumi` (tests/fake_pulumi.py) on PATH, and its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "pulumi"
    stand_in.write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT / 'tests' / 'fake_pulumi.py'} \"$@\"\n")
    stand_in.chmod(0o755)
    log = tmp_path / "pulumi-calls.jsonl"
    log.write_text("")
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_PULUMI_LOG": str(log)}, log


# Every command that reads the manifest, as a user would run it on the project below. `init` and
# `schema` read none (init writes one; --manifest says which to read, not where to write).
READS_THE_MANIFEST: dict[str, list[str]] = {
    "validate": [],
    "plan": ["--stack", "staging"],
    "canary": ["--stack", "staging", "--wait", "0"],
    "preflight": ["--stack", "staging"],
    "scope": ["--stack", "staging"],
    "audit": ["--stack", "staging", "--as-of", "2026-01-01"],
    "import": ["--stack", "staging", "--worker", "api", "--script", "ascend-v5-staging"],
    "wrangler": ["check", "--stack", "staging", "--worker", "api", "--config", "w/wrangler.toml", "--env", "staging"],
    "types": ["--stack", "staging", "--worker", "api"],
    "values": ["status", "--stack", "staging"],
    "rotate": ["HUBSPOT_ACCESS_TOKEN", "--stack", "staging", "--yes"],
    "retire": ["HUBSPOT_ACCESS_TOKEN", "--stack", "staging", "--yes"],
    "diff": ["--base", "HEAD", "--stack", "staging"],
    "adopt-store": ["--stack", "staging"],
    "dev": ["--stack", "staging", "--worker", "api", "--dir", "w", "--placeholders"],
    "overview": [],
    "codemod": ["w/index.ts", "--worker", "api", "--accessor", "w/secrets.ts"],
}


def test_every_command_reads_the_manifest_given_with_manifest(project: Path, tmp_path: Path, fake) -> None:  # type: ignore[no-untyped-def]
    from stacks.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(READS_THE_MANIFEST) == set(commands) - {"init", "schema"}, "a new command: say how it runs here"
    # The project's default manifest cannot be read: a command that reads it fails, naming it.
    (project / "other.yaml").write_text((project / "secrets_manifest.yaml").read_text())
    (project / "secrets_manifest.yaml").write_text("version: [\n")
    work = project / "w"
    work.mkdir()
    (work / "wrangler.toml").write_text('name = "ascend-v5"\n\n[env.staging]\nname = "ascend-v5-staging"\n')
    (work / "index.ts").write_text("export default { fetch(r: Request, env: any) { return env.OPENAI_API_KEY; } };\n")
    for argv in (["init"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base"]):
        subprocess.run(["git", *argv], cwd=project, check=True, capture_output=True)
    env, log = _stand_in_pulumi(tmp_path)
    env.update(CLOUDFLARE_API_TOKEN="test-token", CLOUDFLARE_BASE_URL=fake.base_url, SECRETS_PLANE_HTTP_TIMEOUT="2")
    fake.add_store(ACCOUNT, STORE_ID)
    for command, rest in READS_THE_MANIFEST.items():
        proc = subprocess.run([sys.executable, "-m", "stacks", command, *rest, "--manifest", "other.yaml"], cwd=project,
                              input="a-new-value\n", capture_output=True, text=True, timeout=120, env=env)
        out = proc.stdout + proc.stderr
        assert "secrets_manifest.yaml:1" not in out and "Traceback" not in out, (command, out)
        assert proc.returncode in (0, 1), (command, out)
    programs = [json.loads(line) for line in log.read_text().splitlines()
                if json.loads(line)["argv"][0] in ("up", "preview", "refresh")]
    assert {c["argv"][0] for c in programs} == {"up", "refresh"}, "rotate applied, scope refreshed"
    assert all(c["manifest"] == "other.yaml" for c in programs), "the program runs on the manifest given"


# Every command that runs the Pulumi CLI, with what makes it print before it does.
RUNS_PULUMI: dict[str, list[str]] = {
    "rotate": ["rotate", "HUBSPOT_ACCESS_TOKEN", "--stack", "staging", "--yes"],
    # No window is open on prod: said ("nothing to do") before staging's apply needs the CLI.
    "retire": ["retire", "WEBHOOK_SIGNING_SECRET", "--stack", "prod", "--stack", "staging", "--yes"],
    # A name staging does not use: noted before the values are set.
    "values load": ["values", "load", "--stack", "staging", "v.env"],
    "scope": ["scope", "--stack", "staging"],
}


def _registered_as_running_pulumi(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._subparsers._group_actions if parser._subparsers else []:  # type: ignore[union-attr]
        for name, sub in action.choices.items():  # type: ignore[union-attr]
            if sub.get_default("needs_pulumi") is not None:
                found.append(prefix + name)
            found += _registered_as_running_pulumi(sub, prefix + name + " ")
    return found


def test_a_missing_pulumi_cli_is_found_before_anything_is_printed(project: Path) -> None:
    import yaml

    from stacks.cli import build_parser, needs_pulumi

    parser = build_parser()
    assert set(RUNS_PULUMI) == set(_registered_as_running_pulumi(parser)), "a new command runs pulumi: add it here"
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"]["WEBHOOK_SIGNING_SECRET"]["overlap_days"] = 14
    staging = project / "Pulumi.staging.yaml"
    staging.write_text(staging.read_text() + "  secrets-plane:previous:\n    WEBHOOK_SIGNING_SECRET:\n"
                       "      retires: '2099-01-01'\n      value:\n        secure: v1:stand-in\n")
    unused = "BILLING_ONLY_IN_PROD"
    data["secrets"][unused] = {"description": "billing key", "owner": "platform", "provider": "stripe",
                               "rotation_days": 90}
    data["workers"]["billing"] = {"script_name": "ascend-billing", "stacks": ["prod"], "secrets": [unused]}
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    (project / "v.env").write_text(f"OPENAI_API_KEY=y\n{unused}=z\n")
    for name, argv in RUNS_PULUMI.items():
        assert needs_pulumi(parser.parse_args(argv)), name
        proc = subprocess.run([sys.executable, "-m", "stacks", *argv], cwd=project, input="a-new-value\n",
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "SECRETS_PLANE_PULUMI": "pulumi-not-installed-here"})
        assert proc.returncode == 1 and proc.stdout == "", (name, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("pulumi: error: the Pulumi CLI is not on PATH"), (name, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1, (name, proc.stderr)
    for argv in (["rotate", "HUBSPOT_ACCESS_TOKEN", "--stack", "staging", "--dry-run"],
                 ["values", "load", "--stack", "staging", "v.env", "--dry-run"],
                 ["scope", "--stack", "staging", "--all", "--no-refresh"]):
        assert not needs_pulumi(parser.parse_args(argv)), argv


def test_under_pulumi_the_program_reads_the_manifest_the_command_names(project: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """What `rotate --manifest draft.yaml` hands the `pulumi up` it starts: the program builds from draft.yaml."""
    import yaml
    from conftest import stack_config

    from stacks.core.estate import MANIFEST_ENV
    from stacks.resources.offline import run_program

    data = yaml.safe_load((project / "secrets_manifest.yaml").read_text())
    data["workers"]["billing"] = {"script_name": "ascend-billing-{stack}", "stacks": ["staging"],
                                  "secrets": ["HUBSPOT_ACCESS_TOKEN"]}
    (project / "draft.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    scripts = lambda: {r.name for r in run_program(project, "staging", stack_config("staging"),  # noqa: E731
                                                   ["secrets-plane:values"]).resources}
    assert "ascend-billing-staging" not in scripts()
    monkeypatch.setenv(MANIFEST_ENV, "draft.yaml")
    assert "ascend-billing-staging" in scripts()


# ---- the sample's ids -----------------------------------------------------------------------------

SAMPLE_WARNINGS = [
    "Pulumi.prod.yaml:3: config.secrets-plane:accountId: warning: secrets-plane:accountId is still the sample's "
    "account id (fix: put your Cloudflare account id there",
    "Pulumi.prod.yaml:5: config.secrets-plane:store.adopt: warning: secrets-plane:store.adopt is still the sample's "
    "store id (fix: put the id of your account's Secrets Store there",
    "Pulumi.prod.yaml:7: config.secrets-plane:promoteFrom: warning: secrets-plane:promoteFrom still names the "
    "sample's Pulumi org 'ascend' (fix: put your Pulumi org there",
    "Pulumi.staging.yaml:4: config.secrets-plane:accountId: warning: secrets-plane:accountId is still the sample's "
    "account id (fix: put your Cloudflare account id there",
    "Pulumi.staging.yaml:6: config.secrets-plane:store.adopt: warning: secrets-plane:store.adopt is still the "
    "sample's store id (fix: put the id of your account's Secrets Store there",
]


def _sample_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "sample's" in line]


def test_validate_names_each_sample_id_until_it_is_changed(project: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    said = _sample_lines(proc.stderr)
    assert len(said) == len(SAMPLE_WARNINGS) and all(line.startswith(want) for line, want in zip(said, SAMPLE_WARNINGS,
                                                                                                 strict=True)), said
    for stack in ("staging", "prod"):
        path = project / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text().replace(ACCOUNT, "0123456789abcdef0123456789abcdef")
                        .replace(STORE_ID, "fedcba9876543210fedcba9876543210").replace("ascend/", "my-org/"))
    again = subprocess.run([sys.executable, "-m", "stacks", "validate"], cwd=project, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and _sample_lines(again.stderr) == [], again.stderr
    assert again.stdout.split(", ")[-1] == "2 warning(s)\n"


@pytest.mark.parametrize("command", [["preflight"], ["canary"], ["audit"], ["adopt-store"], ["scope", "--all"],
                                     ["import", "--worker", "x", "--script", "y"]])
def test_the_sample_ids_never_reach_cloudflare(project: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLOUDFLARE_BASE_URL"}
    proc = subprocess.run([sys.executable, "-m", "stacks", *command, "--stack", "staging"], cwd=project,
                          capture_output=True, text=True, timeout=120,
                          env={**env, "CLOUDFLARE_API_TOKEN": "test-token", "SECRETS_PLANE_PULUMI": sys.executable})
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert proc.stderr.splitlines() == [
        want.replace(": warning: ", ": error: ").split(" (fix: ")[0] + ": Cloudflare has no such account or store of "
        "yours" + line.split("store of yours", 1)[1] for want, line in zip(SAMPLE_WARNINGS[3:], proc.stderr.splitlines(),
                                                                           strict=True)]
