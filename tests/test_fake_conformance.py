"""The fake API against the official SDK's typed models (generated from Cloudflare's OpenAPI spec):
every JSON response the fake returns while a realistic session runs is parsed with the model of
its endpoint, so the fake cannot drift from the spec unnoticed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cloudflare.types.secrets_store.quota_get_response import QuotaGetResponse
from cloudflare.types.secrets_store.store_list_response import StoreListResponse
from cloudflare.types.secrets_store.stores.secret_create_response import SecretCreateResponse
from cloudflare.types.secrets_store.stores.secret_edit_response import SecretEditResponse
from cloudflare.types.secrets_store.stores.secret_get_response import SecretGetResponse
from cloudflare.types.secrets_store.stores.secret_list_response import SecretListResponse as StoreSecretListResponse
from cloudflare.types.shared.response_info import ResponseInfo
from cloudflare.types.workers.script_list_response import ScriptListResponse
from cloudflare.types.workers.script_setting import ScriptSetting
from cloudflare.types.workers.scripts.deployment import Deployment
from cloudflare.types.workers.scripts.deployment_list_response import DeploymentListResponse
from cloudflare.types.workers.scripts.script_and_version_setting_edit_response import (
    ScriptAndVersionSettingEditResponse,
)
from cloudflare.types.workers.scripts.script_and_version_setting_get_response import Binding as SettingsBinding
from cloudflare.types.workers.scripts.script_and_version_setting_get_response import (
    CacheOptions,
    Placement,
    ScriptAndVersionSettingGetResponse,
)
from cloudflare.types.workers.scripts.secret_bulk_update_response import SecretBulkUpdateResponse
from cloudflare.types.workers.scripts.secret_list_response import SecretListResponse
from cloudflare.types.workers.scripts.secret_update_response import SecretUpdateResponse
from cloudflare.types.workers.scripts.version_get_response import Metadata as VersionMetadata
from cloudflare.types.workers.scripts.version_get_response import ResourcesScript, ResourcesScriptRuntime
from cloudflare.types.workers.scripts.version_list_response import VersionListResponse
from conftest import ACCOUNT, ROOT, STORE_ID
from fake_cloudflare import Fault
from provider_host import HostError
from pydantic import TypeAdapter
from test_in_flight import rotated
from test_rollout_copies import MODULES, RUNTIME
from test_worker_bindings import UNMANAGED, legacy_props, seed_store, store_props

from stacks.api.client import make_client
from stacks.core.estate import load_estate
from stacks.live.account import LiveAccount
from stacks.live.adopt_store import adoptions
from stacks.live.canary import run_canary

S = r"/accounts/[^/]+/workers/scripts/[^/]+"
BINDINGS = TypeAdapter(list[SettingsBinding])
PLACEMENT = TypeAdapter(Placement)


def _version(result: dict[str, Any]) -> None:
    # The SDK's VersionGetResponse cannot hold bindings (its ResourcesBindings is not a model):
    # check the metadata with the SDK's model and each binding with the settings' binding union;
    # the per-version settings with the models of `resources.script` and `script_runtime`, and a
    # placement object with the settings' Placement union.
    VersionMetadata.model_validate(result["metadata"])
    assert isinstance(result["id"], str) and isinstance(result["number"], int)
    BINDINGS.validate_python(result["resources"]["bindings"])
    if "script" in result["resources"]:
        ResourcesScript.model_validate(result["resources"]["script"])
        ResourcesScriptRuntime.model_validate(result["resources"]["script_runtime"])
        if "placement" in result["resources"]["script"]:
            PLACEMENT.validate_python(result["resources"]["script"]["placement"])
    if "cache_options" in result:
        CacheOptions.model_validate(result["cache_options"])


MODELS: list[tuple[str, str, Any]] = [
    ("GET", S + "/settings", ScriptAndVersionSettingGetResponse),
    ("GET", S + "/script-settings", ScriptSetting),
    ("PATCH", S + "/script-settings", ScriptSetting),
    ("PATCH", S + "/settings", ScriptAndVersionSettingEditResponse),
    ("PATCH", S + "/secrets-bulk", SecretBulkUpdateResponse),
    ("PUT", S + "/secrets", SecretUpdateResponse),
    ("GET", S + "/secrets", list[SecretListResponse]),
    ("GET", S + "/versions", "items"),
    ("GET", S + "/versions/[^/]+", _version),
    ("POST", S + "/versions", _version),
    ("GET", S + "/deployments", DeploymentListResponse),
    ("GET", r"/accounts/[^/]+/workers/scripts", list[ScriptListResponse]),
    ("GET", r"/accounts/[^/]+/secrets_store/quota", QuotaGetResponse),
    ("POST", S + "/deployments", Deployment),
    ("GET", r"/accounts/[^/]+/secrets_store/stores", list[StoreListResponse]),
    ("GET", r"/accounts/[^/]+/secrets_store/stores/[^/]+/secrets", list[StoreSecretListResponse]),
    ("POST", r"/accounts/[^/]+/secrets_store/stores/[^/]+/secrets", list[SecretCreateResponse]),
    ("GET", r"/accounts/[^/]+/secrets_store/stores/[^/]+/secrets/[^/]+", SecretGetResponse),
    ("PATCH", r"/accounts/[^/]+/secrets_store/stores/[^/]+/secrets/[^/]+", SecretEditResponse),
    ("DELETE", r"/accounts/[^/]+/secrets_store/stores/[^/]+/secrets/[^/]+", None),
    ("DELETE", S + r"/secrets/[^/]+", None),
]


def check(method: str, path: str, status: int, payload: Any) -> str:
    """Validate one response; returns the route it matched."""
    assert set(payload) >= {"result", "success", "errors", "messages"}, "the v4 envelope"
    for error in payload["errors"]:
        ResponseInfo.model_validate(error)
    assert payload["success"] is (status < 400)
    for route_method, pattern, model in MODELS:
        if route_method == method and re.fullmatch(pattern, path):
            if status >= 400 or model is None:
                return pattern
            result = payload["result"]
            if model == "items":
                for item in result["items"]:
                    VersionListResponse.model_validate(item)
                assert {"page", "per_page"} <= set(payload["result_info"])
            elif model is _version:
                _version(result)
            else:
                # TypeAdapter takes models, lists of models and the SDK's Union aliases alike.
                TypeAdapter(model).validate_python(result)
            return pattern
    raise AssertionError(f"no SDK model for {method} {path}")


def test_every_response_of_a_realistic_session_parses_with_the_sdk_models(fake, host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake.base_url)
    # Scripts, store, secrets: each write path, refresh, delete, a Worker in flight, errors.
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    fake.add_script(ACCOUNT, "g", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    state, _ = host.up("w", state, rotated("w"))
    state, _ = host.up("w", state, store_props("w", ["A", "B"]))
    host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    g, _ = host.up("g", None, legacy_props("g", ["A", "B"]))
    fake.upload_version(ACCOUNT, "g", runtime=RUNTIME, modules=MODULES)
    host.up("g", g, rotated("g"))
    with pytest.raises(HostError):
        host.up("ghost", None, legacy_props("ghost", ["A"]))
    fake.faults.append(Fault("GET", r"/scripts/w/settings$", status=503, times=1))
    host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    host.delete("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    client = make_client()
    created = list(client.secrets_store.stores.secrets.create(STORE_ID, account_id=ACCOUNT,
                                                              body=[{"name": "C", "value": "v", "scopes": ["workers"]}]))
    client.secrets_store.stores.secrets.get(created[0].id, store_id=STORE_ID, account_id=ACCOUNT)
    client.secrets_store.stores.secrets.edit(created[0].id, store_id=STORE_ID, account_id=ACCOUNT, value="v2")
    client.secrets_store.stores.secrets.delete(created[0].id, store_id=STORE_ID, account_id=ACCOUNT)
    client.workers.scripts.secrets.update("g", account_id=ACCOUNT, name="X", text="x", type="secret_text")
    list(client.workers.scripts.secrets.list("g", account_id=ACCOUNT))
    client.workers.scripts.secrets.delete("X", account_id=ACCOUNT, script_name="g")
    client.workers.scripts.settings.edit("g", account_id=ACCOUNT, logpush=True)
    client.workers.scripts.settings.get("g", account_id=ACCOUNT)
    client.workers.scripts.script_and_version_settings.get("g", account_id=ACCOUNT)
    live = LiveAccount(ACCOUNT)
    desired = load_estate(ROOT).desired_state("staging", "store")
    run_canary(desired, live, {}, wait_s=0)
    adoptions(desired, live)
    live.scripts()
    live.store_quota()

    routes = {check(method, path, status, payload) for method, path, status, payload in fake.responses
              if isinstance(payload, dict)}
    assert any(status >= 400 for _, _, status, _ in fake.responses), "error envelopes were checked too"
    assert routes >= {pattern for _, pattern, model in MODELS if model is not None}, "every modelled endpoint was hit"
