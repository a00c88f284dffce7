"""Phased adoption: the backend rule (one function, a table of cases), the store secrets of each
stack, fallback copies and external secrets, through the pure core and the real program under
Pulumi mocks. And: a manifest with no override plans exactly what it planned before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from conftest import CANARY_PREFIX, ROOT, STORE_ID, canary, manifest_secret_names, stack_config

from stacks.core.backends import resolve_backend
from stacks.core.errors import PlaneError
from stacks.core.estate import load_estate
from stacks.resources.offline import is_secret, reveal, run_program
from stacks.resources.plan import build_plan

STORE_SECRET = "cloudflare:index/secretsStoreSecret:SecretsStoreSecret"
BINDINGS = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"
GOLDEN = Path(__file__).parent / "golden"
AI_KEYS = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY", "CEREBRAS_API_KEY", "GROQ_API_KEY",
           "OPENROUTER_API_KEY"]

# (stack pin, Worker, secret, manifest) -> binding: the table of stacks/core/backends.py and docs/phased-adoption.md.
RULE = [
    (None, None, None, "legacy", "legacy"),
    (None, None, None, "store", "store"),
    (None, "store", None, "legacy", "store"),
    (None, None, "store", "legacy", "store"),
    ("store", None, None, "legacy", "store"),
    ("legacy", None, None, "store", "legacy"),
    (None, "legacy", None, "store", "legacy"),
    (None, None, "legacy", "store", "legacy"),
    ("store", "legacy", "store", "store", "legacy"),
    ("legacy", "store", "store", "store", "legacy"),
    (None, "store", "legacy", "legacy", "legacy"),
]


@pytest.mark.parametrize("pin,worker,secret,manifest,expected", RULE)
def test_backend_rule_holds_always_win(pin, worker, secret, manifest, expected) -> None:  # type: ignore[no-untyped-def]
    assert resolve_backend(manifest, pin, worker, secret) == expected


def test_the_docs_rule_table_is_the_rule() -> None:
    """The table of cases in docs/phased-adoption.md is checked against the function, row by row."""
    text = (ROOT / "docs" / "phased-adoption.md").read_text()
    table = text[text.index("<!-- rule:begin -->"):text.index("<!-- rule:end -->")]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= 9
    for row in rows:
        pin, worker, secret, manifest, binding = (cell.strip().strip("`") for cell in row[:5])
        got = resolve_backend(manifest, None if pin == "-" else pin, None if worker == "-" else worker,  # type: ignore[arg-type]
                              None if secret == "-" else secret)  # type: ignore[arg-type]
        assert got == binding, row


# ---- the estate, edited -------------------------------------------------------------------------

def edit(project: Path, change: Any) -> None:
    path = project / "secrets_manifest.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def pin(project: Path, stack: str, backend: str) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text() + f"  secrets-plane:backend: {backend}\n")


def run(project: Path, stack: str, backend: str | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return run_program(project, stack, stack_config(stack, backend=backend), ["secrets-plane:values"], **kw)


def bindings_of(result, script: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    res = next(r for r in result.of_type(BINDINGS) if r.inputs["script_name"] == script)
    return {s["name"]: s for s in reveal(res.inputs["bindings"])}


def step1(data: dict[str, Any]) -> None:
    data["workers"]["dev"]["backend"] = "store"


def step2(data: dict[str, Any]) -> None:
    step1(data)
    for name in AI_KEYS:
        data["secrets"][name].update(backend="store", fallback=True)


def step3(data: dict[str, Any]) -> None:
    step2(data)
    data["backend"] = "store"
    for worker in data["workers"].values():
        worker["fallback"] = True


def test_dev_worker_first_puts_only_what_it_binds_in_the_store(project: Path) -> None:
    edit(project, step1)
    staging = load_estate(project).desired_state("staging")
    dev = next(w for w in staging.workers if w.worker == "dev")
    assert {b.kind for b in dev.bindings} == {"secrets_store_secret"}
    assert {s.secret for s in staging.store_secrets} == {b.secret for b in dev.bindings}
    assert staging.mode == "mixed"
    api = next(w for w in staging.workers if w.worker == "api")
    assert {b.kind for b in api.bindings} == {"secret_text"}
    prod = load_estate(project).desired_state("prod")
    assert prod.store is None and prod.store_secrets == () and prod.mode == "legacy", "dev is staging-only"
    result = run(project, "staging")
    assert {r.inputs["name"] for r in result.of_type(STORE_SECRET)} == {s.store_secret_name for s in staging.store_secrets}
    assert set(bindings_of(result, "ascend-v5-dev")) == {b.name for b in dev.bindings}


def test_ai_keys_to_the_store_with_fallback_copies(project: Path) -> None:
    edit(project, step2)
    result = run(project, "prod")
    secrets = {r.inputs["name"]: r for r in result.of_type(STORE_SECRET)}
    assert set(secrets) == set(AI_KEYS), "own setting store: in the store even for AI Gateway alone"
    context = bindings_of(result, "ascend-context")
    assert context["OPENAI_API_KEY"]["type"] == "secrets_store_secret"
    assert context["OPENAI_API_KEY_FALLBACK"] == {"name": "OPENAI_API_KEY_FALLBACK", "type": "secret_text",
                                                  "secret": "OPENAI_API_KEY", "role": "fallback"}
    assert context["AWS_BEDROCK_ACCESS_KEY_ID"]["type"] == "secret_text"
    res = next(r for r in result.of_type(BINDINGS) if r.inputs["script_name"] == "ascend-context")
    assert is_secret(res.inputs["values"])
    values = reveal(res.inputs["values"])
    assert values["OPENAI_API_KEY_FALLBACK"] == canary("OPENAI_API_KEY"), "the copy carries the same value"
    assert "OPENAI_API_KEY" not in values, "a store binding's value is never a Worker input"
    deps = set(res.dependencies)
    assert secrets["OPENAI_API_KEY"].urn in deps, "the binding waits for its store secret"
    # What a rotation costs, as the plan says: one store write plus one version per copy.
    plan = build_plan(load_estate(project), "prod")
    openai = next(r for r in plan["rotation"] if r["secret"] == "OPENAI_API_KEY")
    assert openai == {"secret": "OPENAI_API_KEY", "store_updates": 1, "worker_versions": 2, "workers": ["api", "context"]}
    hubspot = next(r for r in plan["rotation"] if r["secret"] == "HUBSPOT_ACCESS_TOKEN")
    assert hubspot["store_updates"] == 0 and hubspot["worker_versions"] == 2


def test_manifest_default_to_store_with_fallback_everywhere(project: Path) -> None:
    edit(project, step3)
    desired = load_estate(project).desired_state("staging")
    assert desired.mode == "store" and len(desired.store_secrets) == 25
    for worker in desired.workers:
        primaries = [b for b in worker.bindings if b.role == "primary"]
        copies = {b.name for b in worker.bindings if b.role == "fallback"}
        assert copies == {f"{b.name}_FALLBACK" for b in primaries}


def test_a_stack_pinned_legacy_creates_no_store_secret_and_no_lookup(project: Path) -> None:
    edit(project, step3)
    pin(project, "prod", "legacy")
    result = run(project, "prod", backend="legacy")
    assert result.of_type(STORE_SECRET) == [] and result.invokes == []
    for res in result.of_type(BINDINGS):
        assert {s["type"] for s in reveal(res.inputs["bindings"])} == {"secret_text"}
        assert not any("role" in s for s in reveal(res.inputs["bindings"])), "no fallback copies without the store"


def test_a_secret_held_legacy_stays_out_of_the_store(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["backend"] = "store"
        data["secrets"]["TOKEN_ENCRYPTION_KEY"]["backend"] = "legacy"

    edit(project, change)
    for stack in ("staging", "prod"):
        desired = load_estate(project).desired_state(stack)
        assert "TOKEN_ENCRYPTION_KEY" not in {s.secret for s in desired.store_secrets}
        assert {b.kind for w in desired.workers for b in w.bindings if b.secret == "TOKEN_ENCRYPTION_KEY"} == {"secret_text"}
        assert desired.backend == "store" and desired.mode == "mixed"


def test_external_secrets_are_bound_never_owned(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["secrets"]["SLACK_BOT_TOKEN"]["external"] = True
        data["secrets"]["OPENAI_API_KEY"].update(external=True, backend="store")

    edit(project, change)
    desired = load_estate(project).desired_state("prod")
    assert "SLACK_BOT_TOKEN" not in desired.needed_values and "OPENAI_API_KEY" not in desired.needed_values
    values = {n: canary(n) for n in manifest_secret_names() if n not in ("SLACK_BOT_TOKEN", "OPENAI_API_KEY")}
    config = stack_config("prod", values=values)
    result = run_program(project, "prod", config, ["secrets-plane:values"], store_secret_names=["OPENAI_API_KEY"])
    assert "OPENAI_API_KEY" not in {r.inputs["name"] for r in result.of_type(STORE_SECRET)}, "never created"
    assert any(t == "cloudflare:index/getSecretsStoreSecrets:getSecretsStoreSecrets" for t, _ in result.invokes)
    api = bindings_of(result, "ascend-v5")
    assert api["SLACK_BOT_TOKEN"] == {"name": "SLACK_BOT_TOKEN", "type": "secret_text", "secret": "SLACK_BOT_TOKEN",
                                      "external": True}
    assert api["OPENAI_API_KEY"]["type"] == "secrets_store_secret" and api["OPENAI_API_KEY"]["store_id"] == STORE_ID
    res = next(r for r in result.of_type(BINDINGS) if r.inputs["script_name"] == "ascend-v5")
    assert "SLACK_BOT_TOKEN" not in reveal(res.inputs["values"])
    with pytest.raises(pulumi.RunError) as info:
        run_program(project, "prod", config, ["secrets-plane:values"], store_secret_names=[])
    assert "external store secret(s) OPENAI_API_KEY not found in store" in str(info.value)
    assert "drop `external: true`" in str(info.value) and CANARY_PREFIX not in str(info.value)


def test_validate_names_each_phased_adoption_problem(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["secrets"]["SEMRUSH_API_KEY"]["fallback"] = True  # bound only as legacy: nothing to fall back from

    edit(project, change)
    warnings = [p.render() for p in load_estate(project).problems.warnings]
    assert any("secret 'SEMRUSH_API_KEY' asks for a fallback copy, but no Worker binds it through the store" in w
               and "secrets_manifest.yaml:" in w for w in warnings)


# ---- with no override, nothing changes ----------------------------------------------------------

@pytest.mark.parametrize("stack,backend,golden", [("staging", None, "staging"), ("prod", None, "prod"),
                                                  ("staging", "store", "staging_store"), ("prod", "store", "prod_store")])
def test_no_override_plans_what_it_planned_before(stack: str, backend: str | None, golden: str) -> None:
    """The plans of the shipped manifest, recorded before phased adoption existed: the same store,
    store secrets, Workers, bindings (keys included) and resources."""
    before = json.loads((GOLDEN / f"plan_before_phased_{golden}.json").read_text())
    now = build_plan(load_estate(ROOT), stack, backend)  # type: ignore[arg-type]
    for key in ("stack", "backend", "manifest_digest", "store", "store_secrets", "workers", "missing_values"):
        assert now[key] == before[key], key
    by_type = sorted(before["resources"], key=lambda r: (r["type"], r["name"]))
    assert now["resources"] == by_type


# ---- what validate and plan say about it ----------------------------------------------------------

def plan_text(project: Path, *args: str) -> str:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "stacks", "--project-dir", str(project), "plan", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_plan_prints_each_warning_once_with_one_prefix(project: Path) -> None:
    edit(project, lambda d: d["secrets"]["SEMRUSH_API_KEY"].update(fallback=True))
    warnings = [line for line in plan_text(project, "--stack", "prod").splitlines()
                if "warning" in line and "still the sample's" not in line and "sample's Pulumi org" not in line]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("warning: secrets_manifest.yaml:") and warnings[0].count("warning") == 1
    assert "secrets.SEMRUSH_API_KEY.fallback: secret 'SEMRUSH_API_KEY' asks for a fallback copy" in warnings[0]


def test_plan_rotation_leaves_external_secrets_out_and_says_so(project: Path) -> None:
    edit(project, lambda d: d["secrets"]["SLACK_BOT_TOKEN"].update(external=True))
    text = plan_text(project, "--stack", "prod")
    assert "rotation cost (24 secrets the plane rotates; 0 in the store alone, no Worker version; 1 external, rotated " \
           "outside the plane):" in text
    assert "    SLACK_BOT_TOKEN                      external: rotated where it is set, no plane write" in text
    assert "external secrets (1; bound, never written: each must already exist):\n  SLACK_BOT_TOKEN: must already " \
           "exist on Workers ascend-scheduler, ascend-v5 as SLACK_BOT_TOKEN\n      create it: wrangler secret put " \
           "SLACK_BOT_TOKEN --name ascend-scheduler\n      create it: wrangler secret put SLACK_BOT_TOKEN --name " \
           "ascend-v5\n" in text
    stored = plan_text(project, "--stack", "prod", "--backend", "store", "--format", "json")
    import json

    plan = json.loads(stored)
    assert plan["externals"] == [{
        "secret": "SLACK_BOT_TOKEN", "kind": "store", "name": "SLACK_BOT_TOKEN",
        "workers": ["ascend-scheduler", "ascend-v5"], "where": f"in store {STORE_ID} as SLACK_BOT_TOKEN",
        "commands": [f"wrangler secrets-store secret create {STORE_ID} --name SLACK_BOT_TOKEN --scopes workers --remote"]}]
    counted = [r for r in plan["rotation"] if not r.get("external")]
    assert len(counted) == 24 and all(r["store_updates"] == 1 and r["worker_versions"] == 0 for r in counted)


def test_plan_points_to_values_load_before_one_by_one(project: Path) -> None:
    lines = plan_text(project, "--stack", "prod").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("values not set in Pulumi.prod.yaml (25;"))
    assert lines[start + 1] == ("  load them all: python -m stacks values load --stack prod FILE   (dotenv or JSON; "
                                "`-` reads stdin)")
    assert lines[start + 2] == "  or one by one (each value on stdin):"
    assert lines[start + 3].startswith("    pulumi config set --secret --path 'secrets-plane:values.")


def test_a_worker_fallback_that_skips_an_external_secret_says_so(project: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["secrets"]["SLACK_BOT_TOKEN"].update(external=True, backend="store")
        data["workers"]["scheduler"]["fallback"] = True

    edit(project, change)
    desired = load_estate(project).desired_state("prod")
    scheduler = next(w for w in desired.workers if w.worker == "scheduler")
    assert scheduler.binding("SLACK_BOT_TOKEN_FALLBACK") is None, "no copy of a value the plane does not own"
    assert scheduler.binding("APOLLO_API_KEY_FALLBACK") is None, "the others are legacy: nothing to copy"
    warnings = [p.render() for p in load_estate(project).problems.warnings]
    (said,) = [w for w in warnings if "asks for fallback copies" in w]
    assert "workers.scheduler.fallback: warning: Worker 'scheduler' asks for fallback copies, but SLACK_BOT_TOKEN " \
           "get(s) none: external secrets have no value the plane could copy" in said


def test_the_digest_covers_fallback_and_external(project: Path) -> None:
    base = load_estate(project).manifest.manifest.digest()
    for change in (lambda d: d["secrets"]["SLACK_BOT_TOKEN"].update(fallback=True),
                   lambda d: d["secrets"]["SLACK_BOT_TOKEN"].update(external=True),
                   lambda d: d["workers"]["api"].update(fallback=True)):
        fresh = project.parent / f"copy-{id(change)}"
        import shutil

        shutil.copytree(project, fresh)
        edit(fresh, change)
        assert load_estate(fresh).manifest.manifest.digest() != base, "production would pass the gate unrun"


def test_a_store_secret_with_a_copy_keeps_the_worker_value_limit(project: Path) -> None:
    from stacks.core.values import oversized_values

    edit(project, lambda d: d["secrets"]["OPENAI_API_KEY"].update(backend="store", fallback=True))
    desired = load_estate(project).desired_state("prod")
    (problem,) = oversized_values(desired, {"OPENAI_API_KEY": 6000})
    assert "over 5120 bytes, the Workers limit of a secret_text value (bound so on api (fallback copy), context " \
           "(fallback copy))" in problem.message


def test_fallback_copies_count_as_environment_variables(project: Path) -> None:
    from stacks.core.limits import WORKER_ENV_VARS_MAX

    def change(data: dict[str, Any]) -> None:
        names = [f"X{i:03d}" for i in range(110)]
        for n in names:
            data["secrets"][n] = {"description": "d", "owner": "o", "provider": "p", "rotation_days": 30,
                                  "backend": "store", "fallback": True}
        data["workers"]["api"]["secrets"] += names

    edit(project, change)
    with pytest.raises(PlaneError) as info:
        load_estate(project)
    assert f"Worker 'api' would hold 129 secret_text bindings in stack 'prod', over the Workers limit of " \
           f"{WORKER_ENV_VARS_MAX} environment variables" in str(info.value)


def test_the_previous_binding_follows_its_binding_through_phased_adoption_and_fallback(project: Path) -> None:
    """A secret with overlap on a Worker moved to the store first (dev), with a fallback copy: its
    _PREVIOUS is a store binding too, with its own copy; on a legacy Worker both are strings."""
    hook = "WEBHOOK_SIGNING_SECRET"

    def change(data: dict[str, Any]) -> None:
        step1(data)
        data["secrets"][hook]["overlap_days"] = 14
        data["workers"]["dev"]["fallback"] = True
        if hook not in data["workers"]["dev"]["secrets"]:
            data["workers"]["dev"]["secrets"].append(hook)
    edit(project, change)
    result = run(project, "staging")
    dev = bindings_of(result, "ascend-v5-dev")
    assert {n: b["type"] for n, b in dev.items() if n.startswith(hook)} == {
        hook: "secrets_store_secret", f"{hook}_FALLBACK": "secret_text",
        f"{hook}_PREVIOUS": "secrets_store_secret", f"{hook}_PREVIOUS_FALLBACK": "secret_text"}
    assert dev[f"{hook}_PREVIOUS"]["secret_name"] == dev[hook]["secret_name"] + "_PREVIOUS"
    api = bindings_of(result, "ascend-v5-staging")
    assert {n: b["type"] for n, b in api.items() if n.startswith(hook)} == {hook: "secret_text",
                                                                          f"{hook}_PREVIOUS": "secret_text"}
    names = {r.inputs["name"] for r in result.of_type(STORE_SECRET)}
    assert {f"{hook}_STAGING", f"{hook}_STAGING_PREVIOUS"} <= names
