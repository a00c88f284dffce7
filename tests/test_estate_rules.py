"""The rules across the manifest and the stack files, at their edges: limits exactly at and one
past their value, every stack and Worker checked (not only the first that has a problem), the
values a stack lacks named exactly, what put a stack on the store, the store secrets a stack
holds, and the estate loaded once per process but never stale. (Found by the mutation run of the
core group: each test here failed on a mutant that survived it.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ACCOUNT, STORE_ID

from stacks.core import desired_state
from stacks.core.desired_state import stack_secret_names, store_comment
from stacks.core.errors import PlaneError
from stacks.core.estate import load_estate
from stacks.core.manifest import Manifest


def secret(**extra: Any) -> dict[str, Any]:
    return {"description": "d", "owner": "o", "provider": "p", "rotation_days": 90, **extra}


def names(n: int, prefix: str = "S") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def write(tmp: Path, manifest: dict[str, Any], stacks: dict[str, dict[str, Any]]) -> Path:
    (tmp / "Pulumi.yaml").write_text("name: secrets-plane\nruntime: python\n")
    (tmp / "secrets_manifest.yaml").write_text(yaml.safe_dump({"version": 1, "backend": "legacy", **manifest}))
    for name, config in stacks.items():
        cfg = {"secrets-plane:accountId": ACCOUNT, **{f"secrets-plane:{k}": v for k, v in config.items()}}
        (tmp / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": cfg}))
    return tmp


def outcome(project: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings), each as `validate` prints it."""
    try:
        estate = load_estate(project)
    except PlaneError as exc:
        return [p.render() for p in exc.problems if p.severity == "error"], []
    return [], [p.render() for p in estate.problems.warnings]


STORE = {"store": {"adopt": STORE_ID}}


@pytest.mark.parametrize("count, over", [(128, False), (129, True)])
def test_the_variable_limit_is_128_secret_text_bindings(tmp_path: Path, count: int, over: bool) -> None:
    project = write(tmp_path, {"secrets": {n: secret() for n in names(count)},
                               "workers": {"w": {"script_name": "w", "stacks": ["prod"], "secrets": names(count)}}},
                    {"prod": {}})
    errors, _ = outcome(project)
    limit = [e for e in errors if "over the Workers limit of 128" in e]
    assert bool(limit) == over, errors[:3]
    if over:
        assert "would hold 129 secret_text bindings in stack 'prod'" in limit[0]


@pytest.mark.parametrize("on_store, held_back, error, warning", [
    (100, 0, False, False),   # exactly the limit: fine
    (101, 0, True, False),    # one over, now
    (50, 50, False, False),   # once every stack is on the store: exactly the limit
    (50, 51, False, True),    # ... one over: said before the day of the flip
])
def test_the_store_limit_is_100_per_account_now_and_after_a_flip(tmp_path: Path, on_store: int, held_back: int,
                                                                   error: bool, warning: bool) -> None:
    project = write(tmp_path, {
        "secrets": {n: secret() for n in names(on_store, "A") + names(held_back, "B")},
        "workers": {"a": {"script_name": "a-{stack}", "stacks": ["staging"], "secrets": names(on_store, "A")},
                    **({"b": {"script_name": "b-{stack}", "stacks": ["prod"], "secrets": names(held_back, "B")}}
                       if held_back else {})}},
        {"staging": {"backend": "store", **STORE}, "prod": {"secretName": "{name}_PROD"}})
    errors, warnings = outcome(project)
    over = [e for e in errors if "over Cloudflare's limit of 100 per account" in e]
    later = [w for w in warnings if "once every stack is on the store, over Cloudflare's limit of 100" in w]
    assert bool(over) == error and bool(later) == warning, (errors[:3], warnings[:3])
    if error:
        assert over[0].startswith("Pulumi.prod.yaml:"), "the first stack file of the account, by name"
        assert f"would hold {on_store} store secrets (prod: 0, staging: {on_store})" in over[0]
    if warning:
        assert f"would hold {on_store + held_back} store secrets (prod: {held_back}, staging: {on_store})" in later[0]


def test_every_worker_is_checked_for_a_script_used_twice(tmp_path: Path) -> None:
    """A Worker not in the stack is skipped, and the ones after it are still checked."""
    project = write(tmp_path, {"secrets": {"A": secret()}, "workers": {
        "a": {"script_name": "only-prod", "stacks": ["prod"], "secrets": ["A"]},
        "b": {"script_name": "same", "stacks": ["staging"], "secrets": ["A"]},
        "c": {"script_name": "same", "stacks": ["staging"], "secrets": ["A"]}}},
        {"staging": {}, "prod": {}})
    errors, _ = outcome(project)
    assert any("script 'same' is used by Workers 'b' and 'c' in stack 'staging'" in e for e in errors), errors


