"""The Pulumi program: load, check, build the desired state, realize it, export."""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any

import pulumi

from ..api.base_url import base_url_from_environment
from ..core.desired_state import DesiredState, build_desired_state
from ..core.errors import CloudflareOperationError, PlaneError
from ..core.estate import MANIFEST_ENV, MANIFEST_FILE, Estate, load_estate
from ..core.naming import COMPONENT_NAME
from ..core.promotion import gate_message, promotion_problems
from ..core.scope import SCOPE_FILE_ENV, listed_as_of_in
from ..core.stack_config import StackSettings, load_runtime_settings
from ..core.text import one_line
from ..core.values import missing_values, oversized_values
from .component import SecretsPlane

# The manifest the program reads: the offline plan sets it for its own run in-process (`plan
# --manifest FILE`), in the context that run alone sees; under `pulumi`, the one a command that
# started it was given (MANIFEST_ENV), else the project's.
MANIFEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("secrets_plane_manifest", default=None)


def manifest_file() -> str:
    return MANIFEST.get() or os.environ.get(MANIFEST_ENV) or MANIFEST_FILE


def run(project_dir: Path) -> SecretsPlane:
    stack = pulumi.get_stack()
    try:
        # The Cloudflare provider reads the same variable: refuse a bad one before anything is sent.
        base_url_from_environment()
    except CloudflareOperationError as exc:
        raise pulumi.RunError(str(exc)) from None
    try:
        estate = load_estate(project_dir, manifest_file())
        for warning in estate.warnings_for(pulumi.get_stack()):
            if "value(s) not set" not in warning.message:  # checked below against the real config
                pulumi.log.warn(warning.render())
        settings, values = load_runtime_settings(stack, pulumi.runtime.get_config)
        desired = _desired_state(estate, settings)
        problems = missing_values(desired, values.names()) + oversized_values(desired, values.sizes())
        if problems:
            raise PlaneError(problems)
    except PlaneError as exc:
        # RunError prints the message alone: no traceback, and nothing has been registered yet.
        raise pulumi.RunError(str(exc)) from None

    gate = promotion_gate(desired, settings)
    plane = SecretsPlane(COMPONENT_NAME, desired, values, gate=gate)
    pulumi.export("backend", desired.backend)
    pulumi.export("manifest_digest", desired.manifest_digest)
    pulumi.export("binding_matrix", desired.binding_matrix())
    if plane.store_id is not None:
        pulumi.export("store_id", plane.store_id)
    pulumi.export("value_changed_at", {script: res.value_changed_at for script, res in plane.bindings.items()})
    # The record the next run's drift check reads (core/scope.py): per script, the time its newest
    # deployment was known to be made by (no value, no name of one).
    pulumi.export("served_as_of", {script: res.served_as_of for script, res in plane.bindings.items()})
    pulumi.export("listed_as_of", _listed_as_of())
    # Per script, the version the plane last read back and a digest of its managed bindings (names
    # and shapes only, core/verified.py): the canary does not read that version's bindings again.
    pulumi.export("verified", {script: res.verified for script, res in plane.bindings.items()})
    if settings.promotion_override:
        pulumi.export("promotion_override", settings.promotion_override)
    return plane


def _listed_as_of() -> str | None:
    """How far this run's drift check reached, from the scope file the workflow names (SECRETS_PLANE_SCOPE).
    A run without one (a local `pulumi up`) records none: the next drift check reads further back."""
    path = os.environ.get(SCOPE_FILE_ENV)
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return listed_as_of_in(text)


def _desired_state(estate: Estate, settings: StackSettings) -> DesiredState:
    """The desired state for the settings the engine passed: the estate's own (already built, as
    `plan` built it) when they are the stack file's, with or without a backend pin."""
    loaded = estate.stacks.get(settings.stack)
    # (Which values are set does not change the desired state.)
    if loaded is not None and settings.model_copy(update={"value_names": ()}) == loaded.settings.model_copy(
            update={"backend": settings.backend, "value_names": ()}):
        return estate.desired_state(settings.stack, settings.backend if settings.backend != loaded.settings.backend
                                    else None)
    return build_desired_state(estate.manifest.manifest, settings)


PREVIEW_ONLY_WARN = "SECRETS_PLANE_PROMOTION_CHECK"


def promotion_gate(desired: DesiredState, settings: StackSettings) -> pulumi.Output[bool] | None:
    """An Output every resource's account id waits on: if the gate refuses, nothing registers."""
    if not settings.promote_from:
        return None
    source = pulumi.StackReference(settings.promote_from)

    def check(args: list[Any]) -> bool:
        problems = promotion_problems(desired, settings, args[0], args[1])
        if not problems:
            return True
        if settings.promotion_override:
            pulumi.log.warn(f"PROMOTION GATE OVERRIDDEN ({one_line(settings.promotion_override)}): "
                            + "; ".join(problems))
            return True
        if os.environ.get(PREVIEW_ONLY_WARN) == "warn" and pulumi.runtime.is_dry_run():
            # Pull-request previews of production show what it will do once staging runs the
            # change; the apply itself (never a dry run) still refuses.
            pulumi.log.warn("promotion gate (preview only, will refuse on apply): " + "; ".join(problems))
            return True
        raise pulumi.RunError(gate_message(problems, desired.stack))

    return pulumi.Output.all(source.get_output("manifest_digest"), source.get_output("backend")).apply(check)
