"""The guardrail rules, as plain functions so they can be unit-tested without the engine.

Each takes `args` (a pulumi_policy ResourceValidationArgs or anything shaped like it) and a
`report(message)` callback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

STORE = "cloudflare:index/secretsStore:SecretsStore"
STORE_SECRET = "cloudflare:index/secretsStoreSecret:SecretsStoreSecret"
BINDINGS = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"
MANIFEST = Path(__file__).resolve().parent.parent / "secrets_manifest.yaml"

Report = Callable[[str], None]


def _raw(props: Any) -> Any:
    """pulumi_policy hands props through a proxy that unwraps secrets; its target keeps them."""
    try:
        return props["__target"]
    except (KeyError, TypeError):
        return props


def _is_secret(value: Any) -> bool:
    from pulumi_policy import Secret

    return isinstance(value, Secret)


def created_store_is_protected(args: Any, report: Report) -> None:
    if args.resource_type == STORE and not args.opts.protect:
        report("a created Secrets Store must be protect=True (and retain_on_delete=True): "
               "it is the one store of the account, shared by every stack on it")


def store_secret_value_is_secret(args: Any, report: Report) -> None:
    if args.resource_type != STORE_SECRET:
        return
    value = _raw(args.props).get("value")
    if value is not None and not _is_secret(value):
        report(f"store secret '{args.name}' has a value not marked secret: wrap it in pulumi.Output.secret")


def bindings_carry_no_plaintext(args: Any, report: Report) -> None:
    if args.resource_type != BINDINGS:
        return
    raw = _raw(args.props)
    for spec in raw.get("bindings") or []:
        spec = _raw(spec)
        if any(key in spec for key in ("text", "value")):
            report(f"WorkerSecretBindings '{args.name}': binding '{spec.get('name')}' carries a value in its "
                   "spec; values belong in the secret `values` input only")
    values = raw.get("values")
    if values and not _is_secret(values):
        report(f"WorkerSecretBindings '{args.name}': `values` is not marked secret")


def scopes_within_manifest(args: Any, report: Report, manifest_path: Path = MANIFEST) -> None:
    if args.resource_type != STORE_SECRET:
        return
    declared = _declared_scopes(manifest_path)
    secret = str(args.name).removeprefix("secret-")
    allowed = declared.get(secret)
    scopes = list(_raw(args.props).get("scopes") or [])
    if allowed is None:
        report(f"store secret '{secret}' is not declared in secrets_manifest.yaml")
    elif set(scopes) - allowed:
        report(f"store secret '{secret}' asks for scopes {sorted(set(scopes) - allowed)} that the manifest "
               f"does not declare (declared: {sorted(allowed)})")


def store_secret_not_held_out(args: Any, report: Report, manifest_path: Path = MANIFEST) -> None:
    """A secret the manifest keeps out of the store (`backend: legacy`) or does not own
    (`external: true`) never becomes a store secret the program creates."""
    if args.resource_type != STORE_SECRET:
        return
    secret = str(args.name).removeprefix("secret-")
    spec = _secrets(manifest_path).get(secret) or {}
    if spec.get("backend") == "legacy":
        report(f"store secret '{secret}' is created although the manifest holds it out of the store (backend: legacy)")
    if spec.get("external"):
        report(f"store secret '{secret}' is created although the manifest says it is external (never owned)")


def fallback_copies_are_text(args: Any, report: Report) -> None:
    """A fallback copy is a secret_text binding beside a store binding of the same Worker."""
    if args.resource_type != BINDINGS:
        return
    specs = [_raw(s) for s in _raw(args.props).get("bindings") or []]
    names = {s.get("name"): s for s in specs}
    for spec in specs:
        if spec.get("role") != "fallback":
            continue
        primary = names.get(str(spec.get("name")).removesuffix("_FALLBACK"))
        if spec.get("type") != "secret_text" or primary is None or primary.get("type") != "secrets_store_secret":
            report(f"WorkerSecretBindings '{args.name}': fallback copy '{spec.get('name')}' must be secret_text beside "
                   "a store binding of the same name without the suffix")


def _secrets(path: Path) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get("secrets") or {})


def _declared_scopes(path: Path) -> dict[str, set[str]]:
    return {name: set(spec.get("scopes") or ["workers"]) for name, spec in _secrets(path).items()}
