"""AI Gateway BYOK keys through the real dynamic-provider host against the fake API: two keys on
one gateway make their named store secrets and provider configs; a rotation changes only the
secret's value; a config deleted in the dashboard is recreated; a config the plane does not
manage is left alone and reported (and one on the same provider and alias refuses the create);
a dashboard-made config that points at the named secret is adopted; the flip and a phased step
declare the keys exactly as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, STORE_ID, canary, host_env
from fake_cloudflare import FakeCloudflare
from provider_host import HostError, ProviderHost
from pulumi.dynamic.dynamic import serialize_provider
from test_byok_manifest import key
from test_estate_rules import STORE, secret, write

from stacks.core.estate import load_estate
from stacks.core.naming import BYOK_TYPE, byok_resource
from stacks.resources.component import byok_inputs
from stacks.resources.gateway_keys import GatewayProviderKeyProvider

GATEWAY = "gw-prod"


class ByokHost(ProviderHost):
    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        self.provider_blob = serialize_provider(GatewayProviderKeyProvider())

    @staticmethod
    def urn(name: str) -> str:
        return f"urn:pulumi:test::secrets-plane::secrets-plane:index:SecretsPlane${BYOK_TYPE}::{name}"


@pytest.fixture
def byok_host(fake: FakeCloudflare) -> Iterator[ByokHost]:
    h = ByokHost(host_env(fake))
    yield h
    h.close()


def estate_with_keys(tmp: Path, backend: str = "legacy", worker_backend: str | None = None) -> Any:
    worker: dict[str, Any] = {"script_name": "api-{stack}", "stacks": ["prod"], "secrets": ["OPENAI_API_KEY"]}
    if worker_backend:
        worker["backend"] = worker_backend
    manifest = {"secrets": {"OPENAI_API_KEY": secret(scopes=["ai_gateway", "workers"],
                                                     gateways={"prod": [key(GATEWAY, "openai")]}),
                            "ANTHROPIC_API_KEY": secret(gateways={"prod": [key(GATEWAY, "anthropic")]})},
                "workers": {"api": worker}}
    path = write(tmp, manifest, {"prod": STORE})
    text = (path / "secrets_manifest.yaml").read_text().replace("backend: legacy", f"backend: {backend}")
    (path / "secrets_manifest.yaml").write_text(text)
    return load_estate(path)


def props_of(estate: Any, values: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """What the component declares for each key, as the engine would send it to the provider."""
    desired = estate.desired_state("prod")
    values = values or {}
    return {byok_resource(k.gateway_id, k.provider_slug, k.alias):
            {**byok_inputs(desired, k), "account_id": ACCOUNT, "store_id": STORE_ID,
             "value": values.get(k.secret, canary(k.secret))}
            for k in desired.byok_keys}


def live_configs(fake: FakeCloudflare, gateway: str = GATEWAY) -> dict[str, dict[str, Any]]:
    return {f"{c['provider_slug']}/{c['alias']}": c for c in fake.provider_configs[(ACCOUNT, gateway)].values()}


def up_all(host: ByokHost, props: dict[str, dict[str, Any]],
           states: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    states = dict(states or {})
    actions = {}
    for name, p in props.items():
        states[name], actions[name] = host.up(name, states.get(name), p)
    return states, actions


@pytest.fixture
def account(fake: FakeCloudflare) -> FakeCloudflare:
    fake.add_store(ACCOUNT, STORE_ID)
    fake.add_gateway(ACCOUNT, GATEWAY, store_id=STORE_ID)
    return fake


def test_two_keys_on_one_gateway_make_their_named_secrets_and_configs(account: FakeCloudflare, byok_host: ByokHost,
                                                                      tmp_path: Path) -> None:
    states, actions = up_all(byok_host, props_of(estate_with_keys(tmp_path)))
    assert set(actions.values()) == {"create"}
    configs = live_configs(account)
    assert sorted(configs) == ["anthropic/default", "openai/default"]
    for provider, secret_name in (("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")):
        named = account.store_secret_named(STORE_ID, f"{GATEWAY}_{provider}_default")
        assert named is not None and named.scopes == ["ai_gateway"]
        assert named.value == canary(secret_name)
        assert configs[f"{provider}/default"]["secret_id"] == named.id
        assert configs[f"{provider}/default"]["default_config"] is True
    # The value reached the store secret only: never a config, never the state beside `value`.
    sent = [json.loads(r.body) for r in account.requests if "provider_configs" in r.path and r.body]
    assert sent and all("secret" not in body for body in sent)
    for state in states.values():
        assert canary("OPENAI_API_KEY") not in json.dumps({k: v for k, v in state.items() if k != "value"})
        assert state["unmanaged"] == []
    # Nothing changed: no call at all.
    calls = len(account.calls)
    _, actions = up_all(byok_host, props_of(estate_with_keys(tmp_path)), states)
    assert set(actions.values()) == {"same"} and len(account.calls) == calls


def test_a_rotation_changes_only_the_secret_value(account: FakeCloudflare, byok_host: ByokHost, tmp_path: Path) -> None:
    estate = estate_with_keys(tmp_path)
    states, _ = up_all(byok_host, props_of(estate))
    configs_before = json.dumps(live_configs(account), sort_keys=True)
    calls = len(account.calls)
    new = canary("OPENAI_API_KEY") + "-rotated"
    states, actions = up_all(byok_host, props_of(estate, {"OPENAI_API_KEY": new}), states)
    assert actions == {byok_resource(GATEWAY, "anthropic", "default"): "same",
                       byok_resource(GATEWAY, "openai", "default"): "update"}
    assert account.calls[calls:] == [("PATCH", f"/accounts/{ACCOUNT}/secrets_store/stores/{STORE_ID}/secrets/"
                                               f"{live_configs(account)['openai/default']['secret_id']}")]
    assert account.store_secret_named(STORE_ID, f"{GATEWAY}_openai_default").value == new  # type: ignore[union-attr]
    assert json.dumps(live_configs(account), sort_keys=True) == configs_before
    assert account.scripts == {}  # no Worker at all


def test_a_config_deleted_in_the_dashboard_is_recreated(account: FakeCloudflare, byok_host: ByokHost,
                                                        tmp_path: Path) -> None:
    props = props_of(estate_with_keys(tmp_path))
    states, _ = up_all(byok_host, props)
    name = byok_resource(GATEWAY, "openai", "default")
    gone = live_configs(account)["openai/default"]
    # What the dashboard's delete does: the config, and its secret with it.
    del account.provider_configs[(ACCOUNT, GATEWAY)][gone["id"]]
    del account.store_secrets[STORE_ID][gone["secret_id"]]
    state = states[name]
    _, refreshed = byok_host.read(name, state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert refreshed["drift"] == [f"store secret '{GATEWAY}_openai_default' is gone", "provider config is gone"]
    states[name] = {**refreshed, "_id": state["_id"]}
    states, actions = up_all(byok_host, props, states)
    assert actions[name] == "update"
    again = live_configs(account)["openai/default"]
    named = account.store_secret_named(STORE_ID, f"{GATEWAY}_openai_default")
    assert named is not None and again["secret_id"] == named.id and named.value == canary("OPENAI_API_KEY")
    assert states[name]["config_id"] == again["id"] and states[name]["drift"] == []


def test_an_unmanaged_config_is_left_alone_and_reported(account: FakeCloudflare, byok_host: ByokHost,
                                                        tmp_path: Path) -> None:
    account.seed_store(ACCOUNT, STORE_ID, ["hand-made"])
    theirs = account.store_secret_named(STORE_ID, "hand-made")
    assert theirs is not None
    other = account.add_provider_config(ACCOUNT, GATEWAY, "groq", "default", theirs.id)
    before = dict(other)
    states, _ = up_all(byok_host, props_of(estate_with_keys(tmp_path)))
    assert live_configs(account)["groq/default"] == before
    assert account.store_secrets[STORE_ID][theirs.id] is theirs and theirs.value == ""
    for state in states.values():
        assert state["unmanaged"] == [f"groq/default ({other['id']})"]
    assert not [r for r in account.requests if other["id"] in r.path]


def test_an_unmanaged_config_on_the_same_provider_and_alias_refuses_the_create(account: FakeCloudflare,
                                                                               byok_host: ByokHost,
                                                                               tmp_path: Path) -> None:
    account.seed_store(ACCOUNT, STORE_ID, ["someone-elses"])
    theirs = account.store_secret_named(STORE_ID, "someone-elses")
    assert theirs is not None
    other = account.add_provider_config(ACCOUNT, GATEWAY, "openai", "default", theirs.id)
    props = props_of(estate_with_keys(tmp_path))
    name = byok_resource(GATEWAY, "openai", "default")
    writes = len([c for c in account.calls if c[0] != "GET"])
    with pytest.raises(HostError) as failed:
        byok_host.up(name, None, props[name])
    assert f"provider config for 'openai/default' (id {other['id']})" in failed.value.details
    assert "never touches a config it does not manage" in failed.value.details
    assert "Nothing was written" in failed.value.details
    assert canary("OPENAI_API_KEY") not in failed.value.details
    assert len([c for c in account.calls if c[0] != "GET"]) == writes
    assert account.store_secret_named(STORE_ID, f"{GATEWAY}_openai_default") is None


def test_a_config_made_in_the_dashboard_for_the_named_secret_is_adopted(account: FakeCloudflare, byok_host: ByokHost,
                                                                        tmp_path: Path) -> None:
    # The dashboard's Provider Keys: the named secret and a config pointing at it.
    account.seed_store(ACCOUNT, STORE_ID, [f"{GATEWAY}_openai_default"])
    named = account.store_secret_named(STORE_ID, f"{GATEWAY}_openai_default")
    assert named is not None
    made = account.add_provider_config(ACCOUNT, GATEWAY, "openai", "default", named.id)
    props = props_of(estate_with_keys(tmp_path))
    name = byok_resource(GATEWAY, "openai", "default")
    state, action = byok_host.up(name, None, props[name])
    assert action == "create" and state["config_id"] == made["id"] and state["secret_id"] == named.id
    assert state["last_apply"]["path"] == "adopt"
    assert len(account.provider_configs[(ACCOUNT, GATEWAY)]) == 1
    assert named.value == canary("OPENAI_API_KEY") and named.scopes == ["ai_gateway"]


def test_a_gateway_without_the_stacks_store_is_refused_before_any_write(fake: FakeCloudflare, byok_host: ByokHost,
                                                                        tmp_path: Path) -> None:
    fake.add_store(ACCOUNT, STORE_ID)
    fake.add_gateway(ACCOUNT, GATEWAY, store_id=None)
    props = props_of(estate_with_keys(tmp_path))
    name = byok_resource(GATEWAY, "openai", "default")
    with pytest.raises(HostError) as failed:
        byok_host.up(name, None, props[name])
    assert "reads its keys from no store" in failed.value.details and "attach the stack's store" in failed.value.details
    assert [m for m, _ in fake.calls] == ["GET"]


@pytest.mark.parametrize("backend, worker_backend", [("store", None), ("legacy", "store")])
def test_the_flip_and_a_phased_step_keep_the_keys_as_they_are(account: FakeCloudflare, byok_host: ByokHost,
                                                              tmp_path: Path, backend: str,
                                                              worker_backend: str | None) -> None:
    before = props_of(estate_with_keys(tmp_path))
    states, _ = up_all(byok_host, before)
    configs = json.dumps(live_configs(account), sort_keys=True)
    after = props_of(estate_with_keys(tmp_path, backend, worker_backend))
    assert after == before
    calls = len(account.calls)
    _, actions = up_all(byok_host, after, states)
    assert set(actions.values()) == {"same"} and len(account.calls) == calls
    assert json.dumps(live_configs(account), sort_keys=True) == configs
    # After the flip the binding's own store secret keeps its name beside the BYOK key's.
    desired = estate_with_keys(tmp_path, backend, worker_backend).desired_state("prod")
    openai = desired.store_secret("OPENAI_API_KEY")
    assert openai is not None and openai.store_secret_name == "OPENAI_API_KEY"
    assert [k.store_secret_name for k in desired.byok_for("OPENAI_API_KEY")] == [f"{GATEWAY}_openai_default"]


def test_delete_removes_the_config_and_its_secret(account: FakeCloudflare, byok_host: ByokHost, tmp_path: Path) -> None:
    states, _ = up_all(byok_host, props_of(estate_with_keys(tmp_path)))
    for name, state in states.items():
        byok_host.delete(name, state["_id"], {k: v for k, v in state.items() if k != "_id"})
    assert live_configs(account) == {}
    assert account.store_secret_named(STORE_ID, f"{GATEWAY}_openai_default") is None


@pytest.mark.parametrize("backend", ["legacy", "store"])
def test_the_program_declares_each_key_on_every_backend_with_its_value_secret(tmp_path: Path, backend: str) -> None:
    import shutil

    from conftest import CANARY_PREFIX, ROOT

    from stacks.resources.offline import is_secret, redact, reveal, run_program

    estate_with_keys(tmp_path, backend)
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    config = {"secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID},
              "secrets-plane:values": {n: canary(n) for n in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}}
    result = run_program(tmp_path, "prod", config, ["secrets-plane:values"])
    keys = {r.name: r for r in result.of_type(BYOK_TYPE)}
    assert sorted(keys) == [byok_resource(GATEWAY, "anthropic", "default"), byok_resource(GATEWAY, "openai", "default")]
    for res in keys.values():
        assert is_secret(res.inputs["value"]) and res.additional_secret_outputs == ["value"]
        assert reveal(res.inputs["value"]) == canary(res.inputs["secret"])
        assert res.inputs["store_id"] == STORE_ID and res.inputs["managed"] == ["anthropic/default", "openai/default"]
        assert CANARY_PREFIX not in json.dumps(redact({k: v for k, v in res.inputs.items() if k != "value"}))
    # The binding's own store secret (after the flip) keeps its name beside the key's.
    names = sorted(r.inputs["name"] for r in result.of_type("cloudflare:index/secretsStoreSecret:SecretsStoreSecret"))
    assert names == (["OPENAI_API_KEY"] if backend == "store" else [])
