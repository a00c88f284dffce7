"""What WorkerSecretBindings' provider does on the live account, run by the dynamic-provider host:
create, update, delete and refresh through the official SDK. Kept apart from the resource that
the program declares (worker_bindings.py), so that declaring it (every `plan`, every preview)
never imports the SDK; the provider loads this module the first time it touches the account.

What a change needs decides the write (write_plan.py):

- value-only changes to secret_text bindings (a rotation, new secret_text bindings, removing one):
  ONE `PATCH .../secrets-bulk` naming only those secrets: no read, nothing else touched;
- changes to store bindings or types (the flip, a fallback copy, a repointed binding): list the
  newest versions, ONE settings `PATCH` with every other binding sent back as `inherit`, then one
  versions listing that checks no deploy landed in between and that nothing unmanaged was dropped;
- a Worker whose latest version does not serve all its traffic (Cloudflare refuses the two writes
  above with 10214/10215, or the latest version already looks done but is not what serves):
  version-aware (version_copies.py): each served version is copied with the change and the copies
  are deployed at the same split; never the undeployed code.

Every decision is made on what serves traffic (api/live_state.py): "already as desired" means every
served version is, and a refresh reports a Worker drifted when any served version is not.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cloudflare import APIError, NotFoundError
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from ..api.client import (
    BINDING_NAME_IN_USE,
    VERSION_NOT_DEPLOYED_SECRETS,
    VERSION_NOT_DEPLOYED_SETTINGS,
    CloudflareOperationError,
    describe_failure,
    error_codes,
    make_client,
    worker_gone,
)
from ..api.live_state import LiveState, read_live
from ..api.ratelimit import PACER, Wait
from ..api.workers import VersionFacts, WorkerApi
from ..core.limits import BULK_OPERATIONS_MAX, ENV_VAR_TYPES, WORKER_ENV_VARS_MAX
from ..core.naming import BINDINGS_TYPE, bindings_resource, urn
from ..core.verified import Verified, verify
from .engine_log import ENGINE
from .version_copies import RolloutWrite
from .write_plan import (
    INHERIT,
    STORE,
    TEXT,
    BindingConflict,
    Changes,
    bulk_operations,
    changes,
    live_matches,
    missing_after,
    owned,
    settings_write,
)

LOG = logging.getLogger("secrets-plane")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


class Session:
    """One operation on one Worker: its API, the words its errors use, what it has written so far
    (a failure says it), and what it cost. While it runs, a wait for Cloudflare's rate limit is
    shown beside the resource in the engine's output."""

    def __init__(self, props: Mapping[str, Any], action: str):
        self.props = props
        self.action = action
        self.api = WorkerApi(make_client(), str(props["account_id"]), str(props["script_name"]))
        self.subject = f"Worker '{props.get('worker')}' (script '{props.get('script_name')}')"
        self.urn = urn(str(props.get("stack") or "stack"), BINDINGS_TYPE, bindings_resource(str(props["script_name"])))
        self.path = "none"
        self.versions = 0
        self.landed: list[str] = []  # what this operation has written, for an error that stops it halfway
        self.seen_deployed_on: str | None = None  # the active deployment's created_on, when it was read
        self.verified: Verified | None = None  # the version this operation read back as serving what it wrote
        stats = PACER.thread_stats()
        self._waited_before = stats.waited_s

    def __enter__(self) -> Session:
        self._listening = PACER.listen(self._on_wait)
        self._listening.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listening.__exit__(None, None, None)

    def _on_wait(self, wait: Wait) -> None:
        ENGINE.info(self.urn, f"secrets-plane: {self.action} {self.subject}: {wait.reason} ({wait.seconds:.0f} s)")

    @property
    def not_found_hint(self) -> str:
        return (f"The script does not exist in account {self.props.get('account_id')}: deploy the Worker first "
                f"(wrangler deploy) or fix workers.{self.props.get('worker')}.script_name in secrets_manifest.yaml.")

    def fail(self, exc: Exception, what: str, values: Sequence[str] = ()) -> CloudflareOperationError:
        return describe_failure(exc, f"{self.action}: {what}", self.subject, self.not_found_hint, secrets=values,
                                landed="; ".join(self.landed))

    def report(self) -> dict[str, Any]:
        # Rounded once, so the log and the state it writes never disagree about a wait near 1 s.
        waited = round(PACER.thread_stats().waited_s - self._waited_before, 1)
        if waited >= 1:
            LOG.warning("secrets-plane: waited %.0f s for Cloudflare's API rate limit while applying %s",
                        waited, self.subject)
        return {"path": self.path, "api_calls": self.api.calls, "versions": self.versions,
                "rate_limit_wait_s": waited}


