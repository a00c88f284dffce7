"""The copy of a served version on its own (pure: no API, no host): what becomes of each field of
the Workers API's Version (held to the SDK's types), the bindings a copy sends, what refuses a
copy, and the check of the copy the API made. The provider-host tests prove the same through the
wire (test_rollout_copies.py)."""

from __future__ import annotations

import base64
import typing
from typing import Any

import pytest
from cloudflare.types.workers.beta.workers.version import Version
from cloudflare.types.workers.beta.workers.version_create_params import VersionCreateParams
from test_write_plan import SID, live_store, store, text

from stacks.api.workers import VersionFacts
from stacks.reference import copy_fields_table
from stacks.resources.version_copies import (
    CARRIED,
    COPY_FIELDS,
    OUTPUT,
    REPLACED,
    WHEN_SAFE,
    CopyPlan,
    CopyRefused,
    copy_bindings,
    plan_copy,
    refusals,
    wrong_in_copy,
)
from stacks.resources.write_plan import INHERIT, STORE, TEXT, changes

WIRE_FIELDS = sorted((f.alias or name) for name, f in Version.model_fields.items())
CREATE_FIELDS = set(typing.get_type_hints(VersionCreateParams)) - {"account_id", "deploy"}


def test_every_field_of_the_sdk_version_has_a_treatment() -> None:
    assert sorted(COPY_FIELDS) == WIRE_FIELDS, "a new field of the SDK's Version needs a line in COPY_FIELDS"


@pytest.mark.parametrize("field", sorted(COPY_FIELDS))
def test_each_treatment_agrees_with_the_create_params(field: str) -> None:
    treatment, why = COPY_FIELDS[field]
    assert why, "every line says why"
    if treatment in (CARRIED, WHEN_SAFE, REPLACED) or field == "bindings":
        assert field in CREATE_FIELDS, f"{field} is sent, so the create request must document it"
    if treatment == OUTPUT:
        assert field not in CREATE_FIELDS, f"{field} could be sent: say why it is not, or carry it"


def test_the_docs_table_is_the_code_table() -> None:
    table = copy_fields_table()
    for field, (treatment, _) in COPY_FIELDS.items():
        assert f"| `{field}` | {treatment} |" in table


def version(**fields: Any) -> dict[str, Any]:
    """A served version as `GET .../versions/{id}?include=modules` answers it."""
    base: dict[str, Any] = {
        "id": "v1", "number": 3, "created_on": "2026-11-20T09:00:00Z", "urls": ["https://v1.example.com"],
        "author_email": "dev@example.com", "source": "wrangler", "startup_time_ms": 4,
        "annotations": {"workers/message": "theirs"}, "main_module": "index.js",
        "modules": [{"name": "index.js", "content_type": "application/javascript+module",
                     "content_base64": base64.b64encode(b"export default {}").decode()}],
        "compatibility_date": "2026-10-01", "compatibility_flags": ["nodejs_compat"], "usage_model": "standard",
        "bindings": [{"name": "A", "type": TEXT}, {"name": "KV", "type": "kv_namespace", "namespace_id": "n"}],
    }
    return {**base, **fields}


def plan(v: dict[str, Any], specs: list[dict[str, Any]] | None = None, previously: set[str] | None = None) -> CopyPlan:
    specs = specs if specs is not None else [text("A")]
    values = {spec["name"]: "new" for spec in specs if spec["type"] == TEXT}
    chg = changes([text("A")], specs, {"A": "old"}, values)
    return plan_copy(v, 10.0, specs, values, chg, previously if previously is not None else {"A"},
                     "secrets-plane: rotate A (staging)")


def test_a_copy_carries_every_field_it_can_and_nothing_output_only() -> None:
    settings = {"limits": {"cpu_ms": 50, "subrequests": 10}, "placement": {"mode": "smart"},
                "cache_options": {"enabled": True}, "containers": [{"class_name": "Room"}],
                "package_dependencies": [{"name": "hono", "installedVersion": "4.6.1", "packageJsonVersion": "^4"}],
                "exports": {"Room": {"type": "durable-object", "storage": "sqlite", "state": "created"}}}
    made = plan(version(**settings))
    for key, value in settings.items():
        assert made.params[key] == value, key
    for key in ("compatibility_date", "compatibility_flags", "usage_model", "main_module", "modules"):
        assert made.params[key] == version()[key], key
    assert not {k for k, (t, _) in COPY_FIELDS.items() if t == OUTPUT} & set(made.params)
    assert set(made.params) <= CREATE_FIELDS
    assert made.params["annotations"] == {"workers/message": "secrets-plane: rotate A (staging), copy of v1 at 10%",
                                          "workers/tag": "secrets-plane"}


