"""canary, audit and import against the fake Cloudflare API in realistic states; golden outputs."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, ROOT, STORE_ID, golden
from fake_cloudflare import Fault
from live_states import add_orphans, drop_store_bindings, seed_healthy

from stacks.cli import main
from stacks.core.estate import load_estate
from stacks.live.account import LiveAccount


def cli(*args: str, project: Path = ROOT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), *args])
    return code, out.getvalue(), err.getvalue()




@pytest.mark.parametrize("stack,backend", [("staging", "store"), ("prod", "legacy")])
def test_canary_healthy(api, stack, backend, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, stack, backend)
    pin(project, stack, backend)
    code, out, _ = cli("canary", "--stack", stack, project=project)
    assert code == 0, out
    golden(f"canary_{stack}_{backend}_healthy.txt", out)
    assert api.count("PATCH", "") == 0, "the canary never writes"


def test_canary_drift_after_wrangler_deploy(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    drop_store_bindings(api, "ascend-v5-dev")
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 1
    assert "canary staging: 7 mismatch(es)" in out
    assert "ascend-v5-dev  TOKEN_ENCRYPTION_KEY" in out and "absent" in out
    golden("canary_staging_store_drifted.txt", out)


def test_canary_missing_worker_and_orphans(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "prod", "legacy")
    pin(project, "prod", "legacy")
    del api.scripts[(ACCOUNT, "ascend-scheduler")]
    add_orphans(api, "ascend-v5")
    code, out, _ = cli("canary", "--stack", "prod", project=project)
    assert code == 1
    assert "ascend-scheduler  -        Worker exists  no such script" in out
    assert "note: ascend-v5: secret_text binding 'LEGACY_STRIPE_KEY' is not in the manifest" in out
    golden("canary_prod_legacy_missing_worker.txt", out)


def test_canary_probes_health_urls(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "prod", "legacy")
    pin(project, "prod", "legacy")
    base = api.base_url.replace("/client/v4", "")
    manifest = project / "secrets_manifest.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    description: Main API (V5)\n", f"    description: Main API (V5)\n    health_url:\n      prod: {base}/health/503\n")
        .replace("    description: Context Worker (retrieval, embeddings, LLM routing)\n",
                 f"    description: Context Worker (retrieval, embeddings, LLM routing)\n    health_url:\n"
                 f"      prod: {base}/health/200\n"))
    code, out, _ = cli("canary", "--stack", "prod", project=project)
    assert code == 1
    assert "ascend-v5  (health)" in out and "HTTP 503" in out
    assert "ascend-context  (health)" not in out


def test_canary_token_without_permission(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "prod", "legacy")
    api.denied_token = "test-token"
    code, out, err = cli("canary", "--stack", "prod", project=project)
    assert code == 1 and out == ""
    assert "the API token was refused (403)" in err and "Traceback" not in err


def test_canary_survives_bursts_of_429_and_5xx(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    api.faults += [Fault("GET", r"/deployments$", status=429, times=3, retry_after=0.05),
                   Fault("GET", r"/workers/workers/[^/]+/versions$", status=500, times=2, retry_after=0.05),
                   Fault("GET", r"/secrets$", status=503, times=2, retry_after=0.05),
                   Fault("GET", r"/stores$", status=502, times=1, retry_after=0.05)]
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 0, out
    assert sum(f.times for f in api.faults) == 0, "every injected fault was hit and retried"


def test_store_listing_reads_one_full_page(api, project) -> None:  # type: ignore[no-untyped-def]
    api.page_size = 4  # the fake's default page; the plane asks for the documented maximum, 100
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 0, out
    assert api.count("GET", r"/secrets$") == 1  # 25 secrets on one page, and no empty page after it


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_audit_store_with_drift_and_orphans(api, project, fmt) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    drop_store_bindings(api, "ascend-v5-dev")
    add_orphans(api, "ascend-v5-staging")
    code, out, _ = cli("audit", "--stack", "staging", "--format", fmt, "--as-of", "2026-11-27", project=project)
    assert code == 0
    golden(f"audit_staging_store.{ {'table': 'txt', 'json': 'json', 'markdown': 'md'}[fmt] }", out)
    if fmt == "table":
        assert "OVERDUE by" in out and "missing on ascend-v5-dev" in out
        assert "store 9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e  OLD_MAILCHIMP_KEY" in out
        assert any(line.split()[:2] == ["ascend-v5-staging", "LEGACY_STRIPE_KEY"] for line in out.splitlines())


def test_audit_legacy_dates_from_versions_or_stack_outputs(api, project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "prod", "legacy")
    pin(project, "prod", "legacy")
    code, out, _ = cli("audit", "--stack", "prod", "--as-of", "2026-11-27", project=project)
    assert code == 0 and "newest served Worker version (upper bound)" in out
    golden("audit_prod_legacy.txt", out)
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"value_changed_at": {"ascend-v5": {"OPENAI_API_KEY": "2026-11-01T00:00:00+00:00"},'
                       ' "ascend-context": {"OPENAI_API_KEY": "2026-10-01T00:00:00+00:00"}}}')
    code, out, _ = cli("audit", "--stack", "prod", "--format", "json", "--as-of", "2026-11-27",
                       "--stack-outputs", str(outputs), project=project)
    import json

    row = next(r for r in json.loads(out)["credentials"] if r["secret"] == "OPENAI_API_KEY")
    assert row["last_changed"] == "2026-11-01T00:00:00+00:00"
    assert row["last_changed_source"] == "secrets-plane value_changed_at"
    assert row["rotation"] == "due 2027-01-30"


def test_import_drafts_entries_and_names_known_ones(api, project) -> None:  # type: ignore[no-untyped-def]
    api.add_script(ACCOUNT, "ascend-billing", [
        {"type": "secret_text", "name": "STRIPE_SECRET_KEY", "text": CANARY_PREFIX + "stripe"},
        {"type": "secret_text", "name": "OPENAI_API_KEY", "text": CANARY_PREFIX + "openai"},
        {"type": "secrets_store_secret", "name": "HUBSPOT", "store_id": STORE_ID, "secret_name": "HUBSPOT_ACCESS_TOKEN"},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv"},
    ])
    code, out, err = cli("import", "--stack", "prod", "--worker", "billing", "--script", "ascend-billing", project=project)
    assert code == 0
    golden("import_billing.yaml", out)
    assert "3 secret bindings on 'ascend-billing': 2 already in the manifest (HUBSPOT_ACCESS_TOKEN, OPENAI_API_KEY), 1 new" in err
    assert CANARY_PREFIX not in out + err
    import yaml

    draft = yaml.safe_load(out)
    assert list(draft["secrets"]) == ["STRIPE_SECRET_KEY"]
    assert draft["workers"]["billing"]["bindings"] == {"HUBSPOT": "HUBSPOT_ACCESS_TOKEN"}


def test_import_of_missing_worker(api, project) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("import", "--stack", "prod", "--worker", "x", "--script", "nope", project=project)
    assert code == 1 and "script 'nope' does not exist" in err


def pin(project: Path, stack: str, backend: str) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text() + f"  secrets-plane:backend: {backend}\n")


# ---- pending store secrets, versions in flight, a mixed estate ----------------------------------

def test_canary_waits_out_a_pending_store_secret(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    secret = next(s for s in api.store_secrets[STORE_ID].values() if s.name == "OPENAI_API_KEY_STAGING")
    secret.status, secret.pending_reads = "pending", 1  # active from the second listing on
    slept: list[float] = []
    import stacks.live.canary as canary_module

    desired = load_estate(project).desired_state("staging")
    report = canary_module.run_canary(desired, LiveAccount(ACCOUNT), {}, wait_s=30, sleep=slept.append)
    assert report.ok, report.mismatches
    assert slept == [5.0] and report.waited_s == 5.0
    assert "waited 5 s for pending store secrets" in canary_module.render(report)


def test_canary_fails_on_a_secret_that_stays_pending(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    secret = next(s for s in api.store_secrets[STORE_ID].values() if s.name == "OPENAI_API_KEY_STAGING")
    secret.status, secret.pending_reads = "pending", 10_000
    code, out, _ = cli("canary", "--stack", "staging", "--wait", "0.2", project=project)
    assert code == 1
    assert "(store)  OPENAI_API_KEY_STAGING" in out and "pending after 0 s" in out


def test_canary_and_audit_show_a_worker_in_flight(api, project) -> None:  # type: ignore[no-untyped-def]
    seed_healthy(api, "prod", "legacy")
    pin(project, "prod", "legacy")
    script = api.scripts[(ACCOUNT, "ascend-scheduler")]
    old = script.latest.id
    new = api.upload_version(ACCOUNT, "ascend-scheduler", bindings=[b for b in script.bindings if b["name"] != "GONG_ACCESS_KEY"])
    script.deploy([(new.id, 10.0), (old, 90.0)])
    code, out, _ = cli("canary", "--stack", "prod", project=project)
    assert code == 1
    assert f"note: ascend-scheduler: versions in flight ({new.id} (10%), {old} (90%))" in out
    assert f"ascend-scheduler@{new.id[:8]}  GONG_ACCESS_KEY" in out, "the 10% version lacks a binding"
    assert f"ascend-scheduler@{old[:8]}" not in out, "the 90% version is as desired"
    code, out, _ = cli("audit", "--stack", "prod", "--as-of", "2026-11-27", project=project)
    assert f"versions in flight: ascend-scheduler: {new.id} (10%), {old} (90%)" in out
    assert "GONG_ACCESS_KEY missing on ascend-scheduler" not in out
    row = next(line for line in out.splitlines() if line.startswith("GONG_ACCESS_KEY "))
    assert f"absent in {new.id[:8]}" in row


PHASED = """
  OPENAI_API_KEY:
    description: OpenAI API key (also AI Gateway BYOK)
    owner: ai-platform
    provider: openai
    scopes: [ai_gateway, workers]
    rotation_days: 90
    backend: store
    fallback: true
