"""What WorkerSecretBindings' provider does on the live account, run by the dynamic-provider host:
create, update, delete and refresh through the official SDK. Kept apart from the resource that
the program declares (worker_bindings.py), so that declaring it (every `plan`, every preview)
never imports the SDK; the provider loads this module the first time it touches the account.

What a change needs decides the write (write_plan.py):

- value-only changes to secret_text bindings (a rotation, new secret_text bindings, removing one):
  ONE `PATCH .../secrets-bulk` naming only those secrets: no read, nothing else touched;
- changes to store bindings or types (the flip, a fallback copy, a repointed binding): read the
  settings, ONE settings `PATCH` with every other binding sent back as `inherit`, then one versions
  listing that checks no deploy landed in between and that nothing unmanaged was dropped;
- a Worker whose latest version is not deployed at 100% (10214/10215): version-aware: each version
  of the active deployment is copied with the change and the same percentages are deployed; never
  the undeployed code.
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
from ..api.ratelimit import PACER, Wait
from ..api.workers import DeploymentInfo, VersionInfo, WorkerApi
from ..core.limits import BULK_OPERATIONS_MAX, ENV_VAR_TYPES, WORKER_ENV_VARS_MAX
from ..core.naming import BINDINGS_TYPE, bindings_resource, urn
from .engine_log import ENGINE
from .write_plan import (
    INHERIT,
    STORE,
    TEXT,
    BindingConflict,
    Changes,
    bulk_operations,
    changes,
    copy_settings,
    live_matches,
    missing_after,
    owned,
    settings_write,
    version_copy_bindings,
)

LOG = logging.getLogger("secrets-plane")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


class _Session:
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
        stats = PACER.thread_stats()
        self._waited_before = stats.waited_s

    def __enter__(self) -> _Session:
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
        """Refresh: which managed bindings are live and in what shape (values cannot be read). One call."""
        s = _Session(props, "refresh")
        try:
            with s:
                live, _ = s.api.read()
        except APIError as exc:
            if worker_gone(exc):
                return ReadResult(None, {})  # the Worker is gone, and its bindings with it
            raise s.fail(exc, "reading bindings of") from None
        found = []
        for spec in props.get("bindings") or []:
            current = live.get(spec["name"])
            if current is None:
                continue
            if live_matches(current, spec):
                found.append(dict(spec))
            else:
                shape = {k: current[k] for k in ("name", "type", "store_id", "secret_name") if k in current}
                found.append({**shape, "secret": spec.get("secret"),
                              **({"role": spec["role"]} if "role" in spec else {})})
        outs = dict(props)
        outs["bindings"] = found
        outs["unmanaged"] = sorted(n for n in live if n not in {b["name"] for b in props.get("bindings") or []})
        stamps = props.get("value_changed_at") or {}
        outs["value_changed_at"] = {n: t for n, t in stamps.items() if n in {b["name"] for b in found}}
        return ReadResult(id_, outs)

    # ---- apply --------------------------------------------------------------------------------


    def _apply(self, props: dict[str, Any], olds: Mapping[str, Any]) -> dict[str, Any]:
        specs: list[dict[str, Any]] = list(props.get("bindings") or [])
        values: dict[str, str] = dict(props.get("values") or {})
        old_specs = list(olds.get("bindings") or [])
        old_values: Mapping[str, str] = olds.get("values") or {}
        chg = changes(old_specs, specs, old_values, values)
        previously = {s["name"] for s in old_specs if owned(s)}
        s = _Session(props, "apply")
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
        }

    def _bulk_apply(self, s: _Session, specs: list[dict[str, Any]], values: Mapping[str, str], chg: Changes,
                    previously: set[str], message: str) -> tuple[list[str], list[str] | None]:
        s.path = "secrets-bulk"
        try:
            self._write_batches(s, bulk_operations(chg, values), message)
        except APIError as exc:
            codes = error_codes(exc)
            if VERSION_NOT_DEPLOYED_SECRETS in codes or VERSION_NOT_DEPLOYED_SETTINGS in codes:
                self._versions_apply(s, specs, values, chg, message)
                return [], None
            if BINDING_NAME_IN_USE in codes and not s.landed:
                # A name is taken by another kind of binding (say a store binding set by hand):
                # the settings write reads the Worker and replaces it, or refuses if unmanaged.
                return self._settings_apply(s, specs, values, chg, previously, message)
            raise s.fail(exc, "writing secrets of", list(values.values())) from None
        return [], None

    @staticmethod
    def _write_batches(s: _Session, ops: Sequence[tuple[str, Mapping[str, str] | None]], message: str) -> None:
        """The secrets-bulk operations in calls of at most 100, one version each. A failure is
        raised as the SDK's; `s.landed` says which batches were written before it."""
        batches = [dict(ops[i:i + BULK_OPERATIONS_MAX]) for i in range(0, len(ops), BULK_OPERATIONS_MAX)]
        for number, batch in enumerate(batches, 1):
            s.api.bulk(batch, message)
            s.versions += 1
            s.landed[:] = [f"{number} of {len(batches)} secrets-bulk write(s) made ({number} new version(s))"]

    def _settings_apply(self, s: _Session, specs: list[dict[str, Any]], values: Mapping[str, str], chg: Changes,
                        previously: set[str], message: str) -> tuple[list[str], list[str]]:
        s.path = "settings"
        try:
            live, read_at = s.api.read()
        except APIError as exc:
            raise s.fail(exc, "reading bindings of") from None
        try:
            write = settings_write(specs, values, live, chg, previously)
        except BindingConflict as exc:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject} already has binding {exc}, which the manifest did not create: the plane "
                "never touches a binding it does not manage. Rename the binding under `bindings:` in "
                "secrets_manifest.yaml, or remove the other one from the Worker, then re-run.") from None
        unmanaged = sorted(n for n in live if n not in {x["name"] for x in specs} and n not in previously)
        env_vars = sum(1 for b in write.bindings if b["type"] in ENV_VAR_TYPES
                       or (b["type"] == INHERIT and live.get(b["name"], {}).get("type") in ENV_VAR_TYPES))
        if env_vars > WORKER_ENV_VARS_MAX:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject} would hold {env_vars} environment variables (secret and text), over the "
                f"Workers limit of {WORKER_ENV_VARS_MAX}; nothing was written. Move some secrets to the store "
                "(`backend: store`), drop fallback copies, or remove unused vars from the Worker.")
        if not write.needed:
            return write.external_missing, unmanaged  # the live Worker already is what we want
        try:
            result = s.api.write_settings(write.bindings, message)
        except APIError as exc:
            if VERSION_NOT_DEPLOYED_SETTINGS in error_codes(exc):
                self._versions_apply(s, specs, values, chg, message)
                return write.external_missing, unmanaged
            raise s.fail(exc, "writing bindings of", list(values.values())) from None
        s.versions += 1
        s.landed.append("the settings write made (1 new version)")
        wrong, dropped = missing_after(write, result)
        self._check_after_write(s, read_at, result, wrong, dropped, set(chg.removed) | {x["name"] for x in specs})
        return write.external_missing, unmanaged

    def _check_after_write(self, s: _Session, read_at: _dt.datetime | None, result: Mapping[str, Any],
                           wrong: list[str], dropped: list[str], ours: set[str]) -> None:
        """Did a deploy land between our read and our write (its new bindings would be missing from
        ours), and did the write drop an inherited binding? One versions listing says; repairs are
        one more write, inheriting from the version that had them."""
        try:
            versions = s.api.versions()
        except APIError as exc:
            raise s.fail(exc, "listing versions of") from None
        floor = read_at.replace(microsecond=0) if read_at else None
        since = [v for v in versions if floor is not None and v.created_on is not None and v.created_on >= floor]
        restore: dict[str, str] = {}
        newest: set[str] = set(result)
        if len(since) <= 1:
            base = versions[1] if len(versions) > 1 else None
            if dropped and base is not None:
                restore = {name: base.id for name in dropped}
        else:
            lost, newest = self._lost_to_a_deploy(s, since, result, ours)
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
            why = ("no earlier version was found to restore them from" if len(since) <= 1 else
                   "a deploy landed on top of the write without them, and restoring could undo that deploy")
            raise CloudflareOperationError(
                f"{s.action}: the write to {s.subject} dropped {', '.join(dropped)} (bindings the plane does not "
                f"manage) and {why}: re-deploy the Worker with wrangler.")

    def _lost_to_a_deploy(self, s: _Session, since: list[VersionInfo], result: Mapping[str, Any],
                          ours: set[str]) -> tuple[dict[str, str], set[str]]:
        """What the race cost (binding name -> the version to restore it from), and the bindings of
        the newest version."""
        names = set(result)
        details = []
        for info in since:
            try:
                details.append(s.api.version(info.id))
            except APIError as exc:
                raise CloudflareOperationError(
                    f"{s.action}: bindings of {s.subject} were written, but a deploy landed at the same time and its "
                    f"version could not be read ({type(exc).__name__}): re-run to restore anything it added.") from None
        mine = next((i for i, d in enumerate(details) if {b["name"] for b in d.bindings} == names), None)
        newest = {b["name"] for b in details[0].bindings}
        if mine is None or mine + 1 >= len(details):
            return {}, newest  # ours was built upon, or nothing landed between our read and our write
        # The version our write replaced is the last deploy before it: what it held and ours lacks
        # is what the race cost. Earlier racing deploys were superseded by it (a binding one of them
        # added and the next removed stays removed).
        replaced = details[mine + 1]
        return ({b["name"]: replaced.id for b in replaced.bindings if b["name"] not in names and b["name"] not in ours},
                newest)

    def _restore(self, s: _Session, keep: set[str], restore: Mapping[str, str]) -> None:
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

    def _versions_apply(self, s: _Session, specs: list[dict[str, Any]], values: Mapping[str, str], chg: Changes,
                        message: str) -> None:
        """The latest version is not deployed at 100%: copy each deployed version with the change,
        then deploy the copies at the same percentages. Refuses before uploading anything when a
        deployed version cannot be copied faithfully, deploys nothing when another deployment
        landed while the copies were made, and puts back one that landed between its last check
        and its own deployment (the copies never replace a deployment they were not made from)."""
        s.path = "versions"
        try:
            deployed = s.api.deployment()
            latest = s.api.versions(per_page=1)
        except APIError as exc:
            raise s.fail(exc, "reading the deployment of") from None
        latest_id = latest[0].id if latest else "unknown"
        split = list(deployed.split) if deployed else []
        copies = []
        for version_id, percentage in split:
            try:
                detail = s.api.version(version_id)
                main, modules = s.api.content(version_id)
            except APIError as exc:
                raise self._in_flight(s, split, latest_id, f"version {version_id} could not be read "
                                                           f"({type(exc).__name__})") from None
            if any(b.get("type") == "assets" for b in detail.bindings):
                raise self._in_flight(s, split, latest_id, "it serves static assets, and a copy would take the "
                                                           "latest version's assets")
            names = {name for name, _, _ in modules}
            if not main or main not in names or "__STATIC_CONTENT_MANIFEST" in names:
                raise self._in_flight(s, split, latest_id, "its code cannot be copied as modules (Workers Sites or "
                                                           "a service-worker script)")
            settings, refused = copy_settings(detail.script, detail.runtime, detail.cache_options)
            if refused:
                raise self._in_flight(s, split, latest_id, f"version {version_id} has settings a copy cannot carry "
                                                           f"faithfully: {'; '.join(refused)}")
            copies.append((version_id, percentage, detail, main, modules, settings))
        uploaded = []
        for version_id, percentage, detail, main, modules, settings in copies:
            bindings = version_copy_bindings(version_id, detail.bindings, specs, values, chg)
            try:
                new_id = s.api.upload(main, modules, bindings, settings,
                                      f"{message}, copy of {version_id} at {percentage:g}%")
            except APIError as exc:
                raise s.fail(exc, f"copying version {version_id} of", list(values.values())) from None
            s.versions += 1
            uploaded.append((new_id, percentage))
            s.landed[:] = [f"{len(uploaded)} of {len(copies)} version copies uploaded (not deployed: they serve no "
                           "traffic), no deployment made"]
        assert deployed is not None  # a Worker with no deployment has no versions in flight to copy
        self._deploy_copies(s, deployed, uploaded, message)

    def _deploy_copies(self, s: _Session, deployed: DeploymentInfo, uploaded: list[tuple[str, float]],
                       message: str) -> None:
        """Deploy the copies, unless the deployment they were made from is no longer the active one."""
        try:
            now = s.api.deployment()
        except APIError as exc:
            raise s.fail(exc, "reading the deployment of") from None
        if now is None or now.id != deployed.id:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject}: another deployment landed while the plane copied its versions "
                f"({self._describe(now)}, replacing {self._describe(deployed)}); nothing was deployed (the "
                f"{len(uploaded)} uploaded copies serve no traffic). Re-run: it copies what is deployed now.")
        try:
            made = s.api.deploy(uploaded, message)
        except APIError as exc:
            raise s.fail(exc, "deploying the copied versions of") from None
        s.landed[:] = [f"the {len(uploaded)} version copies uploaded and deployed ({self._describe(made)})"]
        try:
            history = s.api.deployments()
        except APIError as exc:
            raise s.fail(exc, "checking the deployment of") from None
        mine = next((i for i, d in enumerate(history) if d.id == made.id), None)
        if mine is None or history[mine].split != tuple(uploaded):
            raise CloudflareOperationError(
                f"{s.action}: {s.subject}: the deployment of the copies is not what was sent "
                f"({self._describe(history[mine]) if mine is not None else 'it is not listed'}); re-run.")
        raced = history[mine + 1] if mine + 1 < len(history) else None
        if raced is not None and raced.id != deployed.id:
            # A deployment landed between the last check and ours, and ours replaced it: put it back
            # (its versions are someone's rollout; the re-run copies them).
            try:
                s.api.deploy(list(raced.split), f"secrets-plane: restore deployment {raced.id}, replaced by a "
                                                f"concurrent write ({s.props.get('stack') or '?'})")
            except APIError as exc:
                raise s.fail(exc, f"restoring deployment {raced.id} of") from None
            raise CloudflareOperationError(
                f"{s.action}: {s.subject}: a deployment ({self._describe(raced)}) landed just before the plane "
                "deployed its copies; it was put back as it was, so the change has not reached this Worker. "
                "Re-run: it copies what is deployed now.")
        if mine != 0:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject}: a deployment ({self._describe(history[0])}) landed right after the plane "
                "deployed its copies and now serves the Worker; the change may not reach it. Re-run.")

    @staticmethod
    def _describe(deployment: DeploymentInfo | None) -> str:
        if deployment is None:
            return "no deployment"
        return f"deployment {deployment.id}: " + ", ".join(f"{v}@{p:g}%" for v, p in deployment.split)

    @staticmethod
    def _in_flight(s: _Session, split: Sequence[tuple[str, float]], latest: str, reason: str) -> CloudflareOperationError:
        script = s.props.get("script_name")
        deployed = ", ".join(f"{vid} ({pct:g}%)" for vid, pct in split) or "none"
        # Back to the version most requests already run (the stable side of a gradual rollout).
        back = max(split, key=lambda v: v[1])[0] if split else "<version>"
        return CloudflareOperationError(
            f"{s.action}: {s.subject} has versions in flight: deployed {deployed}; latest {latest} is not deployed "
            f"at 100%, so Cloudflare refuses the write (10214). The plane never deploys code that was not deployed, "
            f"and cannot copy the deployed versions: {reason}. Nothing was written to this Worker. Either finish the "
            f"rollout (wrangler versions deploy {latest}@100% --name {script}) or roll back (wrangler rollback "
            f"{back} --name {script}), then re-run.")

    # ---- delete ---------------------------------------------------------------------------------

    def _remove(self, props: Mapping[str, Any]) -> None:
        specs = [s for s in props.get("bindings") or [] if owned(s)]
        if not specs or not props.get("script_name"):
            return
        s = _Session(props, "delete")
        chg = Changes(removed=tuple(sorted(x["name"] for x in specs)),
                      removed_store=tuple(sorted(x["name"] for x in specs if x["type"] == STORE)))
        message = chg.message(str(props.get("stack") or "?"))
        with s:
            if chg.needs_settings:
                self._remove_by_settings(s, specs, chg, message)
            else:
                self._remove_by_bulk(s, chg, message)

    def _remove_by_bulk(self, s: _Session, chg: Changes, message: str) -> None:
        try:
            self._write_batches(s, bulk_operations(chg, {}), message)
            return
        except APIError as exc:
            if worker_gone(exc):
                return  # the Worker is gone, and its bindings with it
            codes = error_codes(exc)
            if VERSION_NOT_DEPLOYED_SECRETS in codes or VERSION_NOT_DEPLOYED_SETTINGS in codes:
                self._versions_apply(s, [], {}, chg, message)
                return
            if not isinstance(exc, NotFoundError):
                raise s.fail(exc, "removing secrets from") from None
        # A 404 about a secret, not the Worker: one the state holds is gone already. Remove what is
        # still there (the batches written before it removed theirs).
        try:
            live, _ = s.api.read()
            left = tuple(name for name in chg.removed if name in live)
            if left:
                self._write_batches(s, bulk_operations(Changes(removed=left), {}), message)
        except APIError as exc:
            if worker_gone(exc):
                return
            raise s.fail(exc, "removing secrets from") from None

    def _remove_by_settings(self, s: _Session, specs: list[dict[str, Any]], chg: Changes, message: str) -> None:
        try:
            live, read_at = s.api.read()
        except APIError as exc:
            if worker_gone(exc):
                return
            raise s.fail(exc, "reading bindings of") from None
        managed = {x["name"] for x in specs}
        if not managed & set(live):
            return  # nothing of ours is there: no write, no new Worker version
        write = settings_write([], {}, live, chg, managed)
        try:
            result = s.api.write_settings(write.bindings, message)
        except APIError as exc:
            if VERSION_NOT_DEPLOYED_SETTINGS in error_codes(exc):
                self._versions_apply(s, [], {}, chg, message)
                return
            raise s.fail(exc, "writing bindings of") from None
        s.landed.append("the settings write made (1 new version)")
        _, dropped = missing_after(write, result)
        self._check_after_write(s, read_at, result, [], dropped, managed)
