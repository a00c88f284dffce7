"""WorkerSecretBindings: one Worker's whole set of managed secret bindings, one version per change.

A Pulumi dynamic resource. Its provider's pure half lives here (Check and Diff: what a change is);
what it does on the account (create, update, delete, read, through the official SDK) is in
bindings_provider.py, which the provider loads when it first needs it: declaring the resource
(the program, `plan`) never imports the SDK.

This module is imported by the dynamic-provider host, which unpickles the provider by
reference: it must do nothing at import time (no resource registration, no config reads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult
from pulumi.output import Unknown

from .outputs import known_output
from .write_plan import TEXT, owned, same_specs, value_hash

if TYPE_CHECKING:
    from .bindings_provider import BindingsWriter

# A value unknown during preview: the engine sends this marker; the dynamic host turns it into
# `pulumi.output.Unknown` for Check and Diff (deserialize_properties(..., keep_unknowns=True)).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown) or value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_unknown(v) for v in value)
    return False


def _writer() -> BindingsWriter:
    from .bindings_provider import BindingsWriter

    return BindingsWriter()


class WorkerSecretBindingsProvider(ResourceProvider):
    """CRUD for one Worker's managed secret bindings. Inputs:

    account_id, script_name, worker (manifest key, for messages), stack (for version messages),
    bindings (specs without values: name, type, secret, store_id + secret_name for store bindings,
    role, external), values (binding name -> plaintext, for the secret_text bindings the plane
    owns; a top-level secret input so the engine keeps it secret).
    """

    # The pickled provider captures no secret, so it need not be a secret itself.
    serialize_as_secret_always = False

    # ---- engine operations -------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        if _contains_unknown(news.get("bindings")) or _contains_unknown(news.get("values")):
            return pulumi.dynamic.CheckResult(news, [])  # checked again at apply, when they are known
        failures = []
        values = news.get("values") or {}
        for spec in news.get("bindings") or []:
            if spec.get("type") == TEXT and owned(spec) and spec.get("name") not in values:
                failures.append(pulumi.dynamic.CheckFailure("values", f"no value for binding {spec.get('name')}"))
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("account_id",) if olds.get(k) != news.get(k)]
        changed = bool(replaces) or olds.get("script_name") != news.get("script_name")
        if _contains_unknown(news.get("bindings")) or _contains_unknown(news.get("values")):
            changed = True
        else:
            changed = changed or not same_specs(olds.get("bindings"), news.get("bindings"))
            old_hashes = {k: value_hash(v) for k, v in (olds.get("values") or {}).items()}
            new_hashes = {k: value_hash(v) for k, v in (news.get("values") or {}).items()}
            changed = changed or old_hashes != new_hashes
        # No `stables`: the dynamic-provider host does not pass them on to the engine.
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return _writer().create(props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return _writer().update(_id, olds, news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _writer().delete(_id, props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return _writer().read(id_, props)


def _secret_input(values: pulumi.Input[Mapping[str, pulumi.Input[str]]]) -> pulumi.Output[Any]:
    """The `values` input as one secret Output. A plain dict of strings (what the component
    passes) is wrapped as it is: `Output.secret` would lift every value into an Output of its own."""
    if isinstance(values, Mapping) and all(isinstance(v, str) for v in values.values()):
        return known_output(dict(values), secret=True)
    return pulumi.Output.secret(values)


class WorkerSecretBindings(pulumi.dynamic.Resource, module="secrets-plane", name="WorkerSecretBindings"):
    """The managed secret bindings of one Worker script. See WorkerSecretBindingsProvider."""

    bindings: pulumi.Output[list[dict[str, Any]]]
    value_changed_at: pulumi.Output[dict[str, str]]
    unmanaged: pulumi.Output[list[str]]
    last_apply: pulumi.Output[dict[str, Any]]
    served_as_of: pulumi.Output[str | None]
    verified: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self,
        resource_name: str,
        *,
        account_id: pulumi.Input[str],
        script_name: str,
        worker: str,
        stack: str,
        bindings: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]],
        values: pulumi.Input[Mapping[str, pulumi.Input[str]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "account_id": account_id,
            "script_name": script_name,
            "worker": worker,
            "stack": stack,
            "bindings": bindings,
            # One top-level secret input: the engine strips the marker for the provider and
            # re-marks the output of the same name, so values stay encrypted in state.
            "values": _secret_input(values),
            "value_changed_at": None,
            "unmanaged": None,
            "last_apply": None,
            "served_as_of": None,
            "verified": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["values"]))
        super().__init__(WorkerSecretBindingsProvider(), resource_name, props, opts)


__all__ = ["WorkerSecretBindings", "WorkerSecretBindingsProvider"]