"""


def phased(project: Path) -> None:
    """OPENAI_API_KEY moves to the store early, with fallback copies; the dev Worker moves whole."""
    manifest = project / "secrets_manifest.yaml"
    text = manifest.read_text()
    start = text.index("  OPENAI_API_KEY:\n")
    end = text.index("  ANTHROPIC_API_KEY:\n")
    text = text[:start] + PHASED.lstrip("\n") + text[end:]
    text = text.replace("    script_name: ascend-v5-dev\n", "    script_name: ascend-v5-dev\n    backend: store\n")
    manifest.write_text(text)


def test_canary_and_audit_of_a_mixed_estate(api, project) -> None:  # type: ignore[no-untyped-def]
    phased(project)
    desired = load_estate(project).desired_state("staging")
    assert desired.mode == "mixed"
    seed_healthy(api, "staging", None, project=project)
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 0, out
    drop_store_bindings(api, "ascend-v5-staging")
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 1
    assert "ascend-v5-staging  OPENAI_API_KEY" in out and "absent" in out
    assert "OPENAI_API_KEY_FALLBACK" not in out, "the secret_text copy survived the deploy"
    code, out, _ = cli("audit", "--stack", "staging", "--format", "json", "--as-of", "2026-11-27", project=project)
    report = json.loads(out)
    rows = {r["secret"]: r for r in report["credentials"]}
    assert report["mode"] == "mixed" and len(rows) == 25, "one list, both worlds"
    openai = rows["OPENAI_API_KEY"]
    assert openai["backend"] == "both" and openai["store_secret"] == "OPENAI_API_KEY_STAGING"
    assert openai["copies"] == ["ascend-context-staging", "ascend-v5-dev", "ascend-v5-preview", "ascend-v5-staging"]
    assert {(p["script"], p["binding"], p["kind"], p["role"]) for p in openai["placements"]} >= {
        ("ascend-v5-staging", "OPENAI_API_KEY", "secrets_store_secret", "primary"),
        ("ascend-v5-staging", "OPENAI_API_KEY_FALLBACK", "secret_text", "fallback"),
        ("ascend-v5-dev", "OPENAI_API_KEY", "secrets_store_secret", "primary")}
    assert "OPENAI_API_KEY missing on ascend-v5-staging" in openai["status"]
    hubspot = rows["HUBSPOT_ACCESS_TOKEN"]
    assert hubspot["backend"] == "both", "the dev Worker binds it from the store, the others as Worker secrets"
    assert rows["SEMRUSH_API_KEY"]["backend"] == "legacy" and rows["SEMRUSH_API_KEY"]["store_secret"] is None
    code, out, _ = cli("audit", "--stack", "staging", "--as-of", "2026-11-27", project=project)
    assert "in both worlds, as the manifest says" in out


def test_audit_shows_each_overlap_window_and_flags_one_past_its_end(api, project) -> None:  # type: ignore[no-untyped-def]
    import yaml
    hook = "WEBHOOK_SIGNING_SECRET"
    manifest = project / "secrets_manifest.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["secrets"][hook]["overlap_days"] = 14
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    pin(project, "staging", "store")
    stack = project / "Pulumi.staging.yaml"
    stack.write_text(stack.read_text() + f"  secrets-plane:previous:\n    {hook}:\n      value:\n        secure: v1:x\n"
                     "      retires: '2026-11-20'\n")
    seed_healthy(api, "staging", "store", project)

    code, out, _ = cli("audit", "--stack", "staging", "--format", "json", "--as-of", "2026-11-19", project=project)
    assert code == 0
    row = next(r for r in json.loads(out)["credentials"] if r["secret"] == hook)
    assert row["overlap"] == "14 days; window open until 2026-11-20" and row["status"] == "ok"
    assert f"{hook}_STAGING_PREVIOUS" not in json.dumps(json.loads(out)["orphans"]), "the plane's own, not an orphan"
    assert sorted(p["binding"] for p in row["placements"] if p["script"] == "ascend-v5-staging") == \
        [hook, f"{hook}_PREVIOUS"]

    code, out, _ = cli("audit", "--stack", "staging", "--as-of", "2026-11-27", project=project)
    assert code == 0
    assert f"overlap: {hook}: 14 days; window ended 2026-11-20, the previous value still readable" in out
    assert f"overlap window ended 2026-11-20: retire it (python -m stacks retire {hook} --stack staging)" in out
    code, out, _ = cli("audit", "--stack", "staging", "--format", "markdown", "--as-of", "2026-11-27", project=project)
    assert "## Rotation with overlap" in out and f"- `{hook}`: 14 days; window ended 2026-11-20" in out

    # The previous store secret gone from the account is a problem of that secret, by name.
    api.store_secrets[STORE_ID] = {k: s for k, s in api.store_secrets[STORE_ID].items()
                                   if s.name != f"{hook}_STAGING_PREVIOUS"}
    code, out, _ = cli("audit", "--stack", "staging", "--format", "json", "--as-of", "2026-11-19", project=project)
    row = next(r for r in json.loads(out)["credentials"] if r["secret"] == hook)
    assert f"store secret {hook}_STAGING_PREVIOUS missing" in row["status"]
