"""The AI Gateway calls the plane makes for BYOK keys, through the official SDK, for one gateway.

Each method is one API call (or one listing, paged), counted in `calls`. What the SDK 5.9.0 types
(`ai_gateway.get`, `ai_gateway.provider_configs.create/list`, the store's secrets) goes through its
typed methods; replacing and deleting a provider config (`PUT`/`DELETE .../provider_configs/{id}`,
in Cloudflare's API reference, not in the SDK) go through the client's generic request methods,
and are on the conformance test's allowlist with that source. No value is kept from a response:
a config's `secret_preview` is dropped where it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudflare import Cloudflare


@dataclass(frozen=True)
class ProviderConfig:
    """A provider config as the plane keeps it: never its `secret_preview` (part of a key)."""

    id: str
    provider_slug: str
    alias: str
    default_config: bool
    secret_id: str
    rate_limit: int | None = None
    rate_limit_period: int | None = None

    @property
    def key(self) -> str:
        """`provider/alias`: what a gateway holds one config of."""
        return f"{self.provider_slug}/{self.alias}"


def _config(item: Any) -> ProviderConfig:
    """From the SDK's model (create, list) or the JSON of the generic PUT."""
    def get(key: str) -> Any:
        return item.get(key) if isinstance(item, dict) else getattr(item, key, None)

    rate, period = get("rate_limit"), get("rate_limit_period")
    return ProviderConfig(id=str(get("id")), provider_slug=str(get("provider_slug")), alias=str(get("alias")),
                          default_config=bool(get("default_config")), secret_id=str(get("secret_id")),
                          rate_limit=int(rate) if rate is not None else None,
                          rate_limit_period=int(period) if period is not None else None)


@dataclass(frozen=True)
class StoreSecretFacts:
    id: str
    name: str
    scopes: tuple[str, ...]


class GatewayApi:
    def __init__(self, client: Cloudflare, account_id: str, gateway_id: str):
        self.client = client
        self.account_id = account_id
        self.gateway_id = gateway_id
        self.calls = 0

    def _path(self, config_id: str = "") -> str:
        path = f"/accounts/{self.account_id}/ai-gateway/gateways/{self.gateway_id}/provider_configs"
        return path + (f"/{config_id}" if config_id else "")

    # ---- the gateway --------------------------------------------------------------------------
    def store_id(self) -> str | None:
        """The store the gateway reads its BYOK keys from (None: none attached). 404: no gateway."""
        self.calls += 1
        return self.client.ai_gateway.get(self.gateway_id, account_id=self.account_id).store_id

    # ---- provider configs ---------------------------------------------------------------------
    def configs(self) -> list[ProviderConfig]:
        out = []
        for page in self.client.ai_gateway.provider_configs.list(self.gateway_id, account_id=self.account_id).iter_pages():
            self.calls += 1
            out += [_config(item) for item in page.result]
        return out

    def create_config(self, provider_slug: str, alias: str, default_config: bool, secret_id: str,
                      rate_limit: int | None, rate_limit_period: int | None) -> ProviderConfig:
        self.calls += 1
        if rate_limit is not None and rate_limit_period is not None:
            made = self.client.ai_gateway.provider_configs.create(
                self.gateway_id, account_id=self.account_id, provider_slug=provider_slug, alias=alias,
                default_config=default_config, secret_id=secret_id, rate_limit=rate_limit,
                rate_limit_period=rate_limit_period)
        else:
            made = self.client.ai_gateway.provider_configs.create(
                self.gateway_id, account_id=self.account_id, provider_slug=provider_slug, alias=alias,
                default_config=default_config, secret_id=secret_id)
        return _config(made)

    def replace_config(self, config_id: str, provider_slug: str, alias: str, default_config: bool, secret_id: str,
                       rate_limit: int | None, rate_limit_period: int | None) -> ProviderConfig:
        """`PUT .../provider_configs/{id}`: the whole config, pointed at `secret_id` (never a key)."""
        body: dict[str, Any] = {"provider_slug": provider_slug, "alias": alias, "default_config": default_config,
                                "secret_id": secret_id}
        if rate_limit is not None and rate_limit_period is not None:
            body.update(rate_limit=rate_limit, rate_limit_period=rate_limit_period)
        self.calls += 1
        answer = self.client.put(self._path(config_id), cast_to=object, body=body)
        return _config(answer["result"] if isinstance(answer, dict) else answer)

    def delete_config(self, config_id: str) -> None:
        """`DELETE .../provider_configs/{id}`: Cloudflare deletes the config's secret with it."""
        self.calls += 1
        self.client.delete(self._path(config_id), cast_to=object)

    # ---- the gateway's store secrets ----------------------------------------------------------
    def store_secret_named(self, store_id: str, name: str) -> StoreSecretFacts | None:
        secrets = self.client.secrets_store.stores.secrets
        for page in secrets.list(store_id, account_id=self.account_id, per_page=100).iter_pages():
            self.calls += 1
            for item in page.result:
                if item.name == name:
                    return StoreSecretFacts(item.id, item.name, tuple(item.scopes or ()))
        return None

    def create_store_secret(self, store_id: str, name: str, value: str, comment: str) -> str:
        self.calls += 1
        made = list(self.client.secrets_store.stores.secrets.create(
            store_id, account_id=self.account_id,
            body=[{"name": name, "value": value, "scopes": ["ai_gateway"], "comment": comment}]))
        return made[0].id

    def set_store_secret(self, store_id: str, secret_id: str, value: str | None, comment: str) -> None:
        """One PATCH: the value (when given), the scope a BYOK key needs, and the comment."""
        self.calls += 1
        if value is None:
            self.client.secrets_store.stores.secrets.edit(secret_id, store_id=store_id, account_id=self.account_id,
                                                          scopes=["ai_gateway"], comment=comment)
        else:
            self.client.secrets_store.stores.secrets.edit(secret_id, store_id=store_id, account_id=self.account_id,
                                                          value=value, scopes=["ai_gateway"], comment=comment)

    def delete_store_secret(self, store_id: str, secret_id: str) -> None:
        self.calls += 1
        self.client.secrets_store.stores.secrets.delete(secret_id, store_id=store_id, account_id=self.account_id)
