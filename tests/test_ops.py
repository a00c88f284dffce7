"""Day-2 commands as a user runs them (a subprocess), with a stand-in `pulumi` on PATH that records
its argv and stdin: values only ever on stdin, nothing written when any name is wrong, `rotate`
targeting exactly the URNs the program registers, `diff` against a git repository the test makes,
`adopt-store` against the fake API, and the editor schema."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ACCOUNT, CANARY_PREFIX, FIGURES, ROOT, STORE_ID, canary, leak_scan, stack_config
from fake_cloudflare import StoreSecret

from stacks.core.naming import BINDINGS_TYPE, STORE_SECRET_TYPE
from stacks.core.schema import SCHEMA_FILE, render_schema
from stacks.resources.component import ADOPT_HINT_HOOK, adopt_store_hint
from stacks.resources.offline import run_program


@pytest.fixture
def pulumi_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `pulumi` on PATH that records every call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "pulumi"
    stand_in.write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT / 'tests' / 'fake_pulumi.py'} \"$@\"\n")
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "pulumi-calls.jsonl"
    log.write_text("")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def stacks_cli(project: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), *args], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120)


scanned = leak_scan


def no_value_in_argv(log: Path) -> None:
    for call in calls(log):
        assert CANARY_PREFIX not in scanned(json.dumps(call["argv"])), call["argv"]


# ---- values load / status -------------------------------------------------------------------------

def test_values_load_sets_each_value_on_stdin_only(project: Path, pulumi_log: Path) -> None:
    dotenv = project / "staging.env"
    dotenv.write_text(f"# staging values\nOPENAI_API_KEY={canary('openai')}\nexport SLACK_BOT_TOKEN=\"{canary('slack')}\"\n"
                      f"TOKEN_ENCRYPTION_KEY='{canary('multi')}\\nline'\n")
    proc = stacks_cli(project, "values", "load", "--stack", "staging", str(dotenv))
    assert proc.returncode == 0, proc.stderr
    made = calls(pulumi_log)
    assert [c["argv"] for c in made] == [
        ["config", "set", "--secret", "--path", f"secrets-plane:values.{name}", "--stack", "staging", "--non-interactive"]
        for name in ("OPENAI_API_KEY", "SLACK_BOT_TOKEN", "TOKEN_ENCRYPTION_KEY")]
    assert [c["stdin"] for c in made] == [canary("openai") + "\n", canary("slack") + "\n", canary("multi") + "\\nline\n"]
    assert all(Path(c["cwd"]) == project for c in made)
    no_value_in_argv(pulumi_log)
    out = scanned(proc.stdout + proc.stderr)
    assert CANARY_PREFIX not in out
    assert "set 3 value(s) for stack 'staging' (encrypted, through standard input): OPENAI_API_KEY, SLACK_BOT_TOKEN, " \
           "TOKEN_ENCRYPTION_KEY" in out
    assert "still missing for stack 'staging' (22)" in out


def test_values_load_reads_json_from_stdin(project: Path, pulumi_log: Path) -> None:
    proc = stacks_cli(project, "values", "load", "--stack", "prod", "-",
                      stdin=json.dumps({"HUBSPOT_ACCESS_TOKEN": canary("hub")}))
    assert proc.returncode == 0, proc.stderr
    assert [c["stdin"] for c in calls(pulumi_log)] == [canary("hub") + "\n"]
    no_value_in_argv(pulumi_log)


@pytest.mark.parametrize("content,expected", [
    ("OPENAI_API_KEY=a\nOPENAI_APIKEY=b\n", "values.env:2: OPENAI_APIKEY: error: 'OPENAI_APIKEY' is not a secret of "
                                            "secrets_manifest.yaml (fix: did you mean 'OPENAI_API_KEY'?)"),
    ("OPENAI_API_KEY=" + "x" * 5121 + "\n", "values.env:1: OPENAI_API_KEY: error: value of 'OPENAI_API_KEY' is 5121 bytes, "
                                            "over 5120 bytes, the Workers limit of a secret_text value"),
    ("OPENAI_API_KEY=a\nthis is not a line\n", "values.env:2: error: line 2 is not a NAME=value line (its text is not "
                                               "shown: it may be part of a value)"),
    ("OPENAI_API_KEY=a\nOPENAI_API_KEY=b\n", "values.env:2: OPENAI_API_KEY: error: 'OPENAI_API_KEY' is set twice (first at line 1)"),
    ('{"OPENAI_API_KEY": 42}', "values.env:1: OPENAI_API_KEY: error: the value of 'OPENAI_API_KEY' is not a string"),
    ("OPENAI_API_KEY=a\nSLACK_BOT_TOKEN=\n", "values.env:2: SLACK_BOT_TOKEN: error: 'SLACK_BOT_TOKEN' has no value (fix: "
                                              "write NAME=value, or drop the line to leave the value as it is)"),
    ('{"OPENAI_API_KEY": "a",\n "SLACK_BOT_TOKEN": ""}', "values.env:2: SLACK_BOT_TOKEN: error: 'SLACK_BOT_TOKEN' has no "
                                                       "value"),
])
def test_values_load_writes_nothing_when_any_line_is_wrong(project: Path, pulumi_log: Path, content: str,
                                                           expected: str) -> None:
    (project / "values.env").write_text(content)
    proc = subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), "values", "load", "--stack",
                           "prod", "values.env"], cwd=project, capture_output=True, text=True, timeout=120)
    FIGURES["bad_inputs"] += 1
    assert proc.returncode == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert calls(pulumi_log) == [], "nothing is set when any name or size is wrong"
    FIGURES["bad_inputs_exit_1"] += 1


def test_values_load_dry_run_needs_no_pulumi_and_shows_no_value(project: Path, tmp_path: Path) -> None:
    dotenv = project / "staging.env"
    dotenv.write_text(f"OPENAI_API_KEY={canary('openai')}\nSLACK_BOT_TOKEN={canary('slack')}\n")
    proc = subprocess.run([sys.executable, "-m", "stacks", "values", "load", "--stack", "staging", str(dotenv),
                           "--dry-run"], cwd=project, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)})  # no pulumi anywhere
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:3] == [
        "would set 2 value(s) for stack 'staging' (encrypted, through standard input): OPENAI_API_KEY, SLACK_BOT_TOKEN",
        "  pulumi config set --secret --path 'secrets-plane:values.OPENAI_API_KEY' --stack staging  # value on stdin",
        "  pulumi config set --secret --path 'secrets-plane:values.SLACK_BOT_TOKEN' --stack staging  # value on stdin"]
    assert "still missing for stack 'staging' after that (23)" in proc.stdout
    assert CANARY_PREFIX not in scanned(proc.stdout + proc.stderr)


def test_values_status_reads_the_stack_file_without_decrypting(project: Path) -> None:
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text() + "  secrets-plane:values:\n    OPENAI_API_KEY:\n      secure: v1:abc\n"
                     "    SLACK_BOT_TOKEN: plain-by-mistake\n    DEEPSEEK_API_KEY:\n      secure: v1:def\n")
    proc = stacks_cli(project, "values", "status", "--stack", "prod")
    assert proc.returncode == 1, "a plain-text value is a validation error first"
    stack.write_text(stack.read_text().replace("    SLACK_BOT_TOKEN: plain-by-mistake\n", ""))
    proc = stacks_cli(project, "values", "status", "--stack", "prod")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("values of stack 'prod': 25 needed, 2 set (encrypted), 23 missing")
    assert "v1:abc" not in proc.stdout


# ---- rotate ---------------------------------------------------------------------------------------

def test_rotate_dry_run_names_targets_and_commands_and_never_the_value(project: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "stacks", "rotate", "OPENAI_API_KEY", "--stack", "staging", "--stack",
                           "prod", "--dry-run"], cwd=project, input=canary("new"), capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    out = scanned(proc.stdout + proc.stderr)
    assert CANARY_PREFIX not in out
    staging, prod = registered_urns(project, "staging"), registered_urns(project, "prod")
    staging_scripts = ["ascend-v5-staging", "ascend-context-staging", "ascend-v5-dev", "ascend-v5-preview"]
    assert out.splitlines() == [
        "rotate OPENAI_API_KEY: would touch exactly",
        f"  staging: 4 Worker(s) holding it as a Worker secret, one version each: {', '.join(staging_scripts)}",
        "  prod: 2 Worker(s) holding it as a Worker secret, one version each: ascend-v5, ascend-context",
        "would run, per stack in this order (values on standard input, never on a command line):",
        "  pulumi config set --secret --path 'secrets-plane:values.OPENAI_API_KEY' --stack staging  # the new value, on stdin",
        "  pulumi up --stack staging " + " ".join(f"--target {staging[s]}" for s in staging_scripts),
        "  pulumi config set --secret --path 'secrets-plane:values.OPENAI_API_KEY' --stack prod  # the new value, on stdin",
        f"  pulumi up --stack prod --target {prod['ascend-v5']} --target {prod['ascend-context']}",
    ]
    # Too large a value is refused in a dry run too.
    proc = subprocess.run([sys.executable, "-m", "stacks", "rotate", "OPENAI_API_KEY", "--stack", "prod", "--dry-run"],
                          cwd=project, input="x" * 6000, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1 and "is 6000 bytes, over 5120 bytes" in proc.stderr


def registered_urns(project: Path, stack: str, backend: str | None = None) -> dict[str, str]:
    """name -> URN of what the real program registers under mocks."""
    result = run_program(project, stack, stack_config(stack, backend=backend), ["secrets-plane:values"])
    return {r.name: r.urn for r in result.resources if r.type in (BINDINGS_TYPE, STORE_SECRET_TYPE)}


def up_targets(log: Path) -> list[list[str]]:
    return [[c["argv"][i + 1] for i, a in enumerate(c["argv"]) if a == "--target"] for c in calls(log)
            if c["argv"][0] == "up"]


def test_rotate_legacy_targets_the_workers_binding_it(project: Path, pulumi_log: Path) -> None:
    proc = stacks_cli(project, "rotate", "HUBSPOT_ACCESS_TOKEN", "--stack", "staging", "--stack", "prod", "--yes",
                      stdin=canary("new-hubspot") + "\n")
    assert proc.returncode == 0, proc.stderr
    made = calls(pulumi_log)
    assert [c["argv"][:2] for c in made] == [["config", "set"], ["up", "--stack"], ["config", "set"], ["up", "--stack"]]
    assert made[0]["stdin"] == made[2]["stdin"] == canary("new-hubspot") + "\n"
    staging, prod = registered_urns(project, "staging"), registered_urns(project, "prod")
    assert [sorted(t) for t in up_targets(pulumi_log)] == [
        sorted(staging[s] for s in ("ascend-scheduler-staging", "ascend-v5-dev", "ascend-v5-preview", "ascend-v5-staging")),
        sorted(prod[s] for s in ("ascend-scheduler", "ascend-v5"))]
    no_value_in_argv(pulumi_log)
    out = scanned(proc.stdout + proc.stderr)
    assert CANARY_PREFIX not in out
    assert "staging: 4 Worker(s) holding it as a Worker secret, one version each" in out
    assert "rotated HUBSPOT_ACCESS_TOKEN on 2 stack(s) in" in out


def test_rotate_on_the_store_targets_one_resource(project: Path, pulumi_log: Path) -> None:
    pin = project / "Pulumi.prod.yaml"
    pin.write_text(pin.read_text() + "  secrets-plane:backend: store\n")
    proc = stacks_cli(project, "rotate", "OPENAI_API_KEY", "--stack", "prod", "--yes", stdin=canary("k"))
    assert proc.returncode == 0, proc.stderr
    assert up_targets(pulumi_log) == [[registered_urns(project, "prod", "store")["secret-OPENAI_API_KEY"]]]
    assert "store secret OPENAI_API_KEY (1 in-place update, no Worker version)" in proc.stdout


def test_rotate_with_fallback_copies_targets_the_store_secret_and_each_copy(project: Path, pulumi_log: Path) -> None:
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"]["OPENAI_API_KEY"].update(backend="store", fallback=True)
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = stacks_cli(project, "rotate", "OPENAI_API_KEY", "--stack", "prod", "--yes", stdin=canary("k"))
    assert proc.returncode == 0, proc.stderr
    urns = registered_urns(project, "prod")
    assert up_targets(pulumi_log) == [[urns["secret-OPENAI_API_KEY"], urns["ascend-v5"], urns["ascend-context"]]]


def test_rotate_generate_makes_a_fresh_value_per_stack(project: Path, pulumi_log: Path) -> None:
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"]["WEBHOOK_SIGNING_SECRET"]["generate"] = {"bytes": 32}
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = stacks_cli(project, "rotate", "WEBHOOK_SIGNING_SECRET", "--stack", "staging", "--stack", "prod", "--generate",
                      "--yes")
    assert proc.returncode == 0, proc.stderr
    values = [c["stdin"][:-1] for c in calls(pulumi_log) if c["argv"][0] == "config"]
    assert len(values) == 2 and values[0] != values[1] and all(len(v) == 43 for v in values), "32 bytes, base64url"
    for value in values:
        assert value not in proc.stdout + proc.stderr and value not in json.dumps([c["argv"] for c in calls(pulumi_log)])


@pytest.mark.parametrize("args,stdin,expected", [
    (["HUBSPOT_ACCES_TOKEN", "--stack", "prod", "--yes"], "v", "did you mean 'HUBSPOT_ACCESS_TOKEN'?"),
    (["HUBSPOT_ACCESS_TOKEN", "--stack", "prod"], "v", "pass --yes"),
    (["HUBSPOT_ACCESS_TOKEN", "--stack", "prod", "--generate", "--yes"], "", "does not say how to generate a value"),
    (["DEEPSEEK_API_KEY", "--stack", "prod", "--yes"], "v", "stack(s) prod hold no copy of 'DEEPSEEK_API_KEY'"),
    (["HUBSPOT_ACCESS_TOKEN", "--stack", "prod", "--yes"], "x" * 6000, "over 5120 bytes"),
    (["HUBSPOT_ACCESS_TOKEN", "--stack", "prod", "--yes"], "", "no value for 'HUBSPOT_ACCESS_TOKEN' on standard input (an empty credential is never set)"),
])
def test_rotate_refuses_before_touching_anything(project: Path, pulumi_log: Path, args: list[str], stdin: str,
                                                 expected: str) -> None:
    if "DEEPSEEK_API_KEY" in args:  # bound only by the context Worker: drop it from there
        manifest = project / "secrets_manifest.yaml"
        manifest.write_text(manifest.read_text().replace("      - DEEPSEEK_API_KEY\n", ""))
    proc = stacks_cli(project, "rotate", *args, stdin=stdin)
    FIGURES["bad_inputs"] += 1
    assert proc.returncode == 1 and expected in proc.stderr, proc.stderr
    assert calls(pulumi_log) == [] and "Traceback" not in proc.stderr
    FIGURES["bad_inputs_exit_1"] += 1


def test_a_failed_up_on_staging_stops_before_production(project: Path, pulumi_log: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "up")
    proc = stacks_cli(project, "rotate", "HUBSPOT_ACCESS_TOKEN", "--stack", "staging", "--stack", "prod", "--yes",
                      stdin=canary("v"))
    assert proc.returncode == 1
    assert "pulumi up failed on staging (exit 255): the new value is set in its config but not applied; prod not " \
           "started" in proc.stderr
    assert [c["argv"][0] for c in calls(pulumi_log)] == ["config", "up"]
    assert CANARY_PREFIX not in scanned(proc.stdout + proc.stderr)


# ---- rotation with overlap ----------------------------------------------------------------------

HOOK = "WEBHOOK_SIGNING_SECRET"


def with_overlap(project: Path, days: int = 14) -> None:
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"][HOOK]["overlap_days"] = days
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))


def stack_file(project: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]


def in_days(days: int) -> str:
    import datetime as dt
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("backend", ["store", "legacy"])
def test_rotate_with_overlap_moves_the_current_value_on_stdin_and_targets_both_slots(
        project: Path, pulumi_log: Path, backend: str) -> None:
    with_overlap(project)
    if backend == "store":
        pin = project / "Pulumi.staging.yaml"
        pin.write_text(pin.read_text() + "  secrets-plane:backend: store\n")
    (project / "v.env").write_text(f"{HOOK}={canary('hook-old')}\n")
    assert stacks_cli(project, "values", "load", "--stack", "staging", str(project / "v.env")).returncode == 0
    pulumi_log.write_text("")

    proc = stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("hook-new"))
    assert proc.returncode == 0, proc.stderr
    made = calls(pulumi_log)
    key = f"secrets-plane:values.{HOOK}"
    assert [c["argv"] for c in made[:4]] == [
        ["config", "get", "--path", key, "--stack", "staging"],
        ["config", "set", "--path", f"secrets-plane:previous.{HOOK}.retires", in_days(14), "--stack", "staging",
         "--non-interactive"],
        ["config", "set", "--secret", "--path", f"secrets-plane:previous.{HOOK}.value", "--stack", "staging",
         "--non-interactive"],
        ["config", "set", "--secret", "--path", key, "--stack", "staging", "--non-interactive"]]
    assert made[2]["stdin"] == canary("hook-old") + "\n" and made[3]["stdin"] == canary("hook-new") + "\n"
    urns = registered_urns(project, "staging", backend)
    holders = ["ascend-v5-staging", "ascend-v5-preview"]
    expected = ([urns[f"secret-{HOOK}"], urns[f"secret-{HOOK}.previous"]] if backend == "store"
                else [urns[s] for s in holders])
    assert sorted(up_targets(pulumi_log)[0]) == sorted(expected)
    no_value_in_argv(pulumi_log)
    assert CANARY_PREFIX not in scanned(proc.stdout + proc.stderr)
    if backend == "store":
        assert f"store secrets {HOOK}_STAGING and {HOOK}_STAGING_PREVIOUS (1 in-place update, no Worker version)" \
            in proc.stdout
    else:
        assert "2 Worker(s) holding it as a Worker secret, one version each (both values in it)" in proc.stdout
    assert f"the current value stays readable as _PREVIOUS until {in_days(14)}" in proc.stdout
    config = stack_file(project, "staging")
    assert config["secrets-plane:previous"][HOOK]["retires"] == in_days(14)
    assert set(config["secrets-plane:previous"][HOOK]["value"]) == {"secure"}

    # The stack file now says a window is open, to validate and plan alike.
    shown = stacks_cli(project, "validate")
    assert shown.returncode == 0, shown.stderr
    assert f"  staging: {HOOK}: overlap window open, the previous value retires on {in_days(14)}" in shown.stdout
    plan = stacks_cli(project, "plan", "--stack", "staging", "--format", "json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["overlaps"] == [{"secret": HOOK, "days": 14, "retires": in_days(14)}]


def test_retire_removes_the_previous_value_and_applies_only_its_slot(project: Path, pulumi_log: Path) -> None:
    with_overlap(project)
    pin = project / "Pulumi.staging.yaml"
    pin.write_text(pin.read_text() + "  secrets-plane:backend: store\n")
    (project / "v.env").write_text(f"{HOOK}={canary('hook-old')}\n")
    assert stacks_cli(project, "values", "load", "--stack", "staging", str(project / "v.env")).returncode == 0
    assert stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("new")).returncode == 0
    pulumi_log.write_text("")

    dry = stacks_cli(project, "retire", HOOK, "--stack", "staging", "--dry-run")
    assert dry.returncode == 0 and calls(pulumi_log) == [], dry.stderr
    assert f"  pulumi config rm --path 'secrets-plane:previous.{HOOK}' --stack staging" in dry.stdout
    proc = stacks_cli(project, "retire", HOOK, "--stack", "staging", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert [c["argv"][:3] for c in calls(pulumi_log)] == [["config", "rm", "--path"], ["up", "--stack", "staging"]]
    assert up_targets(pulumi_log) == [[registered_urns(project, "staging", "store")[f"secret-{HOOK}.previous"]]]
    assert "secrets-plane:previous" not in stack_file(project, "staging")
    again = stacks_cli(project, "retire", HOOK, "--stack", "staging", "--yes")
    assert again.returncode == 0 and "no overlap window open on staging" in again.stdout
    assert len(calls(pulumi_log)) == 2, "nothing to retire: nothing run"


def test_no_overlap_during_a_window_drops_the_previous_value(project: Path, pulumi_log: Path) -> None:
    with_overlap(project)
    (project / "v.env").write_text(f"{HOOK}={canary('hook-old')}\n")
    assert stacks_cli(project, "values", "load", "--stack", "staging", str(project / "v.env")).returncode == 0
    assert stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("mid")).returncode == 0
    pulumi_log.write_text("")
    proc = stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", "--no-overlap", stdin=canary("leak"))
    assert proc.returncode == 0, proc.stderr
    made = calls(pulumi_log)
    assert [c["argv"][:2] for c in made] == [["config", "rm"], ["config", "set"], ["up", "--stack"]]
    assert "the old value stops working now" in proc.stdout or "stops working now" in proc.stdout
    assert "secrets-plane:previous" not in stack_file(project, "staging")
    assert CANARY_PREFIX not in scanned(proc.stdout + proc.stderr)
    no_value_in_argv(pulumi_log)


def test_a_rotation_run_again_after_a_failed_apply_keeps_the_value_that_serves(
        project: Path, pulumi_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The apply fails after the config is set; the same command again must not make the new value
    the previous one too (the old value, still serving, would be lost from both slots)."""
    with_overlap(project)
    (project / "v.env").write_text(f"{HOOK}={canary('hook-old')}\n")
    assert stacks_cli(project, "values", "load", "--stack", "staging", str(project / "v.env")).returncode == 0
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "up@1")
    failed = stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("hook-new"))
    assert failed.returncode == 1 and "finish this stack with: pulumi up --stack staging --target" in failed.stderr
    monkeypatch.delenv("FAKE_PULUMI_FAIL")
    again = stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("hook-new"))
    assert again.returncode == 0, again.stderr
    kept = [c["stdin"] for c in calls(pulumi_log) if f"secrets-plane:previous.{HOOK}.value" in c["argv"]]
    assert kept == [canary("hook-old") + "\n"], "the previous value is set once, to the old value"


