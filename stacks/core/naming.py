"""Every naming rule in one place: Worker script names and store secret names, per stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .manifest import WorkerSpec

DEFAULT_SECRET_NAME_TEMPLATE = "{name}"


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
