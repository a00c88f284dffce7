"""Every naming rule in one place: Worker script names and store secret names, per stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .manifest import WorkerSpec

DEFAULT_SECRET_NAME_TEMPLATE = "{name}"

# The Pulumi project and the type tokens of what the program declares: URNs are built from them.
PROJECT = "secrets-plane"
COMPONENT_NAME = "secrets-plane"
COMPONENT_TYPE = "secrets-plane:index:SecretsPlane"
STORE_TYPE = "cloudflare:index/secretsStore:SecretsStore"
STORE_SECRET_TYPE = "cloudflare:index/secretsStoreSecret:SecretsStoreSecret"
BINDINGS_TYPE = "pulumi-python:dynamic/secrets-plane:WorkerSecretBindings"


def script_name(worker: WorkerSpec, stack: str) -> str:
    """The Worker's script name in `stack`: a `{stack}` template or an explicit per-stack name."""
    if isinstance(worker.script_name, str):
        return worker.script_name.replace("{stack}", stack)
    return worker.script_name[stack]


def store_secret_name(template: str, secret: str) -> str:
    """The name a manifest secret gets in the account's store, e.g. `{name}_STAGING`."""
    return template.replace("{name}", secret)


FALLBACK_SUFFIX = "_FALLBACK"


def fallback_binding_name(binding: str) -> str:
    """The secret_text copy beside a store binding, read by the accessor when the store fails."""
    return binding + FALLBACK_SUFFIX


def resource_name(*parts: str) -> str:
    """A Pulumi logical name; stable across backends so URNs survive the flip."""
    return "-".join(parts)


def store_secret_resource(secret: str) -> str:
    return resource_name("secret", secret)


def bindings_resource(script: str) -> str:
    return resource_name(script)


def urn(stack: str, type_token: str, name: str) -> str:
    """The URN of a resource the component declares (`pulumi up --target`, `pulumi import`).
    `stack` may be `org/project/stack`: URNs carry the stack's own name."""
    short = stack.rsplit("/", 1)[-1]
    if type_token == COMPONENT_TYPE:
        return f"urn:pulumi:{short}::{PROJECT}::{COMPONENT_TYPE}::{name}"
    return f"urn:pulumi:{short}::{PROJECT}::{COMPONENT_TYPE}${type_token}::{name}"
