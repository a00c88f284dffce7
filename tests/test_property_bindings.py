"""Property: for random existing and desired binding sets, after apply the managed bindings equal
the desired ones and every other binding is unchanged (provider code in-process, fake API)."""

from __future__ import annotations

import os
from typing import Any

from conftest import ACCOUNT, STORE_ID
from fake_cloudflare import FakeCloudflare
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.resources.worker_bindings import WorkerSecretBindingsProvider

NAMES = [f"B{i}" for i in range(8)]
OTHER_TYPES = [
    {"type": "kv_namespace", "namespace_id": "kv"},
    {"type": "plain_text", "text": "v"},
    {"type": "secret_text", "text": "from-wrangler"},
    {"type": "durable_object_namespace", "class_name": "C", "script_name": "other"},
]

existing_st = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(range(len(OTHER_TYPES))), max_size=6)
desired_st = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["secret_text", "secrets_store_secret"]), max_size=6)

_fake: FakeCloudflare | None = None


def fake() -> FakeCloudflare:
    global _fake
    if _fake is None:
        _fake = FakeCloudflare().start()
        os.environ["CLOUDFLARE_API_TOKEN"] = "prop"
        os.environ["CLOUDFLARE_BASE_URL"] = _fake.base_url
    return _fake


def props(desired: dict[str, str], tag: str) -> dict[str, Any]:
    specs = []
    for name, kind in sorted(desired.items()):
        spec: dict[str, Any] = {"name": name, "type": kind, "secret": name}
        if kind == "secrets_store_secret":
            spec.update(store_id=STORE_ID, secret_name=f"{name}_S")
        specs.append(spec)
    values = {n: f"{tag}-{n}" for n, k in desired.items() if k == "secret_text"}
    return {"account_id": ACCOUNT, "script_name": "prop", "worker": "prop", "bindings": specs, "values": values}


def check(live: dict[str, dict[str, Any]], desired: dict[str, str], tag: str, unmanaged: dict[str, dict[str, Any]]) -> None:
    for name, kind in desired.items():
        assert live[name]["type"] == kind
        if kind == "secret_text":
            assert live[name]["text"] == f"{tag}-{name}"
        else:
            assert live[name]["secret_name"] == f"{name}_S"
    for name, binding in unmanaged.items():
        assert live[name] == binding


@settings(max_examples=120, deadline=None)
@given(existing_st, desired_st, desired_st)
def test_apply_then_update_converges_and_keeps_the_rest(existing: dict[str, int], first: dict[str, str],
                                                         second: dict[str, str]) -> None:
    api = fake()
    seeded = [{"name": n, **OTHER_TYPES[t]} for n, t in sorted(existing.items())]
    api.add_script(ACCOUNT, "prop", seeded)
    provider = WorkerSecretBindingsProvider()
    created = provider.create(props(first, "one"))
    outs = created.outs or {}
    unmanaged = {b["name"]: b for b in seeded if b["name"] not in first}
    check(api.bindings(ACCOUNT, "prop"), first, "one", unmanaged)

    updated = provider.update(created.id, outs, props(second, "two"))
    live = api.bindings(ACCOUNT, "prop")
    # Bindings managed before and no longer desired are gone; the rest is exactly as it was.
    for name in set(first) - set(second):
        assert name not in live
    still_unmanaged = {n: b for n, b in unmanaged.items() if n not in second}
    check(live, second, "two", still_unmanaged)
    assert set(live) == set(second) | set(still_unmanaged)

    provider.delete(created.id, updated.outs or {})
    assert api.bindings(ACCOUNT, "prop") == still_unmanaged
