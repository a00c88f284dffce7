"""What GatewayProviderKey's provider does on the live account, run by the dynamic-provider host:
create, update, delete and refresh of one BYOK key through the official SDK (api/gateway.py).
Kept apart from the resource (gateway_keys.py) so that declaring it never imports the SDK.

Every failure names the key (gateway, provider, alias, the manifest secret), what had landed and
what to do, scrubbed of the key's value (client.describe_failure)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from cloudflare import APIError, NotFoundError
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from ..api.client import CloudflareOperationError, describe_failure, make_client
from ..api.gateway import GatewayApi, ProviderConfig
from ..api.permissions import BYOK_APPLY
from ..core.naming import BYOK_TYPE, byok_resource, urn
from .engine_log import ENGINE
from .gateway_keys import CONFIG_KEYS, REPLACE_KEYS
from .write_plan import value_hash


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


class KeySession:
    """One operation on one BYOK key: its API, its words, and what it has written so far."""

    def __init__(self, props: Mapping[str, Any], action: str):
        self.props = props
        self.action = action
        self.api = GatewayApi(make_client(), str(props["account_id"]), str(props["gateway_id"]))
        self.subject = (f"BYOK key '{props.get('provider_slug')}/{props.get('alias')}' of secret "
                        f"'{props.get('secret')}' on AI Gateway '{props.get('gateway_id')}'")
        self.landed: list[str] = []
        self.path = "none"

    @property
    def not_found_hint(self) -> str:
        return (f"Gateway '{self.props.get('gateway_id')}' or the store {self.props.get('store_id')} does not exist in "
                f"account {self.props.get('account_id')}: create the gateway (AI > AI Gateway) with the stack's "
                f"store attached, or fix secrets.{self.props.get('secret')}.gateways in secrets_manifest.yaml.")

    def fail(self, exc: Exception, what: str) -> CloudflareOperationError:
        return describe_failure(exc, f"{self.action}: {what}", self.subject, self.not_found_hint,
                                secrets=[str(self.props.get("value") or "")], landed="; ".join(self.landed),
                                permissions=BYOK_APPLY)

    def refuse(self, message: str) -> CloudflareOperationError:
        return CloudflareOperationError(f"{self.action} {self.subject}: {message}")


def _differs(config: ProviderConfig, props: Mapping[str, Any], secret_id: str) -> bool:
    return (config.secret_id != secret_id or config.default_config != bool(props.get("default_config"))
            or config.rate_limit != props.get("rate_limit") or config.rate_limit_period != props.get("rate_limit_period"))


class GatewayKeyWriter:
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._converge(props, None)
        return CreateResult(id_=f"{props['account_id']}/{props['gateway_id']}/{outs['config_id']}", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("drift") or not olds.get("config_id") or not olds.get("secret_id"):
            return UpdateResult(outs=self._converge(news, olds.get("config_id")))
        s = KeySession(news, "apply")
        value_changed = value_hash(olds.get("value")) != value_hash(news.get("value"))
        try:
            if value_changed or olds.get("comment") != news.get("comment"):
                # A rotation: the key changes in place, where the gateway looks it up. Nothing else.
                s.api.set_store_secret(str(news["store_id"]), str(olds["secret_id"]),
                                       str(news["value"]) if value_changed else None, str(news["comment"]))
                s.landed.append(f"store secret '{news['secret_name']}' updated")
                s.path = "rotate" if value_changed else "comment"
            if any(olds.get(k) != news.get(k) for k in CONFIG_KEYS):
                s.api.replace_config(str(olds["config_id"]), str(news["provider_slug"]), str(news["alias"]),
                                     bool(news["default_config"]), str(olds["secret_id"]), news.get("rate_limit"),
                                     news.get("rate_limit_period"))
                s.path = "config" if s.path == "none" else s.path + "+config"
        except APIError as exc:
            raise s.fail(exc, "writing") from None
        return UpdateResult(outs=self._outs(news, s, str(olds["config_id"]), str(olds["secret_id"]),
                                            list(olds.get("unmanaged") or [])))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        s = KeySession(props, "delete")
        try:
            if props.get("config_id"):
                try:
                    s.api.delete_config(str(props["config_id"]))
                except NotFoundError:
                    pass  # deleted already (in the dashboard, or by an earlier run)
            if props.get("secret_id"):
                try:
                    s.api.delete_store_secret(str(props["store_id"]), str(props["secret_id"]))
                except NotFoundError:
                    pass  # deleted with its config, as Cloudflare documents
        except APIError as exc:
            raise s.fail(exc, "deleting") from None

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: is the config still there, pointing at the plane's secret, as declared; is the
        secret there. What differs is recorded under `drift`, and the next apply repairs it."""
        s = KeySession(props, "refresh")
        try:
            configs = s.api.configs()
            named = s.api.store_secret_named(str(props["store_id"]), str(props["secret_name"]))
        except NotFoundError:
            return ReadResult(None, {})  # the gateway (or the store) is gone, and the key with it
        except APIError as exc:
            raise s.fail(exc, "reading") from None
        mine = next((c for c in configs if c.id == props.get("config_id")), None)
        drift = []
        if named is None or named.id != props.get("secret_id"):
            drift.append(f"store secret '{props.get('secret_name')}' is gone")
        if mine is None:
            drift.append("provider config is gone")
        elif _differs(mine, props, str(props.get("secret_id"))):
            drift.append("provider config was changed")
        outs = dict(props)
        outs["drift"] = drift
        outs["unmanaged"] = self._unmanaged(props, configs)
        return ReadResult(id_, outs)

    # ---- create and repair ---------------------------------------------------------------------
    def _converge(self, props: Mapping[str, Any], config_id: str | None) -> dict[str, Any]:
        """Make the key as declared from whatever is on the account: a config the plane made (by
        id), one made in the dashboard that points at the named secret (adopted), or none."""
        s = KeySession(props, "apply")
        store_id = str(props["store_id"])
        try:
            attached = s.api.store_id()
            if attached != store_id:
                raise s.refuse(
                    f"the gateway reads its keys from {'store ' + attached if attached else 'no store'}, not from "
                    f"the stack's store {store_id}: attach the stack's store to the gateway (its `store_id`, in the "
                    "dashboard or the API), then re-run. Nothing was written.")
            configs = s.api.configs()
            mine = next((c for c in configs if config_id and c.id == config_id), None)
            same = next((c for c in configs if c.provider_slug == props["provider_slug"]
                         and c.alias == props["alias"]), None)
            named = s.api.store_secret_named(store_id, str(props["secret_name"]))
            if same is not None and same is not mine:
                if named is None or same.secret_id != named.id:
                    raise s.refuse(
                        f"the gateway already holds a provider config for '{same.key}' (id {same.id}) that points at a "
                        f"secret other than '{props['secret_name']}'. The plane never touches a config it does not "
                        "manage: delete it (AI Gateway > Provider Keys) to let the plane make its own, or give this "
                        "key another `alias` in secrets_manifest.yaml. Nothing was written.")
                mine = same  # made in the dashboard, pointing at the named secret: adopted
                s.path = "adopt"
            if named is None:
                secret_id = s.api.create_store_secret(store_id, str(props["secret_name"]), str(props["value"]),
                                                      str(props["comment"]))
                s.landed.append(f"store secret '{props['secret_name']}' created")
            else:
                secret_id = named.id
                s.api.set_store_secret(store_id, secret_id, str(props["value"]), str(props["comment"]))
                s.landed.append(f"store secret '{props['secret_name']}' set")
            if mine is None:
                mine = s.api.create_config(str(props["provider_slug"]), str(props["alias"]),
                                           bool(props["default_config"]), secret_id, props.get("rate_limit"),
                                           props.get("rate_limit_period"))
                s.path = "create" if s.path == "none" else s.path
            elif _differs(mine, props, secret_id):
                mine = s.api.replace_config(mine.id, str(props["provider_slug"]), str(props["alias"]),
                                            bool(props["default_config"]), secret_id, props.get("rate_limit"),
                                            props.get("rate_limit_period"))
                s.path = "repair" if s.path == "none" else s.path
        except APIError as exc:
            raise s.fail(exc, "writing") from None
        return self._outs(props, s, mine.id, secret_id, self._unmanaged(props, configs))

    @staticmethod
    def _unmanaged(props: Mapping[str, Any], configs: list[ProviderConfig]) -> list[str]:
        """The gateway's configs the stack does not keep: said beside the resource, never touched."""
        managed = set(props.get("managed") or ())
        found = sorted(f"{c.key} ({c.id})" for c in configs if c.key not in managed)
        if found:
            name = byok_resource(str(props["gateway_id"]), str(props["provider_slug"]), str(props["alias"]))
            ENGINE.warning(urn(str(props.get("stack") or "stack"), BYOK_TYPE, name),
                           f"secrets-plane: AI Gateway '{props['gateway_id']}' holds provider config(s) the plane does "
                           f"not manage: {', '.join(found)}; left as they are")
        return found

    @staticmethod
    def _outs(props: Mapping[str, Any], s: KeySession, config_id: str, secret_id: str,
              unmanaged: list[str]) -> dict[str, Any]:
        outs = {k: props.get(k) for k in (*REPLACE_KEYS, *CONFIG_KEYS, "stack", "secret", "comment", "managed",
                                          "value")}
        outs.update(config_id=config_id, secret_id=secret_id, unmanaged=unmanaged, drift=[],
                    last_apply={"path": s.path, "api_calls": s.api.calls, "at": _now()})
        return outs