class BindingsWriter:
    """The provider's create, update, delete and read of one Worker's managed bindings."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props, olds={})
        return CreateResult(id_=f"{props['account_id']}/{props['script_name']}", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("script_name") != news.get("script_name"):
            # Same URN, new script: leave the old Worker as we found it.
            self._remove(olds)
            olds = {}
        return UpdateResult(outs=self._apply(news, olds))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._remove(props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: which managed bindings serve, and in what shape (values cannot be read). A binding
        is as desired only when every served version has it so; an undeployed latest version is
        said, never taken for what serves. Two calls for almost every Worker."""
        s = Session(props, "refresh")
        try:
            with s:
                live = read_live(s.api)
        except APIError as exc:
            if worker_gone(exc):
                return ReadResult(None, {})  # the Worker is gone, and its bindings with it
            raise s.fail(exc, "reading the deployment of") from None
        served = [version.bindings for version, _ in live.served]
        found = []
        for spec in props.get("bindings") or []:
            shapes = [bindings.get(spec["name"]) for bindings in served]
            if not served or any(shape is None for shape in shapes):
                continue  # a served version lacks it: the next apply writes it
            wrong = next((shape for shape in shapes if not live_matches(shape, spec)), None)
            if wrong is None:
                found.append(dict(spec))
            else:
                shape = {k: wrong[k] for k in ("name", "type", "store_id", "secret_name") if k in wrong}
                found.append({**shape, "secret": spec.get("secret"),
                              **({"role": spec["role"]} if "role" in spec else {})})
        upload = live.undeployed_latest
        if upload is not None and not upload.by_plane:
            ENGINE.warning(s.urn, f"secrets-plane: {s.subject}: its latest version {upload.describe()} serves no "
                                  f"traffic; what serves is {live.describe_split() or 'nothing'}. The plane reads and "
                                  "writes the versions that serve, and leaves that upload as it is.")
        names = {b["name"] for b in props.get("bindings") or []}
        outs = dict(props)
        outs["bindings"] = found
        outs["unmanaged"] = sorted({n for bindings in served for n in bindings if n not in names})
        stamps = props.get("value_changed_at") or {}
        outs["value_changed_at"] = {n: t for n, t in stamps.items() if n in {b["name"] for b in found}}
        outs["served_as_of"] = live.deployment.created_on if live.deployment else None
        alone = live.served[0][0] if not live.in_flight and live.served else None
        outs["verified"] = verify(alone.id, alone.bindings, names).as_json() if alone else None
        return ReadResult(id_, outs)

    # ---- apply --------------------------------------------------------------------------------


    def _apply(self, props: dict[str, Any], olds: Mapping[str, Any]) -> dict[str, Any]:
        specs: list[dict[str, Any]] = list(props.get("bindings") or [])
        values: dict[str, str] = dict(props.get("values") or {})
        old_specs = list(olds.get("bindings") or [])
        old_values: Mapping[str, str] = olds.get("values") or {}
        chg = changes(old_specs, specs, old_values, values)
        previously = {s["name"] for s in old_specs if owned(s)}
        s = Session(props, "apply")
        missing_external: list[str] = []
        unmanaged: list[str] | None = None
        if not chg.empty:
            message = chg.message(str(props.get("stack") or "?"))
            with s:
                if chg.needs_settings:
                    missing_external, unmanaged = self._settings_apply(s, specs, values, chg, previously, message)
                else:
                    missing_external, unmanaged = self._bulk_apply(s, specs, values, chg, previously, message)
        old_stamps: Mapping[str, str] = olds.get("value_changed_at") or {}
        now = _now()
        stamps = {spec["name"]: (now if spec["name"] in chg.set_values or spec["name"] not in old_stamps
                                 else old_stamps[spec["name"]])
                  for spec in specs if spec["type"] == TEXT and owned(spec)}
        return {
            "account_id": props["account_id"],
            "script_name": props["script_name"],
            "worker": props.get("worker"),
            "stack": props.get("stack"),
            # An external binding the Worker lacks is left out, so the next preview shows it.
            "bindings": [spec for spec in specs if spec["name"] not in missing_external],
            "values": values,
            "value_changed_at": stamps,
            "unmanaged": unmanaged if unmanaged is not None else list(olds.get("unmanaged") or []),
            "last_apply": s.report(),
            # What the next run's drift check compares with the Workers listing's `deployed_on`
            # (core/scope.py): no write keeps the last record; None says "read it next time".
            "served_as_of": (olds.get("served_as_of") if chg.empty
                             else s.api.deployed_by or s.seen_deployed_on),
            # What the canary need not read again (core/verified.py); a write it cannot vouch for records none.
            "verified": olds.get("verified") if chg.empty else (s.verified.as_json() if s.verified else None),
        }

    def _bulk_apply(self, s: Session, specs: list[dict[str, Any]], values: Mapping[str, str], chg: Changes,
                    previously: set[str], message: str) -> tuple[list[str], list[str] | None]:
        s.path = "secrets-bulk"
        try:
            self._write_batches(s, bulk_operations(chg, values), message)
        except APIError as exc:
            codes = error_codes(exc)
            if VERSION_NOT_DEPLOYED_SECRETS in codes or VERSION_NOT_DEPLOYED_SETTINGS in codes:
                return RolloutWrite(s, specs, values, chg, previously, message).apply(), None
            if BINDING_NAME_IN_USE in codes and not s.landed:
                # A name is taken by another kind of binding (say a store binding set by hand):
                # the settings write reads the Worker and replaces it, or refuses if unmanaged.
                return self._settings_apply(s, specs, values, chg, previously, message)
            raise s.fail(exc, "writing secrets of", list(values.values())) from None
        return [], None

    @staticmethod
    def _write_batches(s: Session, ops: Sequence[tuple[str, Mapping[str, str] | None]], message: str) -> None:
        """The secrets-bulk operations in calls of at most 100, one version each. A failure is
        raised as the SDK's; `s.landed` says which batches were written before it."""
        batches = [dict(ops[i:i + BULK_OPERATIONS_MAX]) for i in range(0, len(ops), BULK_OPERATIONS_MAX)]
        for number, batch in enumerate(batches, 1):
            s.api.bulk(batch, message)
            s.versions += 1
            s.landed[:] = [f"{number} of {len(batches)} secrets-bulk write(s) made ({number} new version(s))"]

    @staticmethod
    def _newest(s: Session) -> list[VersionFacts]:
        try:
            newest = s.api.versions()
        except APIError as exc:
            raise s.fail(exc, "reading the versions of") from None
        if not newest:
            raise CloudflareOperationError(f"{s.action}: {s.subject} has no version to write to: deploy it first "
                                           "(wrangler deploy), then re-run.")
        return newest

    def _settings_apply(self, s: Session, specs: list[dict[str, Any]], values: Mapping[str, str], chg: Changes,
                        previously: set[str], message: str) -> tuple[list[str], list[str]]:
        s.path = "settings"
        newest = self._newest(s)
        latest = newest[0].bindings
        try:
            write = settings_write(specs, values, latest, chg, previously)
        except BindingConflict as exc:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject} already has binding {exc}, which the manifest did not create: the plane "
                "never touches a binding it does not manage. Rename the binding under `bindings:` in "
                "secrets_manifest.yaml, or remove the other one from the Worker, then re-run.") from None
        unmanaged = sorted(n for n in latest if n not in {x["name"] for x in specs} and n not in previously)
        env_vars = sum(1 for b in write.bindings if b["type"] in ENV_VAR_TYPES
                       or (b["type"] == INHERIT and latest.get(b["name"], {}).get("type") in ENV_VAR_TYPES))
        if env_vars > WORKER_ENV_VARS_MAX:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject} would hold {env_vars} environment variables (secret and text), over the "
                f"Workers limit of {WORKER_ENV_VARS_MAX}; nothing was written. Move some secrets to the store "
                "(`backend: store`), drop fallback copies, or remove unused vars from the Worker.")
        if not write.needed:
            # The latest version already is what the manifest wants: done only if it is what serves.
            live = self._live(s, newest)
            if live.latest_serves_all and live.latest is not None:
                s.verified = verify(live.latest.id, live.latest.bindings, {x["name"] for x in specs})
                return write.external_missing, unmanaged
            return RolloutWrite(s, specs, values, chg, previously, message).apply(live), unmanaged
        try:
            result = s.api.write_settings(write.bindings, message)
        except APIError as exc:
            if VERSION_NOT_DEPLOYED_SETTINGS in error_codes(exc):
                return RolloutWrite(s, specs, values, chg, previously, message).apply(), unmanaged
            raise s.fail(exc, "writing bindings of", list(values.values())) from None
        s.versions += 1
        s.landed.append("the settings write made (1 new version)")
        wrong, dropped = missing_after(write, result)
        self._check_after_write(s, newest[0], result, wrong, dropped, set(chg.removed) | {x["name"] for x in specs},
                                {x["name"] for x in specs})
        return write.external_missing, unmanaged

    @staticmethod
    def _live(s: Session, newest: list[VersionFacts]) -> LiveState:
        try:
            live = read_live(s.api, newest)
        except APIError as exc:
            raise s.fail(exc, "reading the deployment of") from None
        s.seen_deployed_on = live.deployment.created_on if live.deployment else None
        return live

    def _check_after_write(self, s: Session, replaced: VersionFacts, result: Mapping[str, Any],
                           wrong: list[str], dropped: list[str], ours: set[str], managed: set[str]) -> None:
        """Did a deploy land between our read and our write (its new bindings would be missing from
        ours), and did the write drop an inherited binding? One versions listing says; repairs are
        one more write, inheriting from the version that had them. When nothing raced and nothing
        needs repair, the listing's newest version is ours: recorded as read back (`s.verified`)."""
        try:
            versions = s.api.versions()
        except APIError as exc:
            raise s.fail(exc, "listing versions of") from None
        since = [v for v in versions if v.number > replaced.number]  # newest first: ours, and any racing deploy
        restore: dict[str, str] = {}
        newest: set[str] = set(result)
        if len(since) <= 1:
            if dropped:
                restore = {name: replaced.id for name in dropped}
        else:
            lost, newest = self._lost_to_a_deploy(since, result, ours)
            restore = {name: vid for name, vid in lost.items() if name not in newest}
            # A deploy on top of ours decides the Worker's bindings now: what it holds is not lost.
            dropped = [name for name in dropped if name not in newest and name not in restore]
        if wrong:
            raise CloudflareOperationError(
                f"{s.action}: bindings of {s.subject} were written, but the new version lacks or misstates "
                f"{', '.join(wrong)}; re-run (the next apply reads the Worker again and writes what is missing).")
        if restore:
            self._restore(s, newest, restore)
        elif dropped:
            # Restoring on top of a later deploy could undo it, so the plane writes nothing more.
            raise CloudflareOperationError(
                f"{s.action}: the write to {s.subject} dropped {', '.join(dropped)} (bindings the plane does not "
                "manage) and a deploy landed on top of the write without them, and restoring could undo that deploy: "
                "re-deploy the Worker with wrangler.")
        elif len(since) == 1 and since[0].by_plane and set(since[0].bindings) == set(result):
            s.verified = verify(since[0].id, since[0].bindings, managed)

    @staticmethod
    def _lost_to_a_deploy(since: list[VersionFacts], result: Mapping[str, Any],
                          ours: set[str]) -> tuple[dict[str, str], set[str]]:
        """What the race cost (binding name -> the version to restore it from), and the bindings of
        the newest version. `since`: the versions made after the one our write was read from."""
        names = set(result)
        newest = set(since[0].bindings)
        mine = next((i for i, v in enumerate(since) if v.by_plane and set(v.bindings) == names), None)
        if mine is None or mine + 1 >= len(since):
            return {}, newest  # ours was built upon, or nothing landed between our read and our write
        # The version our write replaced is the last deploy before it: what it held and ours lacks
        # is what the race cost. Earlier racing deploys were superseded by it (a binding one of them
        # added and the next removed stays removed).
        before = since[mine + 1]
        return ({name: before.id for name in before.bindings if name not in names and name not in ours}, newest)

    def _restore(self, s: Session, keep: set[str], restore: Mapping[str, str]) -> None:
        """One write on top of the newest version (ours, or a deploy that landed on top of it):
        everything it holds inherited, and each lost binding inherited from the version that had it."""
        bindings = [{"type": INHERIT, "name": name} for name in sorted(keep)]
        bindings += [{"type": INHERIT, "name": name, "version_id": vid} for name, vid in sorted(restore.items())]
        message = f"secrets-plane: restore {', '.join(sorted(restore))} ({s.props.get('stack') or '?'})"
        try:
            again = s.api.write_settings(bindings, message)
        except APIError as exc:
            raise s.fail(exc, f"restoring {', '.join(sorted(restore))} on") from None
        s.versions += 1
        still = sorted(n for n in restore if n not in again)
        if still:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject} lost {', '.join(still)} (bindings the plane does not manage) in a write and "
                "could not get them back: re-deploy the Worker with wrangler to restore them.")

    # ---- delete ---------------------------------------------------------------------------------

    def _remove(self, props: Mapping[str, Any]) -> None:
        specs = [s for s in props.get("bindings") or [] if owned(s)]
        if not specs or not props.get("script_name"):
            return
        s = Session(props, "delete")
        chg = Changes(removed=tuple(sorted(x["name"] for x in specs)),
                      removed_store=tuple(sorted(x["name"] for x in specs if x["type"] == STORE)))
        message = chg.message(str(props.get("stack") or "?"))
        managed = {x["name"] for x in specs}
        with s:
            if chg.needs_settings:
                self._remove_by_settings(s, managed, chg, message)
            else:
                self._remove_by_bulk(s, managed, chg, message)

    @staticmethod
    def _remove_rollout(s: Session, managed: set[str], chg: Changes, message: str) -> None:
        RolloutWrite(s, [], {}, chg, managed, message).apply()

    def _remove_by_bulk(self, s: Session, managed: set[str], chg: Changes, message: str) -> None:
        try:
            self._write_batches(s, bulk_operations(chg, {}), message)
            return
        except APIError as exc:
            if worker_gone(exc):
                return  # the Worker is gone, and its bindings with it
            codes = error_codes(exc)
            if VERSION_NOT_DEPLOYED_SECRETS in codes or VERSION_NOT_DEPLOYED_SETTINGS in codes:
                self._remove_rollout(s, managed, chg, message)
                return
            if not isinstance(exc, NotFoundError):
                raise s.fail(exc, "removing secrets from") from None
        # A 404 about a secret, not the Worker: one the state holds is gone already. Remove what is
        # still there (the batches written before it removed theirs).
        try:
            latest = s.api.versions(per_page=1)
            left = tuple(name for name in chg.removed if latest and name in latest[0].bindings)
            if left:
                self._write_batches(s, bulk_operations(Changes(removed=left), {}), message)
        except APIError as exc:
            if worker_gone(exc):
                return
            raise s.fail(exc, "removing secrets from") from None

    def _remove_by_settings(self, s: Session, managed: set[str], chg: Changes, message: str) -> None:
        try:
            newest = s.api.versions()
        except APIError as exc:
            if worker_gone(exc):
                return
            raise s.fail(exc, "reading the versions of") from None
        if not newest:
            return
        latest = newest[0].bindings
        if not managed & set(latest):
            # Nothing of ours in the latest version: done only if it is what serves.
            live = self._live(s, newest)
            if live.latest_serves_all:
                return  # no write, no new Worker version
            RolloutWrite(s, [], {}, chg, managed, message).apply(live)
            return
        write = settings_write([], {}, latest, chg, managed)
        try:
            result = s.api.write_settings(write.bindings, message)
        except APIError as exc:
            if VERSION_NOT_DEPLOYED_SETTINGS in error_codes(exc):
                self._remove_rollout(s, managed, chg, message)
                return
            raise s.fail(exc, "writing bindings of") from None
        s.landed.append("the settings write made (1 new version)")
        _, dropped = missing_after(write, result)
        self._check_after_write(s, newest[0], result, [], dropped, managed, set())
