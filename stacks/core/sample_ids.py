"""The ids the shipped sample's stack files carry, and what to put in their place.

`Pulumi.staging.yaml` and `Pulumi.prod.yaml` ship with an account id, a store id and a Pulumi org
that belong to no one: a project started from the sample keeps them until someone changes them.
`validate` (and the program, beside its other warnings) says so for each one still there; a
command that would send them to Cloudflare's own API refuses them (`errors_before_cloudflare`),
while a base URL override (the tests' fake API on 127.0.0.1) may use them, being no account."""

from __future__ import annotations

import hashlib

from .errors import Problem
from .stack_config import NAMESPACE, LoadedStack

SAMPLE_ACCOUNT_ID = "5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b"
SAMPLE_STORE_ID = "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"
SAMPLE_PULUMI_ORG = "ascend"
# The shipped secrets_manifest.yaml, byte for byte (a test keeps it equal): `init --replace-sample`
# replaces a manifest only while it is this file, never one a person has edited.
SAMPLE_MANIFEST_SHA256 = "017ea8bd11355deec32d6eedb654f6fa88d68e9b79f0714f1cda8da832bfe5ea"


def is_sample_manifest(data: bytes) -> bool:
    return hashlib.sha256(data).hexdigest() == SAMPLE_MANIFEST_SHA256


def sample_ids(stack: LoadedStack) -> list[Problem]:
    """A warning per sample id the stack file still carries, at its key, with what goes there."""
    settings = stack.settings
    found = []
    if settings.account_id == SAMPLE_ACCOUNT_ID:
        found.append(Problem(stack.location("accountId"), f"{NAMESPACE}:accountId is still the sample's account id",
                             "put your Cloudflare account id there (32 hex characters: the dashboard's Workers & "
                             "Pages overview shows it, so does `wrangler whoami`)", "warning"))
    if settings.store is not None and settings.store.adopt == SAMPLE_STORE_ID:
        found.append(Problem(stack.location("store", "adopt"), f"{NAMESPACE}:store.adopt is still the sample's store id",
                             "put the id of your account's Secrets Store there (the dashboard's Secrets Store page "
                             "shows it), or `create: <name>` to have the program make one, or drop `store:` while "
                             "nothing of the stack is on the store", "warning"))
    if settings.promote_from is not None and settings.promote_from.split("/", 1)[0] == SAMPLE_PULUMI_ORG:
        found.append(Problem(stack.location("promoteFrom"),
                             f"{NAMESPACE}:promoteFrom still names the sample's Pulumi org '{SAMPLE_PULUMI_ORG}'",
                             "put your Pulumi org there (<org>/secrets-plane/<stack>: `pulumi org get-default` "
                             "prints it)", "warning"))
    return found


def errors_before_cloudflare(stack: LoadedStack) -> list[Problem]:
    """The sample's account and store ids as errors: for a command about to send them to Cloudflare."""
    return [Problem(p.location, p.message + ": Cloudflare has no such account or store of yours", p.hint, "error")
            for p in sample_ids(stack) if "promoteFrom" not in p.location.path]
