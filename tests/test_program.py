"""The real __main__.py under Pulumi mocks, for each stack and backend."""

from __future__ import annotations

import gc
import json
from dataclasses import replace

import pulumi
import pytest
from conftest import ACCOUNT, CANARY_PREFIX, ROOT, STORE_ID, canary, stack_config

from stacks.resources.offline import ProgramRun, RecordedResource, is_secret, redact, reveal, run_program

STORE = "cloudflare:index/secretsStore:SecretsStore"
STORE_SECRET = "cloudflare:index/secretsStoreSecret:SecretsStoreSecret"
BINDINGS = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"
COMPONENT = "secrets-plane:index:SecretsPlane"
STAGING_SCRIPTS = ["ascend-context-staging", "ascend-scheduler-staging", "ascend-v5-dev", "ascend-v5-preview",
                   "ascend-v5-staging"]
PROD_SCRIPTS = ["ascend-context", "ascend-scheduler", "ascend-v5"]


def run(stack: str, **kw):  # type: ignore[no-untyped-def]
    return run_program(ROOT, stack, stack_config(stack, **kw), ["secrets-plane:values"])


@pytest.mark.parametrize("stack,scripts", [("staging", STAGING_SCRIPTS), ("prod", PROD_SCRIPTS)])
def test_legacy_declares_one_bindings_resource_per_worker_and_no_store(stack, scripts):  # type: ignore[no-untyped-def]
    result = run(stack, backend="legacy")
    types = sorted({r.type for r in result.resources})
    assert types == [BINDINGS, COMPONENT]
    bindings = result.of_type(BINDINGS)
    assert sorted(r.name for r in bindings) == scripts
    (component,) = result.of_type(COMPONENT)
    for res in bindings:
        assert res.parent == component.urn
        assert res.additional_secret_outputs == ["values"]
        assert is_secret(res.inputs["values"]), "values must reach the provider as one secret input"
        assert not is_secret(res.inputs["__provider"]), "the pickled provider holds no secret: state keeps it readable"
        specs = reveal(res.inputs["bindings"])
        assert {s["type"] for s in specs} == {"secret_text"}
        values = reveal(res.inputs["values"])
        assert set(values) == {s["name"] for s in specs}
        for spec in specs:
            assert values[spec["name"]] == canary(spec["secret"])
        assert CANARY_PREFIX not in json.dumps(redact(res.inputs["bindings"]))
    assert result.invokes == []
    assert result.outputs["backend"] == "legacy"
    assert "store_id" not in result.outputs


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_store_adopts_store_creates_secrets_and_binds_by_reference(stack):  # type: ignore[no-untyped-def]
    result = run(stack, backend="store")
    assert result.of_type(STORE) == [], "an adopted store is looked up, never declared"
    assert [t for t, _ in result.invokes] == ["cloudflare:index/getSecretsStore:getSecretsStore"]
    secrets = {r.name: r for r in result.of_type(STORE_SECRET)}
    assert len(secrets) == 25
    (component,) = result.of_type(COMPONENT)
    suffix = "_STAGING" if stack == "staging" else ""
    for name, res in secrets.items():
        secret = name.removeprefix("secret-")
        assert res.parent == component.urn
        assert res.inputs["name"] == secret + suffix
        assert res.inputs["storeId"] == STORE_ID
        assert res.inputs["accountId"] == ACCOUNT
        assert res.inputs["scopes"] == sorted(res.inputs["scopes"])
        assert is_secret(res.inputs["value"]) and reveal(res.inputs["value"]) == canary(secret)
    assert secrets["secret-OPENAI_API_KEY"].inputs["scopes"] == ["ai_gateway", "workers"]
    assert secrets["secret-HUBSPOT_ACCESS_TOKEN"].inputs["scopes"] == ["workers"]
    for res in result.of_type(BINDINGS):
        specs = reveal(res.inputs["bindings"])
        assert {s["type"] for s in specs} == {"secrets_store_secret"}
        assert reveal(res.inputs["values"]) == {}, "a store value is never an input of a Worker's bindings"
        expected_deps = sorted(secrets[f"secret-{s['secret']}"].urn for s in specs)
        assert sorted(set(res.dependencies)) == sorted(set(expected_deps))
        for spec in specs:
            assert spec["store_id"] == STORE_ID and spec["secret_name"] == spec["secret"] + suffix
    assert result.outputs["store_id"] == STORE_ID