def test_a_copy_writes_the_change_and_inherits_the_rest_from_its_own_version() -> None:
    bindings = {"A": {"name": "A", "type": TEXT}, "B": {"name": "B", "type": TEXT}, "OLD": {"name": "OLD", "type": TEXT},
                "KV": {"name": "KV", "type": "kv_namespace"}, "X": {"name": "X", "type": TEXT}}
    specs = [text("A"), text("B"), store("S"), text("N"), text("X", external=True)]
    chg = changes([text("A"), text("B"), text("OLD"), text("X", external=True)], specs,
                  {"A": "1", "B": "2", "OLD": "3"}, {"A": "1*", "B": "2", "N": "4"})
    sent, inherited = copy_bindings("v1", bindings, specs, {"A": "1*", "B": "2", "N": "4"}, chg)
    assert {b["name"]: b for b in sent} == {
        "A": {"type": TEXT, "name": "A", "text": "1*"},
        "B": {"type": INHERIT, "name": "B", "version_id": "v1"},
        "KV": {"type": INHERIT, "name": "KV", "version_id": "v1"},
        "X": {"type": INHERIT, "name": "X", "version_id": "v1"},
        "S": live_store("S"),
        "N": {"type": TEXT, "name": "N", "text": "4"},
    }, "OLD is removed; A and N written; everything else inherited from v1"
    assert sorted(inherited) == ["B", "KV", "X"]


def test_a_copy_writes_a_value_its_version_lacks_or_holds_as_another_type() -> None:
    bindings = {"A": {"name": "A", "type": STORE, "store_id": SID, "secret_name": "A_S"}, "S": {"name": "S", "type": TEXT}}
    specs = [text("A"), store("S"), text("B")]
    chg = changes(specs, specs, {"A": "1", "B": "2"}, {"A": "1", "B": "2"})  # no change in the state's eyes
    sent, _ = copy_bindings("v1", bindings, specs, {"A": "1", "B": "2"}, chg)
    assert {b["name"]: b for b in sent} == {"A": {"type": TEXT, "name": "A", "text": "1"}, "S": live_store("S"),
                                            "B": {"type": TEXT, "name": "B", "text": "2"}}


@pytest.mark.parametrize("fields,words", [
    ({"assets": {"config": {"html_handling": "none"}}}, "static assets (`assets`)"),
    ({"exports": {"R": {"type": "durable-object", "storage": "sqlite", "state": "expecting-transfer",
                        "transfer_from": "w2"}}}, "Durable Object exports in transfer (R)"),
    ({"migrations": {"new_tag": "v2", "old_tag": "v1"}, "migration_tag": "v1"}, "`migrations` that have not run"),
    ({"migrations": {"new_tag": "v2"}}, "`migrations` that have not run"),
    ({"brand_new_field": 1}, "`brand_new_field` (a field the plane does not know how to carry)"),
    ({"main_module": None}, "not an ES module Worker"),
    ({"main_module": "missing.js"}, "not an ES module Worker"),
    ({"modules": version()["modules"] + [{"name": "__STATIC_CONTENT_MANIFEST", "content_type": "text/plain",
                                          "content_base64": ""}]}, "Workers Sites"),
], ids=["assets", "exports-in-transfer", "migrations-pending", "migrations-untagged", "unknown", "no-main",
        "main-not-a-module", "workers-sites"])
def test_what_cannot_be_carried_refuses_the_copy(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(CopyRefused) as info:
        plan(version(**fields))
    assert any(words in reason for reason in info.value.reasons), info.value.reasons
    assert info.value.version_id == "v1"
    assert refusals(version(**fields)), "preflight asks the same function"


def test_migrations_that_ran_are_left_out_and_empty_fields_are_no_refusal() -> None:
    ran = version(migrations={"new_tag": "v2", "old_tag": "v1"}, migration_tag="v2", assets=None, containers=[],
                  future=None)
    made = plan(ran)
    assert "migrations" not in made.params and "migration_tag" not in made.params
    assert refusals(version()) == []


def test_a_managed_name_taken_by_an_unmanaged_binding_refuses_the_copy() -> None:
    with pytest.raises(CopyRefused) as info:
        plan(version(), specs=[text("A"), text("KV")], previously={"A"})
    assert any("KV (a kv_namespace binding)" in r for r in info.value.reasons)
    plan(version(), specs=[text("A"), text("KV")], previously={"A", "KV"})  # one the plane managed is its own


def test_the_check_of_the_copy_the_api_made() -> None:
    made = plan(version(), specs=[text("A"), store("S")])
    assert made.inherited == ("KV",)
    good = VersionFacts("c1", 4, None, {"A": {"name": "A", "type": TEXT}, "S": live_store("S"),
                                        "KV": {"name": "KV", "type": "kv_namespace"}}, {})
    assert wrong_in_copy(made, good) == []
    lost = VersionFacts("c1", 4, None, {"A": {"name": "A", "type": TEXT}, "S": live_store("S", "OTHER")}, {})
    assert wrong_in_copy(made, lost) == ["KV", "S"]
