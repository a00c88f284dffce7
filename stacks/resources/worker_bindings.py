"""WorkerSecretBindings: one Worker's whole set of managed secret bindings, applied in ONE call.

A Pulumi dynamic resource whose provider uses the official `cloudflare` SDK. Every write is a
single `PATCH .../workers/scripts/{script}/settings` carrying the managed bindings plus every
other binding on the Worker as `{"type": "inherit", "name": ...}`, so one change makes one Worker
version and nothing unmanaged is touched (the same approach as `wrangler secret bulk`).

This module is imported by the dynamic-provider host, which unpickles the provider by
reference: it must do nothing at import time (no resource registration, no config reads).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pulumi
from cloudflare import APIError, Cloudflare, NotFoundError
from cloudflare.types.workers.scripts.script_and_version_setting_edit_params import Settings, SettingsBinding
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from ..api.client import CloudflareOperationError, describe_failure, make_client

# The dynamic host passes this marker for values unknown during preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STORE = "secrets_store_secret"
TEXT = "secret_text"


def _hash(value: Any) -> str:
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def _spec_key(spec: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(spec.get("name")), str(spec.get("type")), str(spec.get("store_id", "")), str(spec.get("secret_name", "")))


def _same_specs(a: Sequence[Mapping[str, Any]] | None, b: Sequence[Mapping[str, Any]] | None) -> bool:
    return sorted(map(_spec_key, a or [])) == sorted(map(_spec_key, b or []))


def _contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_unknown(v) for v in value)
    return False


def merge_bindings(
    live: Sequence[Mapping[str, Any]],
    desired: Sequence[Mapping[str, Any]],
    previously_managed: set[str],
) -> list[dict[str, Any]]:
    """The full bindings list for one settings write.

    Desired bindings are sent whole; every live binding we neither want nor managed before is sent
    back as `inherit` (name only, like `wrangler secret bulk`); bindings we managed before and no
    longer want are left out, which removes them.
    """
    desired_names = {b["name"] for b in desired}
    merged = [dict(b) for b in desired]
    for binding in live:
        name = binding["name"]
        if name in desired_names or name in previously_managed:
            continue
        merged.append({"type": "inherit", "name": name})
    return merged


def _live_matches(live: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> bool:
    if live is None or live.get("type") != spec["type"]:
        return False
    if spec["type"] == STORE:
        return bool(live.get("store_id") == spec["store_id"] and live.get("secret_name") == spec["secret_name"])
    return True


class WorkerSecretBindingsProvider(ResourceProvider):
    """CRUD for one Worker's managed secret bindings. Inputs:

    account_id, script_name, worker (manifest key, for messages), bindings (specs without values:
    name, type, secret, and store_id + secret_name for store bindings), values (binding name ->
    plaintext, only for secret_text; a top-level secret input so the engine keeps it secret).
    """

    # The pickled provider captures no secret, so it need not be a secret itself.
    serialize_as_secret_always = False

    # ---- engine operations -------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = []
        values = news.get("values") or {}
        for spec in news.get("bindings") or []:
            if spec.get("type") == TEXT and spec.get("name") not in values:
                failures.append(pulumi.dynamic.CheckFailure("values", f"no value for binding {spec.get('name')}"))
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("account_id",) if olds.get(k) != news.get(k)]
        changed = bool(replaces) or olds.get("script_name") != news.get("script_name")
        if _contains_unknown(news.get("bindings")) or _contains_unknown(news.get("values")):
            changed = True
        else:
            changed = changed or not _same_specs(olds.get("bindings"), news.get("bindings"))
            old_hashes = {k: _hash(v) for k, v in (olds.get("values") or {}).items()}
            new_hashes = {k: _hash(v) for k, v in (news.get("values") or {}).items()}
            changed = changed or old_hashes != new_hashes
        return DiffResult(
            changes=changed,
            replaces=replaces,
            stables=[] if replaces else ["account_id"],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props, previously_managed=set(), olds={})
        return CreateResult(id_=f"{props['account_id']}/{props['script_name']}", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        previously: set[str] = set()
        if olds.get("script_name") == news.get("script_name"):
            previously = {b["name"] for b in olds.get("bindings") or []}
        else:
            # Same URN, new script: leave the old Worker as we found it.
            self._remove(olds)
            olds = {}
        return UpdateResult(outs=self._apply(news, previously, olds))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._remove(props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: report which managed bindings are live and of which type (values cannot be read)."""
        client = make_client()
        live = self._read_live(client, props, "refresh", missing_ok=True)
        if live is None:
            return ReadResult(None, {})  # the Worker is gone, and its bindings with it
        found = []
        for spec in props.get("bindings") or []:
            current = live.get(spec["name"])
            if current is None:
                continue
            if _live_matches(current, spec):
                found.append(dict(spec))
            else:
                shape = {k: current[k] for k in ("name", "type", "store_id", "secret_name") if k in current}
                found.append({**shape, "secret": spec.get("secret")})
        outs = dict(props)
        outs["bindings"] = found
        outs["unmanaged"] = sorted(n for n in live if n not in {b["name"] for b in props.get("bindings") or []})
        return ReadResult(id_, outs)

    # ---- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _subject(props: Mapping[str, Any]) -> str:
        return f"Worker '{props.get('worker')}' (script '{props.get('script_name')}')"

    @staticmethod
    def _not_found_hint(props: Mapping[str, Any]) -> str:
        return (f"The script does not exist in account {props.get('account_id')}: deploy the Worker first "
                f"(wrangler deploy) or fix workers.{props.get('worker')}.script_name in secrets_manifest.yaml.")

    def _read_live(self, client: Cloudflare, props: Mapping[str, Any], action: str,
                   missing_ok: bool = False) -> dict[str, dict[str, Any]] | None:
        try:
            settings = client.workers.scripts.script_and_version_settings.get(
                props["script_name"], account_id=props["account_id"])
        except APIError as exc:
            if missing_ok and isinstance(exc, NotFoundError):
                return None
            raise describe_failure(exc, f"{action}: reading bindings of", self._subject(props),
                                   self._not_found_hint(props)) from None
        live: dict[str, dict[str, Any]] = {}
        for binding in settings.bindings or []:
            data = binding.model_dump(exclude_none=True)
            data.pop("text", None)  # never keep a value, should an API ever return one
            live[data["name"]] = data
        return live

    def _version_ids(self, client: Cloudflare, props: Mapping[str, Any], action: str) -> list[str]:
        """Version ids of the Worker, newest first (first page is enough: we need the top two)."""
        try:
            page = client.workers.scripts.versions.list(props["script_name"], account_id=props["account_id"])
        except APIError as exc:
            if isinstance(exc, NotFoundError):
                return []
            raise describe_failure(exc, f"{action}: listing versions of", self._subject(props),
                                   self._not_found_hint(props)) from None
        items = list(page.result.items or []) if page.result else []
        items.sort(key=lambda v: v.number or 0, reverse=True)
        return [v.id for v in items if v.id]

    def _restore_lost(self, client: Cloudflare, props: Mapping[str, Any], base: str | None, removed: set[str],
                      action: str) -> None:
        """A deploy that lands between our read and our write is overwritten by our bindings list:
        bindings it added would be lost. Detect it (the version before ours is not the one we read)
        and bring them back by inheriting them from that version, in one more write."""
        ids = self._version_ids(client, props, action)
        if base is None or len(ids) < 2 or ids[1] == base:
            return
        between = ids[1]
        try:
            raw = client.workers.scripts.versions.with_raw_response.get(
                between, account_id=props["account_id"], script_name=props["script_name"])
            listed = raw.http_response.json()["result"]["resources"]["bindings"] or []
        except (APIError, KeyError, TypeError, ValueError) as exc:
            raise CloudflareOperationError(
                f"{action}: bindings of {self._subject(props)} were written, but a deploy landed at the same time "
                f"and its version could not be read ({type(exc).__name__}): re-run to restore anything it added."
            ) from None
        live = self._read_live(client, props, action) or {}
        lost = [b["name"] for b in listed if b.get("name") not in live and b.get("name") not in removed]
        if not lost:
            return
        bindings = [{"type": "inherit", "name": name} for name in live]
        bindings += [{"type": "inherit", "name": name, "version_id": between} for name in lost]
        self._write(client, props, bindings, action, [])

    def _write(self, client: Cloudflare, props: Mapping[str, Any], bindings: list[dict[str, Any]], action: str,
               values: Sequence[str]) -> None:
        settings = cast(Settings, {"bindings": cast(list[SettingsBinding], bindings)})
        try:
            client.workers.scripts.script_and_version_settings.edit(
                props["script_name"], account_id=props["account_id"], settings=settings)
        except APIError as exc:
            raise describe_failure(exc, f"{action}: writing bindings of", self._subject(props),
                                   self._not_found_hint(props), secrets=values) from None

    def _apply(self, props: dict[str, Any], previously_managed: set[str], olds: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, str] = dict(props.get("values") or {})
        old_values: Mapping[str, str] = olds.get("values") or {}
        client = make_client()
        ids = self._version_ids(client, props, "apply")  # before the read: see _restore_lost
        base = ids[0] if ids else None
        live = self._read_live(client, props, "apply") or {}
        specs = list(props.get("bindings") or [])
        api_bindings: list[dict[str, Any]] = []
        needs_write = False
        for spec in specs:
            if spec["type"] == TEXT:
                api_bindings.append({"type": TEXT, "name": spec["name"], "text": values[spec["name"]]})
                changed_value = spec["name"] not in old_values or _hash(old_values[spec["name"]]) != _hash(values[spec["name"]])
                needs_write = needs_write or changed_value or not _live_matches(live.get(spec["name"]), spec)
            else:
                api_bindings.append({"type": STORE, "name": spec["name"], "store_id": spec["store_id"],
                                     "secret_name": spec["secret_name"]})
                needs_write = needs_write or not _live_matches(live.get(spec["name"]), spec)
        desired_names = {s["name"] for s in specs}
        if any(name in live and name not in desired_names for name in previously_managed):
            needs_write = True
        if needs_write:
            merged = merge_bindings(list(live.values()), api_bindings, previously_managed)
            self._write(client, props, merged, "apply", list(values.values()))
            self._restore_lost(client, props, base, previously_managed - desired_names, "apply")
        now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
        old_stamps: Mapping[str, str] = olds.get("value_changed_at") or {}
        stamps = {}
        for spec in specs:
            name = spec["name"]
            if spec["type"] != TEXT:
                continue
            unchanged = name in old_values and _hash(old_values[name]) == _hash(values[name]) and name in old_stamps
            stamps[name] = old_stamps[name] if unchanged else now
        return {
            "account_id": props["account_id"],
            "script_name": props["script_name"],
            "worker": props.get("worker"),
            "bindings": specs,
            "values": values,
            "value_changed_at": stamps,
            "unmanaged": sorted(n for n in live if n not in desired_names and n not in previously_managed),
        }

    def _remove(self, props: Mapping[str, Any]) -> None:
        managed = {b["name"] for b in props.get("bindings") or []}
        if not managed or not props.get("script_name"):
            return
        client = make_client()
        ids = self._version_ids(client, props, "delete")
        base = ids[0] if ids else None
        live = self._read_live(client, props, "delete", missing_ok=True)
        if live is None or not managed & set(live):
            return  # nothing of ours is there: no write, no new Worker version
        self._write(client, props, merge_bindings(list(live.values()), [], managed), "delete", [])
        self._restore_lost(client, props, base, managed, "delete")


class WorkerSecretBindings(pulumi.dynamic.Resource, module="secrets-plane", name="WorkerSecretBindings"):
    """The managed secret bindings of one Worker script. See WorkerSecretBindingsProvider."""

    bindings: pulumi.Output[list[dict[str, Any]]]
    value_changed_at: pulumi.Output[dict[str, str]]
    unmanaged: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        account_id: pulumi.Input[str],
        script_name: str,
        worker: str,
        bindings: pulumi.Input[Sequence[pulumi.Input[Mapping[str, pulumi.Input[str]]]]],
        values: pulumi.Input[Mapping[str, pulumi.Input[str]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "account_id": account_id,
            "script_name": script_name,
            "worker": worker,
            "bindings": bindings,
            # One top-level secret input: the engine strips the marker for the provider and
            # re-marks the output of the same name, so values stay encrypted in state.
            "values": pulumi.Output.secret(values),
            "value_changed_at": None,
            "unmanaged": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["values"]))
        super().__init__(WorkerSecretBindingsProvider(), resource_name, props, opts)


__all__ = ["WorkerSecretBindings", "WorkerSecretBindingsProvider", "merge_bindings", "CloudflareOperationError"]
