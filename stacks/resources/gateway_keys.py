"""GatewayProviderKey: one AI Gateway BYOK key, the store secret the gateway looks it up by and
the provider config that points at it.

Cloudflare's BYOK contract (developers.cloudflare.com, AI Gateway "BYOK (Store Keys)"): the key is
a Secrets Store secret in the store the gateway names (`store_id`), scoped `ai_gateway` and named
`{gateway_id}_{provider_slug}_{alias}` (the gateway finds it by that name, not by the config's
`secret_id`), and a provider config on the gateway with the same provider slug and alias.
pulumi-cloudflare has no provider-config resource, so the plane keeps both halves here, in one
dynamic resource: the config cannot outlive or point past its secret.

Inputs: account_id, stack, secret (the manifest's name, for messages), gateway_id, provider_slug,
alias, default_config, rate_limit, rate_limit_period, store_id, secret_name, comment, managed (the
`provider/alias` keys the stack keeps on this gateway: any other config there is reported as
unmanaged, never touched) and value (a top-level secret input: the engine keeps it encrypted).
Outputs: the inputs, config_id, secret_id, unmanaged (configs on the gateway the plane does not
manage), drift (what a refresh found changed on the account: the next apply repairs it),
last_apply (path and API calls).

- create: the named store secret (made, or adopted when a config made in the dashboard already
  points at it, or when an earlier run made it and stopped), then the config (made, or adopted);
  a config on the same provider and alias that points at another secret is not the plane's: the
  create fails naming it and touches nothing.
- update: a new value is ONE store-secret PATCH: no config write, no Worker version; a changed
  default flag or rate limit replaces the config (PUT); what a refresh found drifted (a config
  deleted in the dashboard, repointed, its secret gone) is repaired as on create.
- delete: the config (Cloudflare deletes its secret with it), then the secret if it is still there.

This module is imported by the dynamic-provider host: it does nothing at import time, and the SDK
half (gateway_keys_provider.py) loads when an operation runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from .outputs import known_output
from .worker_bindings import _contains_unknown
from .write_plan import value_hash

if TYPE_CHECKING:
    from .gateway_keys_provider import GatewayKeyWriter

# A different value for any of these is another key on the account (another name, another config).
REPLACE_KEYS = ("account_id", "gateway_id", "provider_slug", "alias", "store_id", "secret_name")
# What the config holds: a change is one PUT of the config.
CONFIG_KEYS = ("default_config", "rate_limit", "rate_limit_period")


def _writer() -> GatewayKeyWriter:
    from .gateway_keys_provider import GatewayKeyWriter

    return GatewayKeyWriter()


class GatewayProviderKeyProvider(ResourceProvider):
    """CRUD for one BYOK key (see the module docstring for inputs and outputs)."""

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = []
        if not _contains_unknown(news.get("value")) and not news.get("value"):
            failures.append(pulumi.dynamic.CheckFailure("value", f"no value for BYOK key of {news.get('secret')}"))
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k) and not _contains_unknown(news.get(k))]
        changed = bool(replaces) or bool(olds.get("drift"))
        changed = changed or any(olds.get(k) != news.get(k) for k in (*CONFIG_KEYS, "comment"))
        changed = changed or _contains_unknown(news.get("value")) or \
            value_hash(olds.get("value")) != value_hash(news.get("value"))
        # One config per provider and alias on a gateway: the old key goes before its successor comes.
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return _writer().create(props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return _writer().update(_id, olds, news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _writer().delete(_id, props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return _writer().read(id_, props)


class GatewayProviderKey(pulumi.dynamic.Resource, module="secrets-plane", name="GatewayProviderKey"):
    """One AI Gateway BYOK key. See GatewayProviderKeyProvider and the module docstring."""

    config_id: pulumi.Output[str]
    secret_id: pulumi.Output[str]
    unmanaged: pulumi.Output[list[str]]
    drift: pulumi.Output[list[str]]
    last_apply: pulumi.Output[dict[str, Any]]

    def __init__(self, resource_name: str, *, account_id: pulumi.Input[str], stack: str, secret: str,
                 gateway_id: str, provider_slug: str, alias: str, default_config: bool, rate_limit: int | None,
                 rate_limit_period: int | None, store_id: pulumi.Input[str], secret_name: str, comment: str,
                 managed: Sequence[str], value: str, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "account_id": account_id, "stack": stack, "secret": secret, "gateway_id": gateway_id,
            "provider_slug": provider_slug, "alias": alias, "default_config": default_config,
            "rate_limit": rate_limit, "rate_limit_period": rate_limit_period, "store_id": store_id,
            "secret_name": secret_name, "comment": comment, "managed": sorted(managed),
            "value": known_output(value, secret=True),
            "config_id": None, "secret_id": None, "unmanaged": None, "drift": None, "last_apply": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["value"]))
        super().__init__(GatewayProviderKeyProvider(), resource_name, props, opts)


__all__ = ["GatewayProviderKey", "GatewayProviderKeyProvider"]
