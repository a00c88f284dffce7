"""Writes to a Worker whose latest version does not serve all its traffic (a gradual rollout, an
upload nobody deployed, a rollback): Cloudflare refuses script-level writes then (10214, 10215),
so each version that serves is copied with the change and the copies are deployed at the same
split. Code that was never deployed is never deployed, and nobody else's deployment is undone.

Read top to bottom, as the write runs:

1. read: the active deployment, then each served version whole (`GET /workers/workers/{name}/
   versions/{id}?include=modules`, the Workers API's documented read of a version's code and
   settings);
2. plan (pure, `plan_copy`): the copy is the version in every field the read returns, except the
   bindings the plane manages and the annotations; `COPY_FIELDS` says what becomes of each field,
   and anything that cannot be carried faithfully refuses the write before anything is uploaded;
3. upload: `POST /workers/workers/{name}/versions` (JSON, not deployed), each answer checked to
   hold every binding it must before anything is deployed;
4. deploy: the deployment is read again right before; if another one landed meanwhile, the plane
   converges on top of it (copies what it serves, at its split) instead of replacing it;
5. verify: the deployment history is read back; a deployment that landed just before ours (which
   ours displaced) or just after it is converged on top of in the same way. Only when its versions
   cannot be copied is a displaced deployment put back, exactly as it was (with `force` where
   Cloudflare refuses a rollback whose secrets changed, 10220), and only while ours still serves.

Every error says what serves traffic now and what a re-run will do. A run stopped anywhere leaves
at worst copies that serve nothing; the re-run reads what serves and copies it again (a stopped
run's copies are never deployed by a later one: their secret values cannot be read back to check).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudflare import APIError

from ..api.client import ROLLBACK_SECRETS_CHANGED, CloudflareOperationError, error_codes
from ..api.live_state import LiveState, read_live
from ..api.workers import PERCENT_DECIMALS, DeploymentInfo, VersionFacts
from .engine_log import ENGINE
from .write_plan import INHERIT, STORE, TEXT, Changes, as_desired, live_matches, owned, taken

if TYPE_CHECKING:
    from .bindings_provider import Session

# ---- what a copy does with each field of the version it copies --------------------------------
# Every field of the Workers API's `Version` (SDK cloudflare.types.workers.beta.workers.version),
# by its name on the wire; tests/test_version_copies.py holds this table to the SDK's types and
# docs/architecture.md renders it (python -m stacks.reference).
CARRIED = "carried"
CHANGED = "changed"
REPLACED = "replaced"
OUTPUT = "output only"
WHEN_SAFE = "carried when safe"
LEFT_OUT = "left out once run"
REFUSED = "refused"

COPY_FIELDS: dict[str, tuple[str, str]] = {
    "modules": (CARRIED, "the version's own code and source maps, re-sent as read (base64)"),
    "main_module": (CARRIED, "the module the version runs"),
    "compatibility_date": (CARRIED, "the runtime the version was built for"),
    "compatibility_flags": (CARRIED, "the runtime the version was built for"),
    "limits": (CARRIED, "the version's CPU and subrequest limits"),
    "placement": (CARRIED, "Smart or targeted placement, whole"),
    "usage_model": (CARRIED, "the version's usage model"),
    "cache_options": (CARRIED, "the version's cache settings"),
    "containers": (CARRIED, "the containers attached to its Durable Object classes (without them, Containers "
                            "would be turned off for those classes)"),
    "package_dependencies": (CARRIED, "the record of what the code was built with"),
    "exports": (WHEN_SAFE, "carried when every export is live (`created`); one `expecting-transfer` refuses the "
                           "copy: the copy would take part in a Durable Object transfer that is under way"),
    "migrations": (LEFT_OUT, "not sent when `migration_tag` shows they ran (a copy runs no migration again); "
                              "refused when they have not run"),
    "bindings": (CHANGED, "the change applied; every other binding inherited from that version by id"),
    "annotations": (REPLACED, "the copy's own `workers/message` (the change, and which version it copies) and "
                              "`workers/tag: secrets-plane`"),
    "assets": (REFUSED, "a version gets static assets only from an upload session's `jwt`, and no documented call "
                        "keeps another version's assets: a copy would serve none"),
    "id": (OUTPUT, "the API gives the copy its own"),
    "number": (OUTPUT, "the API gives the copy its own"),
    "created_on": (OUTPUT, "the API gives the copy its own"),
    "urls": (OUTPUT, "each version has its own preview URLs"),
    "author_email": (OUTPUT, "the copy's author is the plane's token"),
    "author_id": (OUTPUT, "the copy's author is the plane's token"),
    "source": (OUTPUT, "the client that made the copy"),
    "startup_time_ms": (OUTPUT, "measured by the platform from the code"),
    "exports_reconciliation": (OUTPUT, "a summary of the upload that made the version"),
    "migration_tag": (OUTPUT, "the Worker's Durable Object migration state, set when a version is deployed"),
}
WORKERS_SITES_MANIFEST = "__STATIC_CONTENT_MANIFEST"
MAX_ROUNDS = 3  # deployments converged on in one apply before the plane stops and says so


class CopyRefused(Exception):
    """A served version cannot be copied faithfully: the reasons, one per field."""

    def __init__(self, version_id: str, reasons: Sequence[str]):
        super().__init__("; ".join(reasons))
        self.version_id = version_id
        self.reasons = list(reasons)


@dataclass(frozen=True)
class Why:
    """Why the write moved on to another deployment: what that one did, and the plane's own
    deployment (or the one it copied) at that moment."""

    what: str
    before: DeploymentInfo

    @property
    def displaced(self) -> bool:
        return "displaced" in self.what


@dataclass(frozen=True)
class CopyPlan:
    """One copy: the version it copies, the create request, and what its answer must show."""

    source: str
    params: dict[str, Any]                    # VersionCreateParams fields, without the account
    expected: dict[str, dict[str, Any]]       # managed binding -> the shape the copy must have
    inherited: tuple[str, ...]                # other bindings, inherited from the source: must be there


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _final_tag(migrations: Mapping[str, Any]) -> Any:
    return migrations.get("new_tag")


def refusals(version: Mapping[str, Any]) -> list[str]:
    """Why a version cannot be copied faithfully (empty: it can), each naming its field. Pure:
    the write and preflight ask the same question of the same read."""
    reasons = []
    for key in sorted(version):
        if key not in COPY_FIELDS and not _empty(version[key]):
            reasons.append(f"`{key}` (a field the plane does not know how to carry)")
    if not _empty(version.get("assets")):
        reasons.append(f"static assets (`assets`): {COPY_FIELDS['assets'][1]}")
    exports = version.get("exports") or {}
    moving = sorted(name for name, export in exports.items()
                    if isinstance(export, Mapping) and export.get("state") not in (None, "created"))
    if moving:
        reasons.append(f"Durable Object exports in transfer ({', '.join(moving)}): a copy would take part in it")
    migrations = version.get("migrations")
    if not _empty(migrations) and (not isinstance(migrations, Mapping)
                                   or _final_tag(migrations) != version.get("migration_tag")):
        reasons.append("Durable Object `migrations` that have not run (`migration_tag` does not show them): a copy "
                       "would run them")
    if "modules" in version:
        names = {m.get("name") for m in version.get("modules") or [] if isinstance(m, Mapping)}
        main = version.get("main_module")
        if not main or main not in names:
            reasons.append("its code is not an ES module Worker (no `main_module` among its modules: a service-worker "
                           "script)")
        if WORKERS_SITES_MANIFEST in names:
            reasons.append("Workers Sites (`__STATIC_CONTENT_MANIFEST`): its site is not part of a version copy")
    return reasons


def copy_bindings(version_id: str, bindings: Mapping[str, Mapping[str, Any]], specs: Sequence[Mapping[str, Any]],
                  values: Mapping[str, str], chg: Changes) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The copy's bindings (the change applied to `bindings`, the version's own) and the names it
    inherits from that version (not from the latest one). Values only where a value is written."""
    desired = {spec["name"]: spec for spec in specs}
    out: list[dict[str, Any]] = []
    inherited: list[str] = []

    def inherit(name: str) -> None:
        out.append({"type": INHERIT, "name": name, "version_id": version_id})
        inherited.append(name)

    for name, binding in bindings.items():
        spec = desired.get(name)
        if spec is None:
            if name not in chg.removed:
                inherit(name)
        elif spec["type"] == STORE:
            out.append({"type": STORE, "name": name, "store_id": spec["store_id"], "secret_name": spec["secret_name"]})
        elif not owned(spec) or (name not in chg.set_values and live_matches(binding, spec)):
            inherit(name)
        else:
            out.append({"type": TEXT, "name": name, "text": values[name]})
    for name, spec in desired.items():
        if name in bindings or not owned(spec):
            continue  # an external binding the version lacks stays missing: the plane never sets its value
        if spec["type"] == STORE:
            out.append({"type": STORE, "name": name, "store_id": spec["store_id"], "secret_name": spec["secret_name"]})
        else:
            out.append({"type": TEXT, "name": name, "text": values[name]})
    return out, tuple(inherited)