def test_one_script_name_in_two_stacks_is_not_a_duplicate(tmp_path: Path) -> None:
    project = write(tmp_path, {"secrets": {"A": secret()}, "workers": {
        "a": {"script_name": "shared", "stacks": ["staging"], "secrets": ["A"]},
        "b": {"script_name": "shared", "stacks": ["prod"], "secrets": ["A"]}}},
        {"staging": {"secretName": "{name}_STAGING"}, "prod": {}})
    errors, warnings = outcome(project)
    assert errors == [] and not any("is used by Workers" in w for w in warnings)


@pytest.mark.parametrize("broken", ["alpha", "staging"])  # before and after prod, in the order stacks are read
def test_a_stack_that_cannot_be_built_does_not_hide_the_next_ones_problems(tmp_path: Path, broken: str) -> None:
    project = write(tmp_path, {"secrets": {n: secret() for n in names(129)}, "workers": {
        "a": {"script_name": "a", "stacks": ["prod"], "secrets": names(129)},
        "b": {"script_name": "b", "stacks": [broken], "secrets": ["S000"], "backend": "store"}}},
        {"prod": {}, broken: {}})
    errors, _ = outcome(project)
    assert any(f"Pulumi.{broken}.yaml" in e and "config.secrets-plane:store" in e for e in errors), errors
    assert any("would hold 129 secret_text bindings in stack 'prod'" in e for e in errors), errors


def test_the_store_error_points_where_the_store_goes_when_the_file_has_none(tmp_path: Path) -> None:
    project = write(tmp_path, {"secrets": {"A": secret(backend="store")},
                               "workers": {"a": {"script_name": "a", "stacks": ["staging"], "secrets": ["A"]}}},
                    {"staging": {}})
    errors, _ = outcome(project)
    assert errors[0].startswith("Pulumi.staging.yaml:1: config.secrets-plane:store: error: stack 'staging' puts 1 "
                                "secret(s) in the store (A)"), errors


def test_the_cause_named_for_a_store_without_a_store_is_the_secret_that_asked(tmp_path: Path) -> None:
    """Of the stack's secrets, the one whose own `backend: store` put the stack on the store is
    named, not the first secret the stack holds, nor one the stack does not hold."""
    project = write(tmp_path, {"secrets": {"A_PLAIN": secret(), "B_MOVED": secret(backend="store"),
                                           "C_ELSEWHERE": secret(backend="store")},
                               "workers": {"a": {"script_name": "a", "stacks": ["staging"], "secrets": ["A_PLAIN",
                                                                                                        "B_MOVED"]},
                                           "z": {"script_name": "z", "stacks": ["prod"], "secrets": ["C_ELSEWHERE"]}}},
                    {"staging": {}, "prod": STORE})
    errors, _ = outcome(project)
    causes = [e for e in errors if "this is what puts stack 'staging' on the store" in e]
    assert len(causes) == 1 and "secrets.B_MOVED.backend" in causes[0] and \
        "secret 'B_MOVED' says `backend: store`" in causes[0], errors


@pytest.mark.parametrize("count, shown", [(4, "(S000, S001, S002, S003)"), (5, "(S000, S001, S002, S003 and 1 more)"),
                                          (6, "(S000, S001, S002, S003 and 2 more)")])
def test_a_store_without_a_store_names_four_secrets_and_counts_the_rest(tmp_path: Path, count: int,
                                                                        shown: str) -> None:
    project = write(tmp_path, {"secrets": {n: secret() for n in names(count)},
                               "workers": {"a": {"script_name": "a", "stacks": ["staging"], "secrets": names(count)}}},
                    {"staging": {"backend": "store"}})
    errors, _ = outcome(project)
    assert any(f"puts {count} secret(s) in the store {shown} but names no store" in e for e in errors), errors


def test_a_name_collision_between_stacks_is_said_once_per_stack(tmp_path: Path) -> None:
    """Two stacks on one account with the same naming rule collide on every name: one error per
    stack says so (its fix is one setting), not one per secret."""
    project = write(tmp_path, {"secrets": {n: secret() for n in names(3)},
                               "workers": {"a": {"script_name": "a", "stacks": ["prod", "staging"],
                                                 "secrets": names(3)}}},
                    {"prod": STORE, "staging": STORE})
    errors, _ = outcome(project)
    collisions = [e for e in errors if "collides with stack" in e]
    assert len(collisions) == 1 and "store secret name 'S000' of stack 'staging' collides with stack 'prod'" in \
        collisions[0], errors


