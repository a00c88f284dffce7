"""The one allowlist of what the plane relies on that the SDK's types (and so Cloudflare's OpenAPI
schema) do not document. Each entry is a pattern over a finding of test_fake_conformance.py, with
its source and what breaks without it. An entry is a debt: when the schema documents it, or the
plane stops needing it, it goes."""

from __future__ import annotations

# finding pattern (a regular expression, matched whole) -> (where it is documented, what breaks without it)
ENTRIES: dict[str, tuple[str, str]] = {
    r"PUT /accounts/\[\^/\]\+/ai-gateway/gateways/\[\^/\]\+/provider_configs/\[\^/\]\+ request \(no SDK method\)": (
        "Cloudflare API reference, AI Gateway > Provider Configs > Update "
        "(developers.cloudflare.com/api/resources/ai_gateway/subresources/provider_configs/; cloudflare/api-schemas "
        "openapi.json: PUT /accounts/{account_id}/ai-gateway/gateways/{gateway_id}/provider_configs/{id}, the body "
        "and answer of the create); SDK 5.9.0 has create and list only",
        "a BYOK key's default flag or rate limit could not change, nor a repointed config be put back, without "
        "deleting the config (and the key with it) first",
    ),
    r"DELETE /accounts/\[\^/\]\+/ai-gateway/gateways/\[\^/\]\+/provider_configs/\[\^/\]\+ request \(no SDK method\)": (
        "Cloudflare API reference, AI Gateway > Provider Configs > Delete (same page and schema: DELETE "
        ".../provider_configs/{id}, which deletes the config's secret too); SDK 5.9.0 has create and list only",
        "a BYOK key removed from the manifest would stay on the gateway, used by every request",
    ),
}

ALLOWED = tuple(ENTRIES)