def test_created_store_is_protected_and_retained():  # type: ignore[no-untyped-def]
    result = run("staging", backend="store", store={"create": "ascend"})
    (store,) = result.of_type(STORE)
    assert store.protect and store.retain_on_delete
    assert store.inputs == {"accountId": ACCOUNT, "name": "ascend"}
    for res in result.of_type(STORE_SECRET):
        assert res.inputs["storeId"] == "0" * 31 + "1"
    assert result.invokes == []


def test_flip_keeps_every_worker_bindings_urn():  # type: ignore[no-untyped-def]
    for stack in ("staging", "prod"):
        legacy = {r.urn for r in run(stack, backend="legacy").of_type(BINDINGS)}
        store = {r.urn for r in run(stack, backend="store").of_type(BINDINGS)}
        assert legacy == store and len(legacy) >= 3


def test_outputs_carry_matrix_digest_and_no_values():  # type: ignore[no-untyped-def]
    result = run("staging", backend="store")
    matrix = result.outputs["binding_matrix"]
    assert sorted(matrix) == sorted(STAGING_SCRIPTS)
    assert matrix["ascend-context-staging"]["GOOGLE_CLIENT_ID"] == "secrets_store_secret"
    assert len(result.outputs["manifest_digest"]) == 64
    assert CANARY_PREFIX not in json.dumps(result.outputs)


def test_rotation_changes_only_the_store_secret_input():  # type: ignore[no-untyped-def]
    base = run("prod", backend="store")
    values = {k: v for k, v in stack_config("prod")["secrets-plane:values"].items()}
    values["OPENAI_API_KEY"] = canary("rotated")
    rotated = run_program(ROOT, "prod", stack_config("prod", backend="store", values=values), ["secrets-plane:values"])
    before = {r.urn: reveal(r.inputs) for r in base.resources}
    after = {r.urn: reveal(r.inputs) for r in rotated.resources}
    assert before.keys() == after.keys()
    changed = [urn.rsplit("::", 1)[1] for urn in sorted(before) if before[urn] != after[urn]]
    assert changed == ["secret-OPENAI_API_KEY"]


def test_missing_values_stop_the_program_before_any_resource():  # type: ignore[no-untyped-def]
    values = {"HUBSPOT_ACCESS_TOKEN": canary("x")}
    with pytest.raises(pulumi.RunError) as info:
        run_program(ROOT, "prod", stack_config("prod", values=values), ["secrets-plane:values"])
    text = str(info.value)
    assert "no value for secret 'OPENAI_API_KEY'" in text
    assert "pulumi config set --secret --path 'secrets-plane:values.OPENAI_API_KEY' --stack prod" in text
    assert text.count("no value for secret") == 24
    assert CANARY_PREFIX not in text


def test_oversized_value_is_an_error_naming_the_secret_only():  # type: ignore[no-untyped-def]
    values = dict(stack_config("prod")["secrets-plane:values"])
    values["OPENAI_API_KEY"] = CANARY_PREFIX + "x" * 70_000
    with pytest.raises(pulumi.RunError) as info:
        run_program(ROOT, "prod", stack_config("prod", values=values), ["secrets-plane:values"])
    assert ("value of 'OPENAI_API_KEY' is 70014 bytes, over 5120 bytes, the Workers limit of a secret_text value "
            "(bound so on api, context)") in str(info.value)
    assert "Pulumi.prod.yaml: config.secrets-plane:values.OPENAI_API_KEY" in str(info.value)
    assert CANARY_PREFIX not in str(info.value)