def test_the_values_a_stack_lacks_are_named_exactly(tmp_path: Path) -> None:
    project = write(tmp_path, {"secrets": {n: secret() for n in names(3)},
                               "workers": {"a": {"script_name": "a", "stacks": ["prod"], "secrets": names(3)}}},
                    {"prod": {"values": {"S001": {"secure": "v1:abc"}, "S0O2": {"secure": "v1:abc"},
                                         "ZZZ_UNKNOWN": {"secure": "v1:abc"}}}})
    _, warnings = outcome(project)
    assert any("2 value(s) not set for stack 'prod' (legacy): S000, S002;" in w for w in warnings), warnings
    typo = [w for w in warnings if "value set for 'S0O2'" in w]
    assert typo and "(fix: did you mean 'S002'?)" in typo[0], warnings
    unknown = [w for w in warnings if "value set for 'ZZZ_UNKNOWN'" in w]
    assert unknown and "remove it: pulumi config rm --path 'secrets-plane:values.ZZZ_UNKNOWN' --stack prod" in \
        unknown[0], warnings


def test_external_store_secrets_are_each_said_after_a_legacy_one(tmp_path: Path) -> None:
    project = write(tmp_path, {"secrets": {"A_LEGACY_EXT": secret(external=True, backend="legacy"),
                                           "B_STORE_EXT": secret(external=True)},
                               "workers": {"a": {"script_name": "a", "stacks": ["staging"],
                                                 "secrets": ["A_LEGACY_EXT", "B_STORE_EXT"]}}},
                    {"staging": {"backend": "store", **STORE}})
    _, warnings = outcome(project)
    said = sorted((w for w in warnings if "binds external secret" in w), key=lambda w: "B_STORE_EXT" in w)
    assert len(said) == 2 and "'A_LEGACY_EXT' as a Worker secret: it must already exist on Worker a" in said[0]
    assert "create it: wrangler secret put A_LEGACY_EXT --name a" in said[0], warnings
    assert "'B_STORE_EXT' through the store (bound by a)" in said[1], warnings
    assert "create it: wrangler secrets-store secret create" in said[1]


def test_a_worker_fallback_names_only_its_own_external_store_bindings(tmp_path: Path) -> None:
    project = write(tmp_path, {"secrets": {"EXT_A": secret(external=True), "EXT_B": secret(external=True),
                                           "OWNED": secret()},
                               "workers": {"a": {"script_name": "a", "stacks": ["staging"], "fallback": True,
                                                 "secrets": ["EXT_A", "OWNED"]},
                                           "b": {"script_name": "b", "stacks": ["staging"], "secrets": ["EXT_B"]}}},
                    {"staging": {"backend": "store", **STORE}})
    _, warnings = outcome(project)
    skipped = [w for w in warnings if "asks for fallback copies" in w]
    assert len(skipped) == 1 and "but EXT_A get(s) none" in skipped[0], warnings


def test_the_secrets_a_stack_holds_include_those_another_product_reads() -> None:
    m = Manifest.model_validate({"version": 1, "backend": "legacy", "secrets": {
        "BOUND": secret(), "GATEWAY": secret(scopes=["ai_gateway"]), "UNBOUND": secret(scopes=["workers"])},
        "workers": {"a": {"script_name": "a", "stacks": ["prod"], "secrets": ["BOUND"]}}})
    assert stack_secret_names(m, "prod") == ["BOUND", "GATEWAY"]
    assert stack_secret_names(m, "staging") == ["GATEWAY"]


def test_a_store_secret_comment_is_the_manifests_or_made_from_its_fields() -> None:
    m = Manifest.model_validate({"version": 1, "backend": "legacy", "secrets": {
        "SAID": secret(comment="rotated by the billing team"), "MADE": secret()}})
    assert store_comment("SAID", m) == "rotated by the billing team"
    assert store_comment("MADE", m) == "d | owner: o | provider: p | managed by secrets-plane"


def test_the_desired_state_cannot_be_changed_by_what_reads_it() -> None:
    """Every consumer (program, plan, diff, live checks) reads one DesiredState: none may alter it."""
    classes = [c for c in vars(desired_state).values()
               if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == desired_state.__name__]
    assert len(classes) >= 5
    for cls in classes:
        assert cls.__dataclass_params__.frozen, cls.__name__  # type: ignore[attr-defined]


def test_the_estate_is_loaded_once_but_never_stale(tmp_path: Path) -> None:
    manifest = {"secrets": {"A": secret()}, "workers": {"a": {"script_name": "a", "stacks": ["prod"],
                                                              "secrets": ["A"]}}}
    project = write(tmp_path, manifest, {"prod": {}})
    first = load_estate(project)
    assert load_estate(project) is first, "the same files: loaded once"
    manifest["secrets"]["B"] = secret()
    manifest["workers"]["a"]["secrets"].append("B")
    write(tmp_path, manifest, {"prod": {}})
    again = load_estate(project)
    assert again is not first and "B" in again.manifest.manifest.secrets
    write(tmp_path, manifest, {"prod": {"backend": "legacy"}})
    assert load_estate(project).stacks["prod"].settings.backend == "legacy", "a stack file change is seen too"
