"""The promotion gate under Pulumi mocks, with the staging stack's outputs mocked."""

from __future__ import annotations

import pulumi
import pytest
from conftest import ROOT, canary, manifest_secret_names, stack_config

from stacks.core.estate import load_estate
from stacks.resources.offline import run_program

SOURCE = "ascend/secrets-plane/staging"
DIGEST = load_estate(ROOT).manifest.manifest.digest()


def prod(staging: dict[str, str] | None, backend: str | None = None, values: dict[str, str] | None = None,
         **extra: str):  # type: ignore[no-untyped-def]
    cfg = stack_config("prod", backend=backend, values=values, promoteFrom=SOURCE, **extra)
    return run_program(ROOT, "prod", cfg, ["secrets-plane:values"],
                       stack_outputs={SOURCE: staging} if staging is not None else {})


def declared(result) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(r.type for r in result.resources if r.type not in ("pulumi:pulumi:StackReference",))


def test_same_digest_and_backend_passes() -> None:
    result = prod({"manifest_digest": DIGEST, "backend": "legacy"})
    assert declared(result).count("pulumi-python:dynamic/secrets-plane:WorkerSecretBindings") == 3


def test_value_rotation_is_not_gated() -> None:
    values = {n: canary(n) for n in manifest_secret_names()}
    values["OPENAI_API_KEY"] = canary("rotated")
    result = prod({"manifest_digest": DIGEST, "backend": "legacy"}, values=values)
    assert len(declared(result)) == 4


@pytest.mark.parametrize("staging,backend,expected", [
    ({"manifest_digest": "0" * 64, "backend": "legacy"}, None,
     f"manifest {DIGEST[:12]} is not what '{SOURCE}' runs (000000000000): deploy this manifest to staging first"),
    ({"manifest_digest": DIGEST, "backend": "legacy"}, "store",
     f"backend 'store' is not what '{SOURCE}' runs ('legacy'): flip staging first"),
    ({}, None, f"stack '{SOURCE}' reports no manifest_digest/backend: deploy it first (pulumi up --stack staging)"),
], ids=["new-digest", "flip-not-on-staging", "staging-never-ran"])
def test_gate_refuses_and_registers_nothing(staging, backend, expected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pulumi.RunError) as info:
        prod(staging, backend=backend)
    assert expected in str(info.value)
    assert "promotionOverride" in str(info.value)


def test_refused_gate_declares_no_cloudflare_resource() -> None:
    from stacks.resources import offline

    seen: list[str] = []
    original = offline._RecordingMonitor._record

    def spy(self, request, urn, read, inputs=None):  # type: ignore[no-untyped-def]
        seen.append(request.type)
        return original(self, request, urn, read, inputs)

    offline._RecordingMonitor._record = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(pulumi.RunError):
            run_program(ROOT, "prod", stack_config("prod", promoteFrom=SOURCE), ["secrets-plane:values"],
                        stack_outputs={SOURCE: {"manifest_digest": "1" * 64, "backend": "legacy"}})
    finally:
        offline._RecordingMonitor._record = original  # type: ignore[method-assign]
    # The gate waits on the staging outputs before any Cloudflare resource can register.
    assert sorted(set(seen)) == ["pulumi:pulumi:StackReference", "secrets-plane:index:SecretsPlane"]


def test_holding_production_back_on_legacy_passes() -> None:
    result = prod({"manifest_digest": DIGEST, "backend": "store"}, backend="legacy")
    assert len(declared(result)) == 4


def test_override_is_loud() -> None:
    result = prod({"manifest_digest": "0" * 64, "backend": "legacy"}, promotionOverride="INC-123 hotfix")
    assert result.outputs["promotion_override"] == "INC-123 hotfix"
    assert any("PROMOTION GATE OVERRIDDEN (INC-123 hotfix)" in w for w in result.warnings)


def test_pull_request_preview_reports_the_gate_but_apply_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_PLANE_PROMOTION_CHECK", "warn")
    cfg = stack_config("prod", promoteFrom=SOURCE)
    stale = {SOURCE: {"manifest_digest": "0" * 64, "backend": "legacy"}}
    preview = run_program(ROOT, "prod", cfg, ["secrets-plane:values"], preview=True, stack_outputs=stale)
    assert any("promotion gate (preview only, will refuse on apply)" in w for w in preview.warnings)
    with pytest.raises(pulumi.RunError):
        run_program(ROOT, "prod", cfg, ["secrets-plane:values"], preview=False, stack_outputs=stale)


def test_the_digest_covers_phased_overrides(project) -> None:  # type: ignore[no-untyped-def]
    path = project / "secrets_manifest.yaml"
    path.write_text(path.read_text().replace("    script_name: ascend-v5-dev\n", "    script_name: ascend-v5-dev\n    backend: store\n"))
    assert load_estate(project).manifest.manifest.digest() != DIGEST


def test_a_stack_pinned_legacy_passes_while_staging_runs_a_mix(project) -> None:  # type: ignore[no-untyped-def]
    path = project / "secrets_manifest.yaml"
    path.write_text(path.read_text().replace("backend: legacy\n", "backend: store\n", 1).replace(
        "    script_name: ascend-v5-dev\n", "    script_name: ascend-v5-dev\n    backend: legacy\n"))
    digest = load_estate(project).manifest.manifest.digest()
    staging = {"manifest_digest": digest, "backend": "store"}  # staging runs the mix: store, dev held back
    cfg = stack_config("prod", backend="legacy", promoteFrom=SOURCE)
    result = run_program(project, "prod", cfg, ["secrets-plane:values"], stack_outputs={SOURCE: staging})
    assert declared(result).count("pulumi-python:dynamic/secrets-plane:WorkerSecretBindings") == 3
    # Unpinned, prod would follow the flag to the store: it passes too, staging having run it.
    unpinned = run_program(project, "prod", stack_config("prod", promoteFrom=SOURCE), ["secrets-plane:values"],
                           stack_outputs={SOURCE: staging})
    assert "cloudflare:index/secretsStoreSecret:SecretsStoreSecret" in declared(unpinned)
