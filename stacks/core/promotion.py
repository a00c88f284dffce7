"""The promotion gate: production applies only a manifest and backend that staging already runs.

A value rotation does not change the manifest digest, so it is never gated.
"""

from __future__ import annotations

from typing import Any

from .desired_state import DesiredState
from .stack_config import NAMESPACE, StackSettings


def promotion_problems(desired: DesiredState, settings: StackSettings, staging_digest: Any,
                       staging_backend: Any) -> list[str]:
    source = settings.promote_from
    if not staging_digest or not staging_backend:
        return [f"stack '{source}' reports no manifest_digest/backend: deploy it first "
                f"(pulumi up --stack {str(source).rsplit('/', 1)[-1]}), then re-run"]
    problems = []
    if staging_digest != desired.manifest_digest:
        problems.append(
            f"manifest {desired.manifest_digest[:12]} is not what '{source}' runs ({str(staging_digest)[:12]}): "
            f"deploy this manifest to staging first, let its canary pass, then promote")
    held_back = settings.backend == "legacy" and desired.backend == "legacy"
    if staging_backend != desired.backend and not held_back:
        problems.append(
            f"backend '{desired.backend}' is not what '{source}' runs ('{staging_backend}'): flip staging first, "
            f"or hold this stack back with `pulumi config set {NAMESPACE}:backend legacy`")
    return problems


def gate_message(problems: list[str], stack: str) -> str:
    lines = [f"promotion gate: stack '{stack}' refuses this change:"] + [f"  - {p}" for p in problems]
    lines.append(f"  (emergency only: pulumi config set {NAMESPACE}:promotionOverride '<reason>' --stack {stack})")
    return "\n".join(lines)
