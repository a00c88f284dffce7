"""WorkerSecretBindings through the real dynamic-provider host against the fake Cloudflare API."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ACCOUNT, CANARY_PREFIX, STORE_ID, canary
from provider_host import HostError
from pulumi.runtime.proto import provider_pb2

UNMANAGED = [
    {"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv1"},
    {"type": "durable_object_namespace", "name": "ROOMS", "class_name": "Room", "script_name": "other-worker"},
    {"type": "secret_text", "name": "SENTRY_DSN", "text": "set-by-wrangler"},
    {"type": "plain_text", "name": "ENVIRONMENT", "text": "staging"},
]


def legacy_props(script: str, secrets: list[str], worker: str = "api") -> dict[str, Any]:
    return {
        "account_id": ACCOUNT, "script_name": script, "worker": worker,
        "bindings": [{"name": s, "type": "secret_text", "secret": s} for s in secrets],
        "values": {s: canary(s) for s in secrets},
    }


def store_props(script: str, secrets: list[str], worker: str = "api") -> dict[str, Any]:
    return {
        "account_id": ACCOUNT, "script_name": script, "worker": worker,
        "bindings": [{"name": s, "type": "secrets_store_secret", "secret": s, "store_id": STORE_ID,
                      "secret_name": f"{s}_STAGING"} for s in secrets],
        "values": {},
    }


def unmanaged_unchanged(fake, script: str) -> bool:  # type: ignore[no-untyped-def]
    live = fake.bindings(ACCOUNT, script)
    return all(live.get(b["name"]) == b for b in UNMANAGED)


def test_create_writes_once_and_inherits_every_unmanaged_binding(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "ascend-v5", UNMANAGED)
    state, action = host.up("ascend-v5", None, legacy_props("ascend-v5", ["A", "B"]))
    assert action == "create"
    assert fake.settings_writes("ascend-v5") == 1 and fake.versions()["ascend-v5"] == 2
    live = fake.bindings(ACCOUNT, "ascend-v5")
    assert live["A"] == {"type": "secret_text", "name": "A", "text": canary("A")}
    assert unmanaged_unchanged(fake, "ascend-v5")
    assert state["unmanaged"] == sorted(b["name"] for b in UNMANAGED)
    # The write sent unmanaged bindings back as bare inherit entries, never their content.
    body = fake.traffic().decode(errors="replace")
    assert '"type": "inherit", "name": "ROOMS"' in body or '"name": "ROOMS", "type": "inherit"' in body
    assert "set-by-wrangler" not in body and "other-worker" not in body


def test_rotation_add_remove_flip_and_back_each_one_write(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    id_before = state["_id"]

    rotated = legacy_props("w", ["A", "B"])
    rotated["values"]["A"] = canary("A-rotated")
    state, action = host.up("w", state, rotated)
    assert action == "update" and fake.settings_writes("w") == 2
    assert fake.bindings(ACCOUNT, "w")["A"]["text"] == canary("A-rotated")
    assert state["value_changed_at"]["B"] <= state["value_changed_at"]["A"]

    added = legacy_props("w", ["A", "B", "C"])
    added["values"]["A"] = canary("A-rotated")
    state, action = host.up("w", state, added)
    assert action == "update" and fake.settings_writes("w") == 3
    assert set(fake.bindings(ACCOUNT, "w")) >= {"A", "B", "C"}

    removed = legacy_props("w", ["A", "C"])
    removed["values"]["A"] = canary("A-rotated")
    state, action = host.up("w", state, removed)
    assert action == "update" and fake.settings_writes("w") == 4
    assert "B" not in fake.bindings(ACCOUNT, "w")

    state, action = host.up("w", state, store_props("w", ["A", "C"]))
    assert action == "update" and fake.settings_writes("w") == 5
    live = fake.bindings(ACCOUNT, "w")
    assert live["A"] == {"type": "secrets_store_secret", "name": "A", "store_id": STORE_ID, "secret_name": "A_STAGING"}
    assert state["_id"] == id_before

    state, action = host.up("w", state, legacy_props("w", ["A", "C"]))
    assert action == "update" and fake.settings_writes("w") == 6
    assert fake.bindings(ACCOUNT, "w")["A"]["type"] == "secret_text"
    assert unmanaged_unchanged(fake, "w")
    assert fake.versions()["w"] == 1 + 6


def test_diff_never_replaces_on_the_flip(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    olds = {k: v for k, v in state.items() if k != "_id"}
    diff = host.diff("w", state["_id"], olds, store_props("w", ["A"]))
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.replaces) == []
    same = host.diff("w", state["_id"], olds, legacy_props("w", ["A"]))
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE


def test_noop_apply_writes_nothing(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, store_props("w", ["A", "B"]))
    writes = fake.settings_writes()
    state, action = host.up("w", state, store_props("w", ["A", "B"]))
    assert action == "same" and fake.settings_writes() == writes


def test_delete_removes_only_managed_bindings(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    host.delete("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert set(fake.bindings(ACCOUNT, "w")) == {b["name"] for b in UNMANAGED}
    assert unmanaged_unchanged(fake, "w")
    assert fake.settings_writes("w") == 2


def test_delete_of_a_gone_worker_is_a_noop(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A"]))
    del fake.scripts[(ACCOUNT, "w")]
    host.delete("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})


def test_read_reports_drift_and_next_up_repairs_it(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    state, _ = host.up("w", None, store_props("w", ["A", "B"]))
    # `wrangler deploy` without secrets_store_secrets in its config drops the store bindings.
    script = fake.scripts[(ACCOUNT, "w")]
    script.bindings = [b for b in script.bindings if b["name"] != "B"]
    id_, refreshed = host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert id_ == state["_id"]
    assert [b["name"] for b in refreshed["bindings"]] == ["A"]
    refreshed.pop("__provider")
    state2, action = host.up("w", {**refreshed, "_id": id_}, store_props("w", ["A", "B"]))
    assert action == "update"
    assert fake.bindings(ACCOUNT, "w")["B"]["secret_name"] == "B_STAGING"
    assert unmanaged_unchanged(fake, "w")


def test_read_of_wrong_type_shows_the_live_type(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, store_props("w", ["A"]))
    fake.scripts[(ACCOUNT, "w")].bindings = [{"type": "secret_text", "name": "A", "text": "x"}]
    _, refreshed = host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert refreshed["bindings"] == [{"name": "A", "type": "secret_text", "secret": "A"}]


def test_read_of_a_deleted_worker_drops_the_resource(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, store_props("w", ["A"]))
    del fake.scripts[(ACCOUNT, "w")]
    id_, _ = host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert id_ == ""


def test_missing_worker_is_a_clear_error_without_values(fake, host):  # type: ignore[no-untyped-def]
    with pytest.raises(HostError) as info:
        host.up("ghost", None, legacy_props("ghost", ["A"], worker="scheduler"))
    message = info.value.details.strip().splitlines()[-1]
    assert "Worker 'scheduler' (script 'ghost')" in message
    assert "not found (404)" in message and "workers.scheduler.script_name" in message
    assert CANARY_PREFIX not in info.value.details
    assert fake.settings_writes() == 0


def test_provider_outputs_hold_values_only_under_the_secret_name(fake, host):  # type: ignore[no-untyped-def]
    fake.add_script(ACCOUNT, "w", [])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    public = {k: v for k, v in state.items() if k != "values"}
    assert CANARY_PREFIX not in repr(public)
    assert host.stderr_tail == b"" or CANARY_PREFIX.encode() not in host.stderr_tail
