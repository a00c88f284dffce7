"""Every request the project makes and every answer the fake gives, held to the official SDK's
types (generated from Cloudflare's OpenAPI schema): a request field, a query parameter or a
response field that neither the SDK's request types nor its response models document fails the
test, unless it is on the allowlist (tests/undocumented.py), which cites where the behaviour is
documented instead and says what breaks without it. So the plane cannot come to rely on what the
API does not promise, and the fake cannot answer what the API would not."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from cloudflare.types.ai_gateway.ai_gateway_get_response import AIGatewayGetResponse
from cloudflare.types.ai_gateway.provider_config_create_params import ProviderConfigCreateParams
from cloudflare.types.ai_gateway.provider_config_create_response import ProviderConfigCreateResponse
from cloudflare.types.ai_gateway.provider_config_list_response import ProviderConfigListResponse
from cloudflare.types.secrets_store.quota_get_response import QuotaGetResponse
from cloudflare.types.secrets_store.store_get_response import StoreGetResponse
from cloudflare.types.secrets_store.store_list_params import StoreListParams
from cloudflare.types.secrets_store.store_list_response import StoreListResponse
from cloudflare.types.secrets_store.stores.secret_create_params import Body as StoreSecretBody
from cloudflare.types.secrets_store.stores.secret_create_response import SecretCreateResponse
from cloudflare.types.secrets_store.stores.secret_edit_params import SecretEditParams
from cloudflare.types.secrets_store.stores.secret_edit_response import SecretEditResponse
from cloudflare.types.secrets_store.stores.secret_get_response import SecretGetResponse
from cloudflare.types.secrets_store.stores.secret_list_params import SecretListParams
from cloudflare.types.secrets_store.stores.secret_list_response import SecretListResponse as StoreSecretListResponse
from cloudflare.types.shared.response_info import ResponseInfo
from cloudflare.types.workers.beta.worker import Worker as WorkersWorker
from cloudflare.types.workers.beta.worker_list_params import WorkerListParams
from cloudflare.types.workers.beta.workers.version import Version as WorkersVersion
from cloudflare.types.workers.beta.workers.version_create_params import VersionCreateParams
from cloudflare.types.workers.script_list_params import ScriptListParams
from cloudflare.types.workers.script_list_response import ScriptListResponse
from cloudflare.types.workers.script_setting import ScriptSetting
from cloudflare.types.workers.scripts.deployment import Deployment
from cloudflare.types.workers.scripts.deployment_create_params import DeploymentCreateParams
from cloudflare.types.workers.scripts.deployment_list_response import DeploymentListResponse
from cloudflare.types.workers.scripts.script_and_version_setting_edit_params import Settings
from cloudflare.types.workers.scripts.script_and_version_setting_edit_response import (
    ScriptAndVersionSettingEditResponse,
)
from cloudflare.types.workers.scripts.script_and_version_setting_get_response import (
    ScriptAndVersionSettingGetResponse,
)
from cloudflare.types.workers.scripts.secret_bulk_update_params import SecretBulkUpdateParams
from cloudflare.types.workers.scripts.secret_bulk_update_response import SecretBulkUpdateResponse
from cloudflare.types.workers.scripts.secret_list_response import SecretListResponse
from cloudflare.types.workers.scripts.secret_update_params import SecretUpdateParams
from cloudflare.types.workers.scripts.secret_update_response import SecretUpdateResponse
from cloudflare.types.workers.scripts.setting_edit_params import SettingEditParams
from conftest import ACCOUNT, ROOT, STORE_ID
from fake_cloudflare import FakeCloudflare, Fault, Request
from provider_host import HostError
from sdk_shapes import documented_keys, undocumented_in_request, undocumented_in_response
from test_in_flight import applied, rotated
from test_rollout_copies import MODULES, OLD_RUNTIME, rollout
from test_worker_bindings import UNMANAGED, legacy_props, seed_store, store_props
from undocumented import ALLOWED

from stacks.api.client import make_client
from stacks.core.estate import load_estate
from stacks.live.account import LiveAccount
from stacks.live.adopt_store import adoptions
from stacks.live.audit import build_audit
from stacks.live.canary import run_canary
from stacks.live.importer import draft_import
from stacks.live.preflight import run_preflight

A = r"/accounts/[^/]+"
S = A + r"/workers/scripts/[^/]+"
W = A + r"/workers/workers/[^/]+"
STORE = A + r"/secrets_store/stores/[^/]+"
GATEWAY = A + r"/ai-gateway/gateways/[^/]+"


@dataclass(frozen=True)
class Route:
    """One endpoint as the SDK documents it: its answer's model (None: no JSON body to check, or
    an answer with no result), the type of a JSON request body, and its query parameters."""

    method: str
    pattern: str
    response: Any
    body: Any = None
    body_kind: str = "json"   # json | list (a JSON array of `body`) | settings-part (multipart `settings`)
    query: tuple[str, ...] = ()
    # False: an endpoint Cloudflare's API reference documents that the SDK has no method for; its
    # shapes are checked against the nearest SDK types, and every call to it is a finding.
    in_sdk: bool = True


ROUTES = [
    Route("GET", S + "/settings", ScriptAndVersionSettingGetResponse),
    Route("PATCH", S + "/settings", ScriptAndVersionSettingEditResponse, Settings, "settings-part"),
    Route("GET", S + "/script-settings", ScriptSetting),
    Route("PATCH", S + "/script-settings", ScriptSetting, SettingEditParams),
    Route("PATCH", S + "/secrets-bulk", SecretBulkUpdateResponse, SecretBulkUpdateParams),
    Route("PUT", S + "/secrets", SecretUpdateResponse, SecretUpdateParams),
    Route("GET", S + "/secrets", list[SecretListResponse]),
    Route("DELETE", S + r"/secrets/[^/]+", None, query=("url_encoded",)),
    Route("GET", S + "/deployments", DeploymentListResponse),
    Route("POST", S + "/deployments", Deployment, DeploymentCreateParams, query=("force",)),
    # content.get has no parameters at all: `?version=` is not documented.
    Route("GET", S + "/content/v2", None),
    Route("GET", A + "/workers/scripts", list[ScriptListResponse], query=tuple(documented_keys(ScriptListParams,
                                                                                                ("account_id",)))),
    Route("GET", A + "/workers/workers", list[WorkersWorker],
          query=tuple(documented_keys(WorkerListParams, ("account_id",)))),
    Route("GET", W + "/versions", list[WorkersVersion], query=("page", "per_page")),
    Route("GET", W + r"/versions/[^/]+", WorkersVersion, query=("include",)),
    Route("POST", W + "/versions", WorkersVersion, VersionCreateParams, query=("deploy",)),
    Route("GET", A + "/secrets_store/quota", QuotaGetResponse),
    Route("GET", A + "/secrets_store/stores", list[StoreListResponse],
          query=tuple(documented_keys(StoreListParams, ("account_id",)))),
    Route("GET", STORE, StoreGetResponse),
    Route("GET", STORE + "/secrets", list[StoreSecretListResponse],
          query=tuple(documented_keys(SecretListParams, ("account_id",)))),
    Route("POST", STORE + "/secrets", list[SecretCreateResponse], StoreSecretBody, "list"),
    Route("GET", STORE + r"/secrets/[^/]+", SecretGetResponse),
    Route("PATCH", STORE + r"/secrets/[^/]+", SecretEditResponse, SecretEditParams),
    Route("DELETE", STORE + r"/secrets/[^/]+", None),
    Route("GET", GATEWAY, AIGatewayGetResponse),
    Route("GET", GATEWAY + "/provider_configs", list[ProviderConfigListResponse], query=("page", "per_page")),
    Route("POST", GATEWAY + "/provider_configs", ProviderConfigCreateResponse, ProviderConfigCreateParams),
    Route("PUT", GATEWAY + r"/provider_configs/[^/]+", ProviderConfigCreateResponse, ProviderConfigCreateParams,
          in_sdk=False),
    Route("DELETE", GATEWAY + r"/provider_configs/[^/]+", None, in_sdk=False),
]
PATH_AND_QUERY = ("account_id", "script_name", "store_id", "worker_id", "deploy", "force", "url_encoded", "gateway_id")


def route_of(method: str, path: str) -> Route:
    for route in ROUTES:
        if route.method == method and re.fullmatch(route.pattern, path):
            return route
    raise AssertionError(f"no SDK route for {method} {path}: add it to ROUTES with the SDK's types")


def _body(request: Request, route: Route) -> Any:
    if route.body_kind == "settings-part":
        from fake_cloudflare import _multipart_json

        return _multipart_json(request.body, request.content_type, "settings")
    return json.loads(request.body or b"null")


def findings_of_request(request: Request) -> list[str]:
    route = route_of(request.method, request.path)
    out = [f"?{key}" for key in request.query if key not in route.query]
    if not route.in_sdk:
        out.append(" (no SDK method)")
    if route.body is not None and request.body:
        body = _body(request, route)
        if route.body_kind == "list":
            out += undocumented_in_request(body, list[route.body])
        else:
            allowed = documented_keys(route.body, PATH_AND_QUERY)
            out += [f".{key}" for key in body if key not in allowed]
            out += [f for f in undocumented_in_request({k: v for k, v in body.items() if k in allowed}, route.body)]
    return [f"{route.method} {route.pattern} request{finding}" for finding in out]


def findings_of_response(method: str, path: str, status: int, payload: Any) -> list[str]:
    route = route_of(method, path)
    if not isinstance(payload, dict):
        return []  # a file (content/v2): no JSON to check
    assert set(payload) >= {"result", "success", "errors", "messages"}, "the v4 envelope"
    assert payload["success"] is (status < 400)
    out = []
    for error in payload["errors"]:
        out += undocumented_in_response(error, ResponseInfo)
    if status < 400 and route.response is not None:
        out += undocumented_in_response(payload["result"], route.response)
        if "result_info" in payload:
            assert {"page", "per_page"} <= set(payload["result_info"])
    return [f"{route.method} {route.pattern} response{finding}" for finding in out]


def undocumented(fake: FakeCloudflare) -> list[str]:
    """Everything undocumented the session sent or was answered, less the allowlist."""
    found = [f for r in fake.requests for f in findings_of_request(r)]
    found += [f for m, p, status, payload in fake.responses for f in findings_of_response(m, p, status, payload)]
    return sorted({f for f in found if not any(re.fullmatch(pattern, f) for pattern in ALLOWED)})


def _session(fake: FakeCloudflare, host: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path of the write, refresh, delete, the live checks and errors."""
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake.base_url)
    fake.add_script(ACCOUNT, "w", UNMANAGED)
    fake.add_script(ACCOUNT, "g", UNMANAGED)
    seed_store(fake, ["A", "B"])
    state, _ = host.up("w", None, legacy_props("w", ["A", "B"]))
    state, _ = host.up("w", state, rotated("w"))
    state, _ = host.up("w", state, store_props("w", ["A", "B"]))
    host.read("w", state["_id"], {k: v for k, v in state.items() if k != "_id"})
    # A rotation during a rollout (read whole, copy, deploy, verify), and a deploy displaced by
    # the plane's whose version cannot be copied (put back, 10220, then `force`).
    g, script = applied(fake, host, "r")
    new_id, _ = rollout(fake, script, "r")
    g, _ = host.up("r", g, rotated("r"))
    site = fake.upload_version(ACCOUNT, "r", runtime={**OLD_RUNTIME, "assets": {"config": {"html_handling": "none"}}},
                               modules=MODULES)
    fake.on("POST", r"/workers/scripts/r/deployments$", lambda: script.deploy([(site.id, 100.0)]))
    again = rotated("r")
    again["values"]["A"] += "-again"
    with pytest.raises(HostError):
        host.up("r", g, again)
    with pytest.raises(HostError):
        host.up("ghost", None, legacy_props("ghost", ["A"]))
    fake.faults.append(Fault("GET", r"/workers/scripts/w/deployments$", status=503, times=1))
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
    estate = load_estate(ROOT)
    desired = estate.desired_state("staging", "store")
    run_canary(desired, LiveAccount(ACCOUNT), {}, wait_s=0)
    adoptions(desired, LiveAccount(ACCOUNT))
    run_preflight(estate.manifest.manifest, desired, LiveAccount(ACCOUNT))
    build_audit(estate, desired, LiveAccount(ACCOUNT), dt.date(2026, 12, 1))
    draft_import(estate, "staging", "api", "r", LiveAccount(ACCOUNT))
    LiveAccount(ACCOUNT).scripts()
    LiveAccount(ACCOUNT).deployed_on()
    client.secrets_store.stores.get(STORE_ID, account_id=ACCOUNT)
    LiveAccount(ACCOUNT).store_quota()