def test_a_rotation_stopped_between_the_day_and_the_value_leaves_a_loadable_file_and_converges(
        project: Path, pulumi_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_overlap(project)
    (project / "v.env").write_text(f"{HOOK}={canary('hook-old')}\n")
    assert stacks_cli(project, "values", "load", "--stack", "staging", str(project / "v.env")).returncode == 0
    before = len(calls(pulumi_log))
    monkeypatch.setenv("FAKE_PULUMI_FAIL", f"config@{before + 3}")  # get, retires, then the value fails
    assert stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("new")).returncode == 1
    monkeypatch.delenv("FAKE_PULUMI_FAIL")
    shown = stacks_cli(project, "validate")
    assert shown.returncode == 0 and "has a retire day and no value" in shown.stderr, shown.stderr
    assert stacks_cli(project, "rotate", HOOK, "--stack", "staging", "--yes", stdin=canary("new")).returncode == 0
    assert set(stack_file(project, "staging")["secrets-plane:previous"][HOOK]) == {"value", "retires"}


@pytest.mark.parametrize("edit,args,expected", [
    ({}, ["retire", "OPENAI_API_KEY", "--stack", "staging", "--yes"], "'OPENAI_API_KEY' has no `overlap_days`"),
    ({"external": True}, ["validate"], "secret 'WEBHOOK_SIGNING_SECRET' is external"),
    ({"overlap_days": 0}, ["validate"], "secrets.WEBHOOK_SIGNING_SECRET.overlap_days"),
    ({"overlap_days": 91}, ["validate"], "secrets.WEBHOOK_SIGNING_SECRET.overlap_days"),
])
def test_overlap_bad_input_is_named_and_touches_nothing(project: Path, pulumi_log: Path, edit: dict[str, Any],
                                                        args: list[str], expected: str) -> None:
    with_overlap(project)
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"][HOOK].update(edit)
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = stacks_cli(project, *args)
    FIGURES["bad_inputs"] += 1
    assert proc.returncode == 1 and expected in proc.stderr, proc.stderr
    assert calls(pulumi_log) == [] and "Traceback" not in proc.stderr
    FIGURES["bad_inputs_exit_1"] += 1


