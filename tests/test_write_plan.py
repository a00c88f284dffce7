"""The write plan on its own (pure: no API, no host): what an update changes, what each write path
sends, what a write's response must show, and the annotations (the copies of served versions:
test_version_copies.py).
The provider-host tests prove the same through the wire; these pin each rule at its edges."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.api.workers import public, version_annotations
from stacks.core.limits import ANNOTATION_MESSAGE_MAX_BYTES
from stacks.resources.write_plan import (
    INHERIT,
    STORE,
    TEXT,
    BindingConflict,
    Changes,
    bulk_operations,
    changes,
    live_matches,
    missing_after,
    same_specs,
    settings_write,
)

SID = "0" * 31 + "1"


def text(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": TEXT, "secret": name, **extra}


def store(name: str, secret_name: str | None = None, store_id: str = SID, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": STORE, "secret": name, "store_id": store_id,
            "secret_name": secret_name or f"{name}_S", **extra}


def live_store(name: str, secret_name: str | None = None, store_id: str = SID) -> dict[str, Any]:
    return {"name": name, "type": STORE, "store_id": store_id, "secret_name": secret_name or f"{name}_S"}


# ---- changes ------------------------------------------------------------------------------------

def test_a_rotation_sets_only_the_value_that_changed() -> None:
    chg = changes([text("A"), text("B")], [text("A"), text("B")], {"A": "1", "B": "2"}, {"A": "1*", "B": "2"})
    assert (chg.set_values, chg.rotated, chg.added, chg.removed) == (("A",), ("A",), (), ())
    assert not chg.needs_settings and not chg.empty


def test_nothing_changed_is_empty() -> None:
    chg = changes([text("A"), store("C")], [text("A"), store("C")], {"A": "1"}, {"A": "1"})
    assert chg.empty and not chg.needs_settings and chg.set_values == ()


def test_a_value_missing_from_the_old_values_is_written() -> None:
    # State written by an older version of the plane, without this value: write it.
    chg = changes([text("A")], [text("A")], {}, {"A": "1"})
    assert chg.set_values == ("A",) and chg.rotated == ("A",)


def test_added_and_removed_bindings() -> None:
    chg = changes([text("A"), text("B"), store("S")], [text("A"), text("C"), store("T")], {"A": "1", "B": "2"},
                  {"A": "1", "C": "3"})
    assert chg.added == ("C", "T") and chg.set_values == ("C",) and chg.rotated == ()
    assert chg.removed == ("B", "S") and chg.removed_store == ("S",) and chg.added_store == ("T",)
    assert chg.needs_settings


def test_removing_only_secret_text_stays_on_the_bulk_path() -> None:
    chg = changes([text("A"), text("B")], [text("A")], {"A": "1", "B": "2"}, {"A": "1"})
    assert chg.removed == ("B",) and chg.removed_store == () and not chg.needs_settings and not chg.empty


def test_type_changes_both_ways() -> None:
    chg = changes([text("A"), store("B")], [store("A"), text("B")], {"A": "1"}, {"B": "2"})
    assert chg.to_store == ("A",) and chg.to_text == ("B",) and chg.set_values == ("B",)
    assert chg.added == () and chg.needs_settings


@pytest.mark.parametrize("field,value", [("store_id", "0" * 31 + "e"), ("secret_name", "ELSEWHERE")])
def test_a_store_binding_pointing_elsewhere_is_repointed(field: str, value: str) -> None:
    chg = changes([store("A", **{field: value})], [store("A")], {}, {})
    assert chg.repointed == ("A",) and chg.needs_settings and not chg.empty


def test_an_external_binding_is_never_written_or_removed() -> None:
    ext = text("X", external=True)
    chg = changes([ext], [ext], {}, {})
    assert chg.empty and chg.set_values == ()
    chg = changes([ext], [], {}, {})
    assert chg.removed == () and chg.empty
    # Dropping `external` hands the binding to the plane: its value is written.
    chg = changes([ext], [text("X")], {}, {"X": "1"})
    assert chg.added == ("X",) and chg.set_values == ("X",)


def test_an_external_binding_listed_first_does_not_hide_the_others() -> None:
    olds = [text("X", external=True), text("A")]
    chg = changes(olds, olds, {"A": "1"}, {"A": "1*"})
    assert chg.rotated == ("A",) and chg.set_values == ("A",)


def test_changes_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Changes().rotated = ("A",)  # type: ignore[misc]


def test_primary_count_leaves_fallback_copies_out() -> None:
    chg = changes([], [store("A"), text("A_FALLBACK", role="fallback"), text("B")], {}, {})
    assert chg.primary_count == 2


# ---- the version message ----------------------------------------------------------------------

@pytest.mark.parametrize("chg,message", [
    (Changes(to_store=("A", "B"), added=("A", "B"), primary_count=2), "backend flip to store"),
    (Changes(to_text=("A", "B"), set_values=("A", "B"), primary_count=2), "backend flip to Worker secrets"),
    # A part of the Worker moves: not a flip.
    (Changes(to_store=("A",), primary_count=2), "move A to the store"),
    (Changes(to_store=("A",), added=("A",), primary_count=2), "move A to the store"),
    (Changes(to_text=("A",), set_values=("A",), primary_count=2), "move A to Worker secrets"),
    # All of it moves, with a rotation or a removal on the way: say each.
    (Changes(to_store=("A",), rotated=("B",), set_values=("B",), primary_count=1), "rotate B; move A to the store"),
    (Changes(to_text=("A",), removed=("B",), set_values=("A",), primary_count=1),
     "remove B; move A to Worker secrets"),
    (Changes(set_values=("C",), added=("C",), primary_count=3), "add C"),
    (Changes(repointed=("A",), primary_count=1), "repoint A"),
    (Changes(primary_count=1), "converge bindings"),
    (Changes(rotated=tuple(f"S{i}" for i in range(8)), primary_count=8), "rotate S0, S1, S2, S3, S4, S5 and 2 more"),
    (Changes(rotated=tuple(f"S{i}" for i in range(6)), primary_count=6), "rotate S0, S1, S2, S3, S4, S5"),
])
def test_the_message_names_the_change(chg: Changes, message: str) -> None:
    assert chg.message("prod") == f"secrets-plane: {message} (prod)"


# ---- the bulk path ------------------------------------------------------------------------------

def test_bulk_operations_set_the_changed_and_delete_the_removed() -> None:
    chg = Changes(set_values=("A",), removed=("B",))
    assert bulk_operations(chg, {"A": "1", "C": "3"}) == [("A", {"name": "A", "type": TEXT, "text": "1"}), ("B", None)]


# ---- the settings path ------------------------------------------------------------------------

def test_settings_write_sends_store_bindings_whole_and_inherits_the_rest() -> None:
    specs = [store("A"), text("B"), text("C")]
    live = {"B": {"name": "B", "type": TEXT}, "C": {"name": "C", "type": TEXT},
            "KV": {"name": "KV", "type": "kv_namespace"}, "A": {"name": "A", "type": TEXT}}
    chg = changes([text("A"), text("B"), text("C")], specs, {"A": "1", "B": "2", "C": "3"}, {"B": "2*", "C": "3"})
    write = settings_write(specs, {"B": "2*", "C": "3"}, live, chg, {"A", "B", "C"})
    sent = {b["name"]: b for b in write.bindings}
    assert sent == {"A": live_store("A"), "B": {"type": TEXT, "name": "B", "text": "2*"},
                    "C": {"type": INHERIT, "name": "C"}, "KV": {"type": INHERIT, "name": "KV"}}
    assert write.values_written == ["B"] and write.expect_inherited == ["KV"]
    assert set(write.expect_managed) == {"A", "B", "C"} and write.changes_live and write.needed


def test_settings_write_is_not_needed_when_the_live_worker_already_matches() -> None:
    specs = [store("A"), text("B")]
    live = {"A": live_store("A"), "B": {"name": "B", "type": TEXT}}
    chg = changes([text("A"), text("B")], specs, {"A": "1", "B": "2"}, {"B": "2"})
    write = settings_write(specs, {"B": "2"}, live, chg, {"A", "B"})
    assert not write.needed and write.values_written == [] and not write.changes_live


@pytest.mark.parametrize("drift", [{"store_id": "0" * 31 + "e"}, {"secret_name": "ELSEWHERE"}, {"type": TEXT}])
def test_settings_write_is_needed_when_a_live_store_binding_differs(drift: dict[str, str]) -> None:
    specs = [store("A")]
    live = {"A": {**live_store("A"), **drift}}
    write = settings_write(specs, {}, live, changes(specs, specs, {}, {}), {"A"})
    assert write.needed and write.bindings == [live_store("A")]


def test_settings_write_is_needed_to_remove_what_the_plane_no_longer_wants() -> None:
    live = {"A": live_store("A"), "OLD": {"name": "OLD", "type": TEXT}}
    chg = changes([store("A"), text("OLD")], [store("A")], {"OLD": "1"}, {})
    write = settings_write([store("A")], {}, live, chg, {"A", "OLD"})
    assert write.needed and "OLD" not in {b["name"] for b in write.bindings}


def test_settings_write_resends_a_value_the_worker_lacks() -> None:
    # The engine thinks B is there; a `wrangler deploy` dropped it: the write sends its value.
    specs = [store("A"), text("B")]
    chg = changes([store("A"), text("B")], specs, {"B": "2"}, {"B": "2"})
    write = settings_write(specs, {"B": "2"}, {"A": live_store("A")}, chg, {"A", "B"})
    assert write.values_written == ["B"] and {"type": TEXT, "name": "B", "text": "2"} in write.bindings


def test_an_external_binding_the_worker_lacks_does_not_stop_the_others() -> None:
    # The missing external binding comes first: every binding after it is still sent.
    specs = [text("X", external=True), store("A"), text("B")]
    live = {"B": {"name": "B", "type": TEXT}, "KV": {"name": "KV", "type": "kv_namespace"}}
    chg = changes([text("B")], specs, {"B": "2"}, {"B": "2"})
    write = settings_write(specs, {"B": "2"}, live, chg, {"B"})
    assert write.external_missing == ["X"]
    assert [b["name"] for b in write.bindings] == ["A", "B", "KV"]


def test_an_external_binding_present_is_inherited_and_expected_back() -> None:
    specs = [text("X", external=True), store("A")]
    live = {"X": {"name": "X", "type": TEXT}}
    write = settings_write(specs, {}, live, changes([], specs, {}, {}), set())
    assert {"type": INHERIT, "name": "X"} in write.bindings and write.expect_inherited == ["X"]
    assert "X" not in write.expect_managed and write.external_missing == []


@pytest.mark.parametrize("kind", ["kv_namespace", "plain_text", "service"])
def test_a_managed_name_taken_by_another_kind_of_binding_is_refused(kind: str) -> None:
    specs = [store("A")]
    with pytest.raises(BindingConflict, match=f"A \\(a {kind} binding\\)"):
        settings_write(specs, {}, {"A": {"name": "A", "type": kind}}, changes([], specs, {}, {}), set())


def test_a_secret_found_under_a_managed_name_is_taken_over() -> None:
    specs = [store("A")]
    write = settings_write(specs, {}, {"A": {"name": "A", "type": TEXT}}, changes([], specs, {}, {}), set())
    assert write.bindings == [live_store("A")]


def test_a_name_the_plane_managed_is_not_a_conflict_whatever_it_became() -> None:
    specs = [store("A")]
    write = settings_write(specs, {}, {"A": {"name": "A", "type": "plain_text"}}, changes(specs, specs, {}, {}), {"A"})
    assert write.bindings == [live_store("A")]


# ---- after a write ------------------------------------------------------------------------------

def test_missing_after_names_wrong_and_dropped_bindings() -> None:
    specs = [store("A"), store("B"), text("C")]
    live = {"KV": {"name": "KV", "type": "kv_namespace"}, "V": {"name": "V", "type": "plain_text"}}
    write = settings_write(specs, {"C": "3"}, live, changes([], specs, {}, {"C": "3"}), set())
    result = {"A": live_store("A"), "B": live_store("B", "WRONG"), "KV": live["KV"]}
    assert missing_after(write, result) == (["B", "C"], ["V"])
    everything = {**result, "B": live_store("B"), "C": {"name": "C", "type": TEXT}, "V": live["V"]}
    assert missing_after(write, everything) == ([], [])
    assert missing_after(write, {**everything, "C": {"name": "C", "type": "plain_text"}}) == (["C"], [])


# ---- small rules --------------------------------------------------------------------------------

def test_live_matches_compares_type_store_and_secret_name() -> None:
    assert live_matches(live_store("A"), store("A"))
    assert not live_matches(None, store("A"))
    assert not live_matches(live_store("A", store_id="e"), store("A"))
    assert not live_matches(live_store("A", "OTHER"), store("A"))
    assert not live_matches({"name": "A", "type": TEXT}, store("A"))
    assert live_matches({"name": "A", "type": TEXT}, text("A"))


def test_same_specs_ignores_order_but_not_pointers_or_ownership() -> None:
    assert same_specs([text("A"), store("B")], [store("B"), text("A")])
    assert same_specs(None, [])
    assert not same_specs([store("B")], [store("B", "OTHER")])
    assert not same_specs([text("A")], [text("A", external=True)])
    assert not same_specs([text("A")], [text("A"), text("B")])


def test_public_drops_values_and_empty_fields() -> None:
    assert public({"name": "A", "type": TEXT, "text": "v", "json": {}, "namespace_id": None}) == {"name": "A", "type": TEXT}
    assert public({"name": "P", "type": "plain_text", "text": "shown by the API"}) == {"name": "P", "type": "plain_text"}


@pytest.mark.parametrize("message", ["secrets-plane: rotate A (prod)", "x" * ANNOTATION_MESSAGE_MAX_BYTES,
                                     "x" * (ANNOTATION_MESSAGE_MAX_BYTES + 1), "é" * ANNOTATION_MESSAGE_MAX_BYTES])
def test_annotations_fit_their_limits_and_say_when_cut(message: str) -> None:
    notes = version_annotations(message)
    sent = notes["workers/message"].encode()
    assert notes["workers/tag"] == "secrets-plane"
    if len(message.encode()) <= ANNOTATION_MESSAGE_MAX_BYTES:
        assert notes["workers/message"] == message
    else:
        assert notes["workers/message"].endswith("...") and message.startswith(notes["workers/message"][:-3])
        # Cut at a character boundary, as close to the limit as that allows (é is two bytes).
        assert (len(sent) == ANNOTATION_MESSAGE_MAX_BYTES if message.isascii()
                else ANNOTATION_MESSAGE_MAX_BYTES - 1 <= len(sent) <= ANNOTATION_MESSAGE_MAX_BYTES)
