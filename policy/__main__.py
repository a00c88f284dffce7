"""secrets-plane policy pack: `pulumi preview --policy-pack policy`."""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

sys.path.insert(0, str(Path(__file__).resolve().parent))

import guardrails  # noqa: E402


def _policy(name: str, description: str, rule):  # type: ignore[no-untyped-def]
    return ResourceValidationPolicy(
        name=name, description=description, enforcement_level=EnforcementLevel.MANDATORY,
        validate=lambda args, report_violation: rule(args, lambda message: report_violation(message)),
    )


PolicyPack(
    name="secrets-plane-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        _policy("created-store-protected", "A created Secrets Store is protected", guardrails.created_store_is_protected),
        _policy("store-secret-value-secret", "Store secret values are Pulumi secrets",
                guardrails.store_secret_value_is_secret),
        _policy("bindings-no-plaintext", "WorkerSecretBindings carries no plaintext value",
                guardrails.bindings_carry_no_plaintext),
        _policy("scopes-within-manifest", "Store secret scopes are no wider than the manifest declares",
                guardrails.scopes_within_manifest),
        _policy("held-out-of-store", "No store secret for a secret held out of the store or external",
                guardrails.store_secret_not_held_out),
        _policy("fallback-copies-are-text", "Fallback copies are secret_text beside a store binding",
                guardrails.fallback_copies_are_text),
    ],
)