def test_a_bad_retire_day_in_the_stack_file_is_named(project: Path, pulumi_log: Path) -> None:
    with_overlap(project)
    stack = project / "Pulumi.staging.yaml"
    stack.write_text(stack.read_text() + f"  secrets-plane:previous:\n    {HOOK}:\n      value:\n        secure: v1:x\n"
                     "      retires: next week\n")
    proc = stacks_cli(project, "validate")
    FIGURES["bad_inputs"] += 1
    assert proc.returncode == 1 and "Pulumi.staging.yaml:" in proc.stderr and "retires" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    FIGURES["bad_inputs_exit_1"] += 1


# ---- diff ------------------------------------------------------------------------------------------

def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


def test_diff_against_a_git_ref(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "base")
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["workers"]["dev"]["backend"] = "store"                      # retypes dev's bindings
    data["workers"]["scheduler"]["secrets"].remove("SLACK_BOT_TOKEN")  # the scheduler loses one
    data["secrets"]["STRIPE_SECRET_KEY"] = {"description": "Stripe", "owner": "billing", "provider": "stripe",
                                            "rotation_days": 90}
    data["workers"]["billing"] = {"script_name": "ascend-billing-{stack}", "stacks": ["staging"],
                                  "secrets": ["STRIPE_SECRET_KEY"]}
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = stacks_cli(project, "diff", "--stack", "staging", "--base", "main", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (staging,) = json.loads(proc.stdout)["stacks"]
    workers = {w["worker"]: w for w in staging["workers"]}
    assert workers["billing"]["status"] == "added" and workers["billing"]["write"] == "secrets-bulk"
    assert workers["scheduler"]["removed"] == ["SLACK_BOT_TOKEN"] and workers["scheduler"]["write"] == "secrets-bulk"
    assert f"HUBSPOT_ACCESS_TOKEN: secret_text -> secrets_store_secret (store {STORE_ID}/HUBSPOT_ACCESS_TOKEN_STAGING)" \
        in workers["dev"]["retyped"]
    assert workers["dev"]["write"] == "settings"
    assert "HUBSPOT_ACCESS_TOKEN_STAGING" in staging["store_created"]
    assert staging["values_needed"] == ["STRIPE_SECRET_KEY"]
    assert (staging["writes"], staging["versions"]) == (3, 3)
    assert staging["mode"] == ["legacy", "mixed"]
    proc = stacks_cli(project, "diff", "--stack", "staging", "--base", "main", "--format", "markdown")
    assert proc.stdout.startswith("<!-- secrets-plane:diff -->\n### secrets-plane: what this change does")
    assert "- Worker `scheduler` (`ascend-scheduler-staging`) changed: loses `SLACK_BOT_TOKEN` (secrets-bulk write, " \
           "1 version(s))" in proc.stdout
    proc = stacks_cli(project, "diff", "--stack", "prod", "--base", "main")
    assert proc.stdout.startswith("stack prod: 1 Worker write(s), 1 Worker version(s)")
    proc = stacks_cli(project, "diff", "--base", "no-such-ref")
    assert proc.returncode == 1 and "unknown git ref 'no-such-ref'" in proc.stderr


# ---- adopt-store -----------------------------------------------------------------------------------

def test_adopt_store_writes_the_import_document(project: Path, fake, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake.base_url)
    fake.add_store(ACCOUNT, STORE_ID)
    fake.add_store_secret(STORE_ID, StoreSecret(id="a1" * 16, name="OPENAI_API_KEY_STAGING", scopes=["workers"]))
    fake.add_store_secret(STORE_ID, StoreSecret(id="b2" * 16, name="SOMETHING_ELSE", scopes=["workers"]))
    pin = project / "Pulumi.staging.yaml"
    pin.write_text(pin.read_text() + "  secrets-plane:backend: store\n")
    out_file = project / "adopt.json"
    proc = stacks_cli(project, "adopt-store", "--stack", "staging", "--output", str(out_file))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(out_file.read_text())
    component = "urn:pulumi:staging::secrets-plane::secrets-plane:index:SecretsPlane::secrets-plane"
    assert document == {"nameTable": {"plane": component}, "resources": [
        {"type": "cloudflare:index/secretsStoreSecret:SecretsStoreSecret", "name": "secret-OPENAI_API_KEY",
         "id": f"{ACCOUNT}/{STORE_ID}/{'a1' * 16}", "parent": "plane"}]}
    assert registered_urns(project, "staging", "store")["secret-OPENAI_API_KEY"].endswith(
        "SecretsPlane$cloudflare:index/secretsStoreSecret:SecretsStoreSecret::secret-OPENAI_API_KEY")
    assert "1 planned store secret(s) already exist and can be adopted (OPENAI_API_KEY_STAGING); 24 do not exist" in proc.stderr
    assert f"pulumi import --file {out_file} --stack staging --protect=false --generate-code=false --yes" in proc.stderr



def test_adopt_store_imports_a_previous_value_under_its_own_resource(project: Path, fake,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake.base_url)
    with_overlap(project)
    fake.add_store(ACCOUNT, STORE_ID)
    fake.add_store_secret(STORE_ID, StoreSecret(id="a1" * 16, name=f"{HOOK}_STAGING", scopes=["workers"]))
    fake.add_store_secret(STORE_ID, StoreSecret(id="b2" * 16, name=f"{HOOK}_STAGING_PREVIOUS", scopes=["workers"]))
    pin = project / "Pulumi.staging.yaml"
    pin.write_text(pin.read_text() + "  secrets-plane:backend: store\n")
    out_file = project / "adopt.json"
    proc = stacks_cli(project, "adopt-store", "--stack", "staging", "--output", str(out_file))
    assert proc.returncode == 0, proc.stderr
    named = {r["name"]: r["id"].rsplit("/", 1)[1] for r in json.loads(out_file.read_text())["resources"]}
    assert named == {f"secret-{HOOK}": "a1" * 16, f"secret-{HOOK}.previous": "b2" * 16}
    assert set(named) <= set(registered_urns(project, "staging", "store")), "the names the program registers"


def test_no_secret_name_gives_the_resource_of_another_secrets_previous_value() -> None:
    """`secret-X` with overlap next to a secret named `X-previous`: two resources, two names."""
    from stacks.core.naming import is_secret_name, store_secret_resource
    assert is_secret_name("X-previous")
    assert store_secret_resource("X", previous=True) != store_secret_resource("X-previous")
    suffix = store_secret_resource("X", previous=True).removeprefix("secret-")
    assert not is_secret_name(suffix), "the previous resource's name is no secret's resource name"

def test_creating_a_name_that_exists_says_to_adopt() -> None:
    """The error hook bound to every store secret: the provider's "already exists" becomes advice."""
    hint = adopt_store_hint("prod", ["creating: 409 secret_name_already_exists"], "create", "OPENAI_API_KEY")
    assert hint is not None and "python -m stacks adopt-store --stack prod" in hint and "pulumi import --file" in hint
    assert adopt_store_hint("prod", ["500 internal"], "create", "X") is None
    assert adopt_store_hint("prod", ["already exists"], "update", "X") is None
    result = run_program(ROOT, "prod", stack_config("prod", backend="store"), ["secrets-plane:values"])
    hooked = [r for r in result.resources if r.type == STORE_SECRET_TYPE]
    assert hooked and all(r.error_hooks == [ADOPT_HINT_HOOK] for r in hooked)


# ---- the editor schema -------------------------------------------------------------------------------

def test_the_shipped_schema_is_the_generated_one() -> None:
    assert (ROOT / SCHEMA_FILE).read_text() == render_schema(), "regenerate: python -m stacks schema --write"
    first = (ROOT / "secrets_manifest.yaml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_FILE}"


def test_the_schema_accepts_the_manifest_and_flags_a_typo() -> None:
    schema = json.loads((ROOT / SCHEMA_FILE).read_text())
    data = yaml.safe_load((ROOT / "secrets_manifest.yaml").read_text())
    jsonschema.validate(data, schema)
    data["secrets"]["OPENAI_API_KEY"]["rotate_days"] = 90
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
