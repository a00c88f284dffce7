"""canary, audit and import against the fake Cloudflare API in realistic states; golden outputs."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, ROOT, STORE_ID
from fake_cloudflare import Fault
from live_states import add_orphans, drop_store_bindings, seed_healthy

from stacks.cli import main

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def api(fake, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "test-token")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake.base_url)
    monkeypatch.setenv("SECRETS_PLANE_HTTP_TIMEOUT", "2")
    return fake


def cli(*args: str, project: Path = ROOT) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--project-dir", str(project), *args])
    return code, out.getvalue(), err.getvalue()


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
    assert CANARY_PREFIX not in text


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
    api.faults += [Fault("GET", r"/settings$", status=429, times=3, retry_after=0.05),
                   Fault("GET", r"/secrets$", status=503, times=2, retry_after=0.05),
                   Fault("GET", r"/stores$", status=502, times=1, retry_after=0.05)]
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 0, out
    assert sum(f.times for f in api.faults) == 0, "every injected fault was hit and retried"


def test_store_listing_pages_until_empty(api, project) -> None:  # type: ignore[no-untyped-def]
    api.page_size = 4
    seed_healthy(api, "staging", "store")
    pin(project, "staging", "store")
    code, out, _ = cli("canary", "--stack", "staging", project=project)
    assert code == 0, out
    assert api.count("GET", r"/secrets$") == 25 // 4 + 2  # 7 full or partial pages, then the empty one


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
    assert code == 0 and "latest Worker version (upper bound)" in out
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
