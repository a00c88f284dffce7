"""The policy pack's rules, unit-tested on resources shaped like the program's."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from conftest import ROOT
from pulumi_policy import Secret
from pulumi_policy.secret import secrets_preserving_proxy

sys.path.insert(0, str(ROOT / "policy"))

import guardrails  # noqa: E402


@dataclass
class Opts:
    protect: bool = False


@dataclass
class Args:
    resource_type: str
    name: str
    props: Any
    opts: Opts = field(default_factory=Opts)


def violations(rule, args) -> list[str]:  # type: ignore[no-untyped-def]
    found: list[str] = []
    rule(args, found.append)
    return found


def test_created_store_must_be_protected() -> None:
    assert violations(guardrails.created_store_is_protected, Args(guardrails.STORE, "store", {}, Opts(False)))
    assert not violations(guardrails.created_store_is_protected, Args(guardrails.STORE, "store", {}, Opts(True)))


def test_store_secret_value_must_be_secret() -> None:
    plain = Args(guardrails.STORE_SECRET, "secret-X", secrets_preserving_proxy({"value": "v"}))
    marked = Args(guardrails.STORE_SECRET, "secret-X", secrets_preserving_proxy({"value": Secret("v")}))
    assert violations(guardrails.store_secret_value_is_secret, plain) == [
        "store secret 'secret-X' has a value not marked secret: wrap it in pulumi.Output.secret"]
    assert not violations(guardrails.store_secret_value_is_secret, marked)


def test_bindings_must_carry_no_plaintext() -> None:
    ok = {"bindings": [{"name": "A", "type": "secret_text", "secret": "A"}], "values": Secret({"A": "v"})}
    leaky = {"bindings": [{"name": "A", "type": "secret_text", "text": "v"}], "values": {"A": "v"}}
    assert not violations(guardrails.bindings_carry_no_plaintext,
                          Args(guardrails.BINDINGS, "w", secrets_preserving_proxy(ok)))
    found = violations(guardrails.bindings_carry_no_plaintext, Args(guardrails.BINDINGS, "w", secrets_preserving_proxy(leaky)))
    assert len(found) == 2 and "carries a value" in found[0] and "not marked secret" in found[1]


def test_scopes_no_wider_than_manifest() -> None:
    narrow = Args(guardrails.STORE_SECRET, "secret-HUBSPOT_ACCESS_TOKEN", {"scopes": ["workers"]})
    wide = Args(guardrails.STORE_SECRET, "secret-HUBSPOT_ACCESS_TOKEN", {"scopes": ["ai_gateway", "workers"]})
    unknown = Args(guardrails.STORE_SECRET, "secret-NOPE", {"scopes": ["workers"]})
    assert not violations(guardrails.scopes_within_manifest, narrow)
    assert violations(guardrails.scopes_within_manifest, wide) == [
        "store secret 'HUBSPOT_ACCESS_TOKEN' asks for scopes ['ai_gateway'] that the manifest does not declare "
        "(declared: ['workers'])"]
    assert "not declared" in violations(guardrails.scopes_within_manifest, unknown)[0]


def test_every_resource_of_the_real_program_passes() -> None:
    from conftest import stack_config

    from stacks.resources.offline import run_program

    result = run_program(ROOT, "staging", stack_config("staging", backend="store", store={"create": "ascend"}),
                         ["secrets-plane:values"])
    checked = 0
    for res in result.resources:
        props = _to_policy_props(res.inputs)
        args = Args(res.type, res.name, secrets_preserving_proxy(props), Opts(res.protect))
        for rule in (guardrails.created_store_is_protected, guardrails.store_secret_value_is_secret,
                     guardrails.bindings_carry_no_plaintext, guardrails.scopes_within_manifest):
            assert violations(rule, args) == [], (rule.__name__, res.name)
            checked += 1
    assert checked == 4 * len(result.resources) and len(result.resources) > 30


def _to_policy_props(value: Any) -> Any:
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return Secret(_to_policy_props(value["value"]))
    if isinstance(value, dict):
        return {k: _to_policy_props(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_policy_props(v) for v in value]
    return value


def test_no_store_secret_for_a_secret_held_out_or_external(tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "secrets_manifest.yaml"
    manifest.write_text("secrets:\n  KEPT: {backend: legacy}\n  EXT: {external: true}\n  FREE: {}\n")
    for name, expected in (("KEPT", "holds it out of the store"), ("EXT", "says it is external")):
        found = violations(lambda a, r: guardrails.store_secret_not_held_out(a, r, manifest),
                           Args(guardrails.STORE_SECRET, f"secret-{name}", {}))
        assert len(found) == 1 and expected in found[0]
    assert not violations(lambda a, r: guardrails.store_secret_not_held_out(a, r, manifest),
                          Args(guardrails.STORE_SECRET, "secret-FREE", {}))


def test_fallback_copies_sit_beside_a_store_binding() -> None:
    good = {"bindings": [{"name": "A", "type": "secrets_store_secret"},
                         {"name": "A_FALLBACK", "type": "secret_text", "role": "fallback"}]}
    orphan = {"bindings": [{"name": "A", "type": "secret_text"},
                           {"name": "A_FALLBACK", "type": "secret_text", "role": "fallback"}]}
    assert not violations(guardrails.fallback_copies_are_text, Args(guardrails.BINDINGS, "w", secrets_preserving_proxy(good)))
    found = violations(guardrails.fallback_copies_are_text, Args(guardrails.BINDINGS, "w", secrets_preserving_proxy(orphan)))
    assert len(found) == 1 and "A_FALLBACK" in found[0]