def test_every_request_and_response_of_the_project_is_documented(fake, host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _session(fake, host, monkeypatch)
    assert undocumented(fake) == []
    hit = {route_of(m, p) for m, p, _, _ in fake.responses}
    assert hit >= {r for r in ROUTES if r.pattern.endswith(("/settings", "/secrets-bulk", "/deployments",
                                                            "/versions", r"/versions/[^/]+", "/secrets"))}, \
        "every endpoint the write path uses was hit"
    assert any(status >= 400 for _, _, status, _ in fake.responses), "error envelopes were checked too"
    assert any(r.query.get("force") == ["true"] for r in fake.requests), "the put-back's `force` was checked"


def test_every_byok_request_and_response_is_documented_or_allowed(fake, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The BYOK key's whole life (create, adopt, rotate, a config change, refresh, repair, delete)
    and the live checks of a stack with keys: the SDK's types hold every request and answer; the
    config's PUT and DELETE, which the SDK lacks, are found, and pass only by the allowlist."""
    from test_byok_provider import ByokHost, estate_with_keys, props_of, up_all

    fake.add_store(ACCOUNT, STORE_ID)
    fake.add_gateway(ACCOUNT, "gw-prod", store_id=STORE_ID)
    host = ByokHost({"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_BASE_URL": fake.base_url})
    try:
        estate = estate_with_keys(tmp_path)
        props = props_of(estate)
        states, _ = up_all(host, props)
        states, _ = up_all(host, props_of(estate, {"OPENAI_API_KEY": "rotated"}), states)
        changed = {n: {**p, "rate_limit": 10, "rate_limit_period": 60} for n, p in props.items()}
        states, _ = up_all(host, changed, states)
        for name, state in states.items():
            host.read(name, state["_id"], {k: v for k, v in state.items() if k != "_id"})
            host.delete(name, state["_id"], {k: v for k, v in state.items() if k != "_id"})
    finally:
        host.close()
    found = sorted({f for r in fake.requests for f in findings_of_request(r)})
    assert found == [f"DELETE {GATEWAY}/provider_configs/[^/]+ request (no SDK method)",
                     f"PUT {GATEWAY}/provider_configs/[^/]+ request (no SDK method)"]
    assert undocumented(fake) == []
    hit = {route_of(m, p) for m, p, _, _ in fake.responses}
    assert hit >= {r for r in ROUTES if r.pattern.startswith(GATEWAY)}


def test_the_classic_versioned_code_read_is_undocumented(fake) -> None:  # type: ignore[no-untyped-def]
    """What the write path used to do: download a version's code with `content/v2?version=ID`.
    The schema has no such parameter; the check fails on it."""
    fake.add_script(ACCOUNT, "w", [])
    client = make_client("t", fake.base_url)
    version = fake.scripts[(ACCOUNT, "w")].latest.id
    client.workers.scripts.content.get("w", account_id=ACCOUNT, extra_query={"version": version})
    assert undocumented(fake) == [f"GET {S}/content/v2 request?version"]


@pytest.mark.parametrize("body,finding", [
    ({"modules": [], "main_module": "i.js", "keep_assets": True}, ".keep_assets"),
    ({"placement": {"mode": "smart", "hint": "wnam"}}, ".placement.hint"),
    ({"bindings": [{"type": "secret_text", "name": "A", "text": "x", "json": 1}]}, ".bindings[0].json"),
])
def test_an_undocumented_request_field_is_found(body, finding) -> None:  # type: ignore[no-untyped-def]
    request = Request("POST", f"/accounts/{ACCOUNT}/workers/workers/w/versions", {}, "application/json",
                      json.dumps(body).encode())
    found = findings_of_request(request)
    assert any(f.endswith(finding) for f in found), found


def test_an_undocumented_response_field_is_found() -> None:
    version = {"id": "v", "created_on": "2026-11-20T09:00:00Z", "number": 1, "urls": [],
               "placement_mode": "smart", "bindings": [{"type": "kv_namespace", "name": "K", "namespace_id": "n",
                                                         "preview_id": "p"}]}
    found = findings_of_response("GET", f"/accounts/{ACCOUNT}/workers/workers/w/versions/v", 200,
                                 {"result": version, "success": True, "errors": [], "messages": []})
    assert sorted(f.rsplit("response", 1)[1] for f in found) == [".bindings[0].preview_id", ".placement_mode"]