def plan_copy(version: Mapping[str, Any], percentage: float, specs: Sequence[Mapping[str, Any]],
              values: Mapping[str, str], chg: Changes, previously_managed: set[str], message: str) -> CopyPlan:
    """The create request of one copy of `version` (the Workers API read, modules included).
    Raises CopyRefused when a field cannot be carried faithfully or a managed name is taken by a
    binding the plane does not manage (the rule every write path shares)."""
    version_id = str(version.get("id"))
    reasons = refusals(version)
    bindings = {b["name"]: b for b in version.get("bindings") or []}
    reasons += [f"binding {conflict}, which the manifest did not create: the plane never touches a binding it does "
                "not manage" for spec in specs if (conflict := taken(bindings.get(spec["name"]), spec,
                                                                       previously_managed))]
    if reasons:
        raise CopyRefused(version_id, reasons)
    params: dict[str, Any] = {key: version[key] for key, (treatment, _) in COPY_FIELDS.items()
                              if treatment == CARRIED and not _empty(version.get(key))}
    params["modules"] = [{"name": m["name"], "content_type": m["content_type"], "content_base64": m["content_base64"]}
                         for m in version.get("modules") or []]
    if not _empty(version.get("exports")):
        params["exports"] = version["exports"]
    sent, inherited = copy_bindings(version_id, bindings, specs, values, chg)
    params["bindings"] = sent
    from ..api.workers import version_annotations

    notes = version_annotations(f"{message}, copy of {version_id} at {percentage:g}%")
    params["annotations"] = {"workers/message": notes["workers/message"], "workers/tag": notes["workers/tag"]}
    expected = {b["name"]: ({"type": TEXT} if b["type"] == TEXT else dict(b, type=STORE)) for b in sent
                if b["type"] in (TEXT, STORE)}
    for name, spec in ((s["name"], s) for s in specs if not owned(s) and s["name"] in bindings):
        expected[name] = {"type": spec["type"]}
    return CopyPlan(version_id, params, expected, inherited)