@pytest.mark.parametrize("backend,size,refused", [("legacy", 5120, False), ("legacy", 5121, True),
                                                   ("store", 5121, False), ("store", 65_536, False),
                                                   ("store", 65_537, True)])
def test_value_size_limit_follows_where_the_value_goes(backend: str, size: int, refused: bool) -> None:
    """A Worker secret holds 5 KiB, a store secret 64 KiB (stacks/core/limits.py, with sources)."""
    values = dict(stack_config("prod")["secrets-plane:values"])
    values["OPENAI_API_KEY"] = CANARY_PREFIX + "x" * (size - len(CANARY_PREFIX))
    config = stack_config("prod", backend=backend, values=values)
    if not refused:
        run_program(ROOT, "prod", config, ["secrets-plane:values"])
        return
    with pytest.raises(pulumi.RunError) as info:
        run_program(ROOT, "prod", config, ["secrets-plane:values"])
    assert f"value of 'OPENAI_API_KEY' is {size} bytes, over" in str(info.value)
    assert CANARY_PREFIX not in str(info.value)


@pytest.mark.parametrize("stack,backend", [("staging", "store"), ("prod", "legacy")])
def test_the_urn_rule_names_what_the_program_registers(stack: str, backend: str) -> None:
    """`rotate` and `adopt-store` name resources by URN without running the program: the one rule
    (stacks/core/naming.py) must give exactly the URNs the engine sees."""
    from stacks.core.naming import urn

    result = run(stack, backend=backend)
    assert len(result.resources) > 3
    for res in result.resources:
        # The mock monitor keeps the root stack's type in a top-level URN; the engine drops it
        # (NewURN, sdk/go/common/resource/urn.go: `parentType != RootStackType`).
        assert urn(f"ascend/secrets-plane/{stack}", res.type, res.name) == res.urn.replace("pulumi:pulumi:Stack$", "")


@pytest.mark.parametrize("backend,store", [("legacy", None), ("store", None), ("store", {"create": "plane"})])
def test_offline_sdk_shortcuts_record_exactly_what_the_plain_sdk_records(backend: str, store: dict[str, str] | None) -> None:
    """`plan` runs with SDK shortcuts (stacks/resources/sdk_shortcuts.py) and answers registrations
    on the loop's thread; the run must record the same resources, inputs, secret markers, options
    and outputs without them."""
    from pulumi.runtime import rpc

    lift, walk, serialize = pulumi.Output.from_input, rpc.contains_unknowns, rpc.serialize_property
    config = stack_config("staging", backend=backend, store=store)
    fast = run_program(ROOT, "staging", config, ["secrets-plane:values"])
    plain = run_program(ROOT, "staging", config, ["secrets-plane:values"], shortcuts=False)
    assert (pulumi.Output.from_input, rpc.contains_unknowns, rpc.serialize_property) == (lift, walk, serialize), \
        "the SDK is restored after an offline run"
    assert gc.isenabled(), "the cyclic collector, paused for the run, is back"
    assert len(fast.resources) >= 6

    def canonical(run: ProgramRun) -> list[RecordedResource]:
        # Dependencies come from a set: their order means nothing, with or without shortcuts.
        return sorted((replace(r, dependencies=sorted(r.dependencies)) for r in run.resources), key=lambda r: r.urn)

    assert canonical(fast) == canonical(plain)
    assert fast.outputs == plain.outputs and fast.invokes == plain.invokes
    assert all(is_secret(r.inputs["values"]) for r in fast.of_type(BINDINGS))


def test_an_offline_run_is_a_preview_unless_told_otherwise() -> None:
    """`plan` shows what `pulumi preview` would: the program must see a dry run."""
    seen: list[bool] = []

    def program() -> None:
        seen.append(pulumi.runtime.is_dry_run())

    run_program(ROOT, "staging", {}, [], program=program)
    run_program(ROOT, "staging", {}, [], program=program, preview=False)
    assert seen == [True, False]
