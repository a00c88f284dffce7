"""The live checks of AI Gateway BYOK keys, read-only: for preflight, each gateway exists, reads its
keys from the stack's store (`store_id`), and holds no config the plane does not manage on a
provider and alias the stack declares; for the canary, each key's config is there and points at
the store secret the plane made (named `{gateway}_{provider}_{alias}`, active, scoped
`ai_gateway`). Calls: one gateway read and one config listing per gateway; the store listing is
the caller's. Names and ids only: never a value (nor a config's `secret_preview`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cloudflare

from ..api.gateway import GatewayApi, ProviderConfig
from ..api.permissions import AI_GATEWAY_READ
from ..core.desired_state import ByokKey, DesiredState
from ..core.errors import CloudflareOperationError
from .account import LiveAccount, LiveStoreSecret, describe_failure


@dataclass
class LiveGateway:
    gateway_id: str
    exists: bool = True
    refused: bool = False  # the token may not read it
    store_id: str | None = None
    configs: list[ProviderConfig] = field(default_factory=list)

    def config(self, key: ByokKey) -> ProviderConfig | None:
        return next((c for c in self.configs if c.provider_slug == key.provider_slug and c.alias == key.alias), None)


def read_gateways(desired: DesiredState, live: LiveAccount) -> dict[str, LiveGateway]:
    """Each gateway the stack's keys are on, as the account has it."""
    out: dict[str, LiveGateway] = {}
    for gateway_id in sorted({k.gateway_id for k in desired.byok_keys}):
        found = LiveGateway(gateway_id)

        def read(client: cloudflare.Cloudflare, gateway_id: str = gateway_id) -> tuple[str | None, list[ProviderConfig]]:
            api = GatewayApi(client, desired.account_id, gateway_id)
            return api.store_id(), api.configs()

        try:
            found.store_id, found.configs = live.call(read)
        except cloudflare.NotFoundError:
            found.exists = False
        except (cloudflare.PermissionDeniedError, cloudflare.AuthenticationError):
            found.refused = True
        except cloudflare.APIError as exc:
            raise describe_failure(exc, "reading", f"AI Gateway '{gateway_id}'",
                                   "Check the gateway ids under `gateways:` in secrets_manifest.yaml.") from None
        out[gateway_id] = found
    return out


def managed_by(desired: DesiredState, gateway_id: str) -> set[str]:
    return {f"{k.provider_slug}/{k.alias}" for k in desired.byok_keys if k.gateway_id == gateway_id}


def check_for_preflight(desired: DesiredState, live: LiveAccount, store_id: str | None,
                        existing: dict[str, LiveStoreSecret], block: Callable[[str, str, str], None],
                        note: Callable[[str, str, str], None]) -> None:
    """What would make the apply of a BYOK key fail, or touch what it must not."""
    try:
        gateways = read_gateways(desired, live)
    except CloudflareOperationError:
        raise
    for gateway_id, gateway in gateways.items():
        subject = f"AI Gateway {gateway_id}"
        where = f"secrets.<NAME>.gateways.{desired.stack} in secrets_manifest.yaml"
        if gateway.refused:
            block("token", f"the API token may not read AI Gateway '{gateway_id}' (403)",
                  f"give the token '{AI_GATEWAY_READ}' on account {desired.account_id} (and 'AI Gateway - Edit' to "
                  "apply)")
            continue
        if not gateway.exists:
            block(subject, f"gateway '{gateway_id}' does not exist in account {desired.account_id}",
                  f"create it (AI > AI Gateway) with the stack's store attached, or fix the gateway id in {where}")
            continue
        if gateway.store_id != store_id:
            block(subject, f"the gateway reads its BYOK keys from "
                           f"{'store ' + gateway.store_id if gateway.store_id else 'no store'}, not from the stack's "
                           f"store {store_id}", "attach the stack's store to the gateway (its `store_id`, in the "
                                                "dashboard's gateway settings or the API)")
        mine = managed_by(desired, gateway_id)
        for key in (k for k in desired.byok_keys if k.gateway_id == gateway_id):
            config = gateway.config(key)
            named = existing.get(key.store_secret_name)
            if config is None:
                continue
            if named is None or config.secret_id != named.id:
                block(f"{subject} {key.provider_slug}/{key.alias}",
                      f"a provider config the plane does not manage (id {config.id}) holds provider "
                      f"'{key.provider_slug}' and alias '{key.alias}', pointing at a secret other than "
                      f"'{key.store_secret_name}': the apply refuses to touch it",
                      "delete it (AI Gateway > Provider Keys), or give the key of "
                      f"'{key.secret}' another `alias`")
            else:
                note(f"{subject} {key.provider_slug}/{key.alias}",
                     f"config {config.id} exists already and points at '{key.store_secret_name}': the apply adopts it",
                     "")
        others = sorted(f"{c.key} ({c.id})" for c in gateway.configs if c.key not in mine)
        if others:
            note(subject, f"provider config(s) the plane does not manage: {', '.join(others)}; left as they are", "")


@dataclass(frozen=True)
class KeyMismatch:
    key: str
    expected: str
    found: str


def check_for_canary(desired: DesiredState, live: LiveAccount, store_id: str | None,
                     secrets: dict[str, LiveStoreSecret]) -> tuple[int, list[KeyMismatch]]:
    """(checks made, mismatches): each key's config there, pointing at the secret the plane made."""
    gateways = read_gateways(desired, live)
    checked = 0
    out = []
    for key in desired.byok_keys:
        checked += 1
        label = f"{key.gateway_id}:{key.provider_slug}/{key.alias}"
        gateway = gateways[key.gateway_id]
        named = secrets.get(key.store_secret_name)
        if not gateway.exists or gateway.refused:
            out.append(KeyMismatch(label, "gateway exists", "refused (403)" if gateway.refused else "no such gateway"))
            continue
        if gateway.store_id != store_id:
            out.append(KeyMismatch(label, f"gateway reads store {store_id}", f"store {gateway.store_id or 'none'}"))
        if named is None or named.status != "active" or "ai_gateway" not in named.scopes:
            out.append(KeyMismatch(label, f"store secret {key.store_secret_name} active, scope ai_gateway",
                                   "absent" if named is None else f"{named.status}, scopes {','.join(named.scopes)}"))
            continue
        config = gateway.config(key)
        if config is None:
            out.append(KeyMismatch(label, f"provider config -> {key.store_secret_name}", "absent"))
        elif config.secret_id != named.id:
            out.append(KeyMismatch(label, f"provider config -> {key.store_secret_name} ({named.id})",
                                   f"config {config.id} -> secret {config.secret_id}"))
        elif config.default_config != key.default_config:
            out.append(KeyMismatch(label, f"default_config {str(key.default_config).lower()}",
                                   f"default_config {str(config.default_config).lower()}"))
    return checked, out