def wrong_in_copy(plan: CopyPlan, made: VersionFacts) -> list[str]:
    """What the copy the API made lacks or misstates, by binding name (empty: it is the plan)."""
    wrong = [name for name, shape in plan.expected.items()
             if made.bindings.get(name) is None or not live_matches(made.bindings[name], {"name": name, **shape})]
    wrong += [name for name in plan.inherited if name not in made.bindings]
    return sorted(wrong)


# ---- the write --------------------------------------------------------------------------------

class RolloutWrite:
    """One version-aware write of one Worker (see the module's docstring)."""

    def __init__(self, session: Session, specs: Sequence[Mapping[str, Any]], values: Mapping[str, str],
                 chg: Changes, previously_managed: set[str], message: str):
        self.s, self.specs, self.values, self.chg = session, specs, values, chg
        self.previously, self.message = previously_managed, message
        self.copies: set[str] = set()            # the versions this write made
        self.bindings: dict[str, Mapping[str, Mapping[str, Any]]] = {}  # version id -> its bindings, as read
        self.uploaded_unused = 0
        self.last_read: DeploymentInfo | None = None  # the latest deployment read: what serves, as far as known
        self.latest: VersionFacts | None = None

    def apply(self, live: LiveState | None = None) -> list[str]:
        """Write the change to every served version. Returns the external bindings no served
        version has (left out of the state, so the next preview shows them)."""
        s = self.s
        s.path = "versions"
        # 1. read
        if live is None:
            try:
                live = read_live(s.api)
            except APIError as exc:
                raise s.fail(exc, "reading the deployment of") from None
        if live.deployment is None:
            raise CloudflareOperationError(
                f"{s.action}: {s.subject} has no deployment, so nothing serves its traffic and there is nothing to "
                f"write to; nothing was written. Deploy it (wrangler deploy), then re-run.")
        self.last_read, self.latest = live.deployment, live.latest
        self.bindings.update({vid: facts.bindings for vid, facts in live.versions.items()})
        self._say_what_stays(live)
        # `target`: the deployment whose versions get the change; `active`: what serves as far as the
        # plane knows (the same, except after a deployment the plane's own displaced).
        target: DeploymentInfo = live.deployment
        active: DeploymentInfo = target
        why: Why | None = None
        for _ in range(MAX_ROUNDS):
            # Asked before the versions are read whole (their bindings may be known from the listing)
            # and after (those of a deployment that landed meanwhile are known only then).
            if self._done(target, why):
                return self._external_missing(target)
            sources = self._read_sources(target, why)
            if self._done(target, why):
                return self._external_missing(target)
            # 2. plan, 3. upload
            made = self._upload(self._plan(target, sources, why))
            # 4. deploy: only onto the deployment the copies were made from.
            now = self._deployment()
            if now is None or not active.serves_as(now):
                if now is None:
                    raise CloudflareOperationError(
                        f"{s.action}: {s.subject}: its deployment disappeared while the plane copied its versions; "
                        f"nothing was deployed ({self._unused()}). Re-run once the Worker is deployed.")
                target = active = now
                why = Why("landed while the plane copied the versions it served", target)
                continue
            deployed = self._deploy(made)
            # 5. verify
            after = self._verify(deployed, active)
            if after is None:
                return self._external_missing(target)
            target, why = after
            active = deployed if why.displaced else target
        raise CloudflareOperationError(
            f"{s.action}: {s.subject}: other deployments kept landing while the plane wrote ({MAX_ROUNDS} in a row); "
            f"it stopped. Traffic serves {self._now_text()}. Re-run when the Worker's deploys have settled: it writes "
            "what serves then.")

    def _say_what_stays(self, live: LiveState) -> None:
        upload = live.undeployed_latest
        if upload is None:
            return
        if upload.by_plane:
            ENGINE.info(self.s.urn, f"secrets-plane: {self.s.subject}: its latest version {upload.describe()} is a copy "
                                    "an earlier run made and never deployed: it serves nothing and is superseded by "
                                    "this write.")
        elif as_desired(upload.bindings, self.specs, self.chg.removed) and not self.chg.set_values:
            ENGINE.warning(self.s.urn, f"secrets-plane: {self.s.subject}: its latest version {upload.describe()} serves "
                                       "no traffic. The plane writes the versions that serve and leaves that upload as "
                                       "it is (its bindings already are the manifest's).")
        else:
            ENGINE.warning(self.s.urn, f"secrets-plane: {self.s.subject}: its latest version {upload.describe()} serves "
                                       "no traffic. The plane writes the versions that serve and leaves that upload as "
                                       "it is: it does not carry this change, so deploying it later would serve "
                                       "without it (upload it again after this apply).")

    def _done(self, target: DeploymentInfo, why: Why | None) -> bool:
        """The change is in every version `target` serves. A displaced deployment that already holds
        it only has to serve again, exactly as it was."""
        if not self._already(target):
            return False
        if why is not None and why.displaced:
            self._redeploy(target, why.before, "it already holds the change")
        return True

    def _ours(self, deployment: DeploymentInfo) -> bool:
        return all(vid in self.copies for vid in deployment.version_ids)

    def _already(self, target: DeploymentInfo) -> bool:
        """Every version the deployment serves is this write's copy, or already holds the change
        (shapes only: with a value to write, only the plane's own copies do)."""
        if self._ours(target):
            return True
        if self.chg.set_values:
            return False
        known = [self.bindings.get(vid) for vid in target.version_ids]
        return all(b is not None and as_desired(b, self.specs, self.chg.removed) for b in known)

    def _external_missing(self, target: DeploymentInfo) -> list[str]:
        served = [self.bindings[vid] for vid in target.version_ids if vid in self.bindings]
        return sorted(spec["name"] for spec in self.specs
                      if not owned(spec) and served and all(spec["name"] not in b for b in served))

    def _read_sources(self, target: DeploymentInfo, why: Why | None) -> list[dict[str, Any]]:
        sources = []
        for version_id in target.version_ids:
            try:
                source = self.s.api.version_source(version_id)
            except APIError as exc:
                raise self._stopped(target, why, f"version {version_id} could not be read ({type(exc).__name__})") \
                    from None
            self.bindings[version_id] = {b["name"]: b for b in source.get("bindings") or []}
            sources.append(source)
        return sources

    # 2. plan ---------------------------------------------------------------------------------
    def _plan(self, target: DeploymentInfo, sources: list[dict[str, Any]], why: Why | None) -> list[tuple[CopyPlan, float]]:
        plans = []
        for source, (_, percentage) in zip(sources, target.split, strict=True):
            try:
                plans.append((plan_copy(source, percentage, self.specs, self.values, self.chg, self.previously,
                                        self.message), percentage))
            except CopyRefused as refused:
                raise self._stopped(target, why, f"version {refused.version_id} cannot be copied faithfully: "
                                                 f"{'; '.join(refused.reasons)}") from None
        return plans

    # 3. upload -------------------------------------------------------------------------------
    def _upload(self, plans: list[tuple[CopyPlan, float]]) -> list[tuple[str, float]]:
        s = self.s
        made: list[tuple[str, float]] = []
        for plan, percentage in plans:
            try:
                copy = s.api.create_version(plan.params)
            except APIError as exc:
                raise s.fail(exc, f"copying version {plan.source} of", list(self.values.values())) from None
            s.versions += 1
            self.copies.add(copy.id)
            self.bindings[copy.id] = copy.bindings
            self.uploaded_unused += 1
            wrong = wrong_in_copy(plan, copy)
            if wrong:
                raise CloudflareOperationError(
                    f"{s.action}: {s.subject}: the copy of version {plan.source} was made without {', '.join(wrong)} as "
                    f"sent, so nothing was deployed ({self._unused()}). Traffic serves {self._now_text()}. Re-run: it "
                    "copies what serves then.")
            # To the precision deployments are compared at: a share read back as 9.9999999 is sent as 10.
            made.append((copy.id, round(percentage, PERCENT_DECIMALS)))
            s.landed[:] = [f"{len(made)} of {len(plans)} version copies uploaded ({self._unused()}), no deployment "
                           "made"]
        return made

    # 4. deploy -------------------------------------------------------------------------------
    def _deploy(self, made: list[tuple[str, float]]) -> DeploymentInfo:
        s = self.s
        try:
            deployed = s.api.deploy(made, self.message)
        except APIError as exc:
            raise s.fail(exc, "deploying the copied versions of") from None
        self.uploaded_unused = 0
        self.last_read = deployed
        s.landed[:] = [f"the version copies deployed ({deployed.describe()})"]
        return deployed

    # 5. verify -------------------------------------------------------------------------------
    def _verify(self, deployed: DeploymentInfo, made_from: DeploymentInfo) -> tuple[DeploymentInfo, Why] | None:
        """None when the copies serve as deployed; else the deployment to converge on next, and why."""
        s = self.s
        try:
            history = s.api.deployments()
        except APIError as exc:
            raise s.fail(exc, "checking the deployment of") from None
        self.last_read = history[0] if history else None
        mine = next((i for i, d in enumerate(history) if d.id == deployed.id), None)
        if mine is None or not history[mine].serves_as(deployed):
            raise CloudflareOperationError(
                f"{s.action}: {s.subject}: the deployment of the copies is not listed as it was sent "
                f"({history[mine].describe() if mine is not None else 'it is not listed'}); traffic serves "
                f"{self._now_text()}. Re-run: it writes what serves then.")
        if mine > 0 and not self._ours(history[0]):
            # Someone deployed after ours: their deployment stands, and the change goes on top of it.
            return history[0], Why("landed right after the plane deployed its copies", deployed)
        displaced = history[mine + 1] if mine + 1 < len(history) else None
        if displaced is not None and not displaced.serves_as(made_from) and not self._ours(displaced):
            # One landed between the plane's last check and its own deployment, which replaced it: the
            # change goes on top of it too (its versions, at its split).
            return displaced, Why("landed just before the plane deployed its copies, which displaced it", deployed)
        return None

    # ---- telling the truth ---------------------------------------------------------------------
    def _deployment(self) -> DeploymentInfo | None:
        try:
            now = self.s.api.deployment()
        except APIError as exc:
            raise self.s.fail(exc, "reading the deployment of") from None
        self.last_read = now
        return now

    def _now_text(self) -> str:
        return self.last_read.describe() if self.last_read is not None else "nothing"

    def _unused(self) -> str:
        return (f"{self.uploaded_unused} uploaded copies serve no traffic" if self.uploaded_unused
                else "no uploaded copy is left unused")

    def _stopped(self, target: DeploymentInfo, why: Why | None, reason: str) -> CloudflareOperationError:
        """The write cannot go on with `target`'s versions: say why, what serves, and the way out."""
        s = self.s
        script = s.props.get("script_name")
        if why is None:
            served = ", ".join(f"{vid} ({pct:g}%)" for vid, pct in target.split) or "none"
            latest = self.latest.id if self.latest is not None else "<version>"
            back = max(target.split, key=lambda v: v[1])[0] if target.split else "<version>"
            return CloudflareOperationError(
                f"{s.action}: {s.subject} has versions in flight: deployed {served}; latest {latest} is not deployed "
                f"at 100%, so Cloudflare refuses the write (10214). The plane never deploys code that was not "
                f"deployed, and cannot copy the deployed versions: {reason}. Nothing was written to this Worker. "
                f"Either finish the rollout (wrangler versions deploy {latest}@100% --name {script}) or roll back "
                f"(wrangler rollback {back} --name {script}), then re-run.")
        if why.displaced:
            return self._put_back(target, why.before, reason)
        return CloudflareOperationError(
            f"{s.action}: {s.subject}: a deployment ({target.describe()}) {why.what}, and the change cannot be written to "
            f"it: {reason}. That deployment stands and serves without the change; {self._unused()}. Re-run once it can "
            "be written (one version serving all traffic, or versions that can be copied).")

    def _put_back(self, displaced: DeploymentInfo, ours: DeploymentInfo, reason: str) -> CloudflareOperationError:
        """The displaced deployment's versions cannot be copied: put it back as it was, and say so."""
        s = self.s
        put_back = self._redeploy(displaced, ours, f"its versions cannot be copied ({reason})")
        return CloudflareOperationError(
            f"{s.action}: {s.subject}: a deployment ({displaced.describe()}) landed just before the plane deployed its "
            f"copies, which displaced it, and its versions cannot be copied ({reason}). It was put back as it was: "
            f"traffic serves {put_back.describe()} again, without the change. Re-run once it can be written.")

    def _redeploy(self, displaced: DeploymentInfo, ours: DeploymentInfo, why: str) -> DeploymentInfo:
        """Deploy again exactly the deployment ours displaced: only while ours still serves (a later
        one is never undone, and the refusal says what serves), with `force` only where Cloudflare
        refuses it as a rollback whose secrets changed (10220)."""
        s = self.s
        now = self._deployment()
        if not ours.serves_as(now):
            raise CloudflareOperationError(
                f"{s.action}: {s.subject}: a deployment ({displaced.describe()}) landed just before the plane deployed "
                f"its copies, which displaced it, and {why}; a later deployment serves now ({self._now_text()}) and "
                "was left standing, so nothing was put back. Re-run: it writes what serves then.")
        restore = f"secrets-plane: restore deployment {displaced.id}, displaced by a concurrent write " \
                  f"({s.props.get('stack') or '?'})"
        try:
            try:
                put_back = s.api.deploy(list(displaced.split), restore)
            except APIError as exc:
                if ROLLBACK_SECRETS_CHANGED not in error_codes(exc):
                    raise
                # Its versions are older than our copies and hold other secret values: Cloudflare asks
                # for `force` to deploy them again, which is exactly what putting it back means.
                put_back = s.api.deploy(list(displaced.split), restore, force=True)
        except APIError as exc:
            raise s.fail(exc, f"putting back deployment {displaced.id} of") from None
        self.last_read = put_back
        return put_back
