"""The Worker calls the plane makes, through the official SDK, for one script.

Each function is one API call (the bench counts them); none keeps a binding's value: every
binding read back is stripped of `text` before anything else sees it. Failures are the SDK's
exceptions; callers turn them into errors people can act on (client.describe_failure).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # Types only: the Pulumi program imports this module (through the provider) and has no use for
    # the SDK's generated types, a tenth of a second to import.
    from cloudflare import Cloudflare
    from cloudflare.types.workers.beta.workers.version_create_params import VersionCreateParams
    from cloudflare.types.workers.scripts import deployment_create_params
    from cloudflare.types.workers.scripts.script_and_version_setting_edit_params import Settings, SettingsBinding
    from cloudflare.types.workers.scripts.secret_bulk_update_params import Secrets

from ..core.limits import ANNOTATION_MESSAGE_MAX_BYTES, ANNOTATION_TAG_MAX_BYTES

VERSION_TAG = "secrets-plane"
VERSIONS_PAGE = 10  # newest versions read with a Worker's deployment: the served ones are nearly always among them
# Fields that can carry a value: never kept from a response, whatever the binding's type.
_VALUE_FIELDS = ("text", "key_base64", "key_jwk", "json")


def public(binding: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in binding.items() if k not in _VALUE_FIELDS and v is not None}


def _truncate(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "..."


def version_annotations(message: str) -> dict[str, str]:
    """`workers/message` and `workers/tag` for a version the plane makes (names only, never a
    value; annotations are not inherited across writes, so every write sends them)."""
    return {"workers/message": _truncate(message, ANNOTATION_MESSAGE_MAX_BYTES),
            "workers/tag": _truncate(VERSION_TAG, ANNOTATION_TAG_MAX_BYTES)}


@dataclass(frozen=True)
class VersionFacts:
    """A version as the Workers API lists it: its bindings (values stripped), who made it and when,
    and its annotations (the plane's own copies carry `workers/tag: secrets-plane`). No code."""

    id: str
    number: int
    created_on: dt.datetime | None
    bindings: dict[str, dict[str, Any]]
    annotations: dict[str, str]
    author: str | None = None

    @property
    def by_plane(self) -> bool:
        return self.annotations.get("workers/tag") == VERSION_TAG

    @property
    def message(self) -> str:
        return self.annotations.get("workers/message", "")

    def describe(self) -> str:
        """`<id> (uploaded by <who> at <when>)`, for messages."""
        who = "this plane" if self.by_plane else (self.author or "someone")
        when = self.created_on.isoformat().replace("+00:00", "Z") if self.created_on else "an unknown time"
        return f"{self.id} (uploaded by {who} at {when})"


def version_facts(raw: Mapping[str, Any]) -> VersionFacts:
    """A Workers API version (its JSON) as facts; bindings stripped of anything that can hold a value."""
    annotations = raw.get("annotations") or {}
    return VersionFacts(str(raw.get("id")), int(raw.get("number") or 0), _parse_time(raw.get("created_on")),
                        {b["name"]: public(b) for b in raw.get("bindings") or [] if isinstance(b, Mapping)},
                        {str(k): str(v) for k, v in annotations.items() if isinstance(v, str)},
                        raw.get("author_email"))


# Percentages are compared to a thousandth, the precision wrangler's `versions deploy` works to
# (its EPSILON = 0.001, percentages shown with toFixed(3)): an answer of 9.9999999 for 10 is 10.
PERCENT_DECIMALS = 3


@dataclass(frozen=True)
class DeploymentInfo:
    """One deployment: its id, the versions it serves, as (version id, percentage), and when it was
    made (the Workers listing's `deployed_on` of a Worker is its newest deployment's `created_on`)."""

    id: str
    split: tuple[tuple[str, float], ...]
    created_on: str | None = None

    @property
    def traffic(self) -> frozenset[tuple[str, float]]:
        """What it serves, as a set: the same versions at the same percentages, in any order."""
        return frozenset((version, round(pct, PERCENT_DECIMALS)) for version, pct in self.split)

    def serves_as(self, other: DeploymentInfo | None) -> bool:
        return other is not None and self.traffic == other.traffic

    @property
    def version_ids(self) -> list[str]:
        return [version for version, _ in self.split]

    def describe(self) -> str:
        return f"deployment {self.id}: " + ", ".join(f"{v}@{p:g}%" for v, p in self.split)


def iso_time(when: dt.datetime | None) -> str | None:
    """A time as the plane records it: ISO 8601, UTC, `Z`."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _server_time(headers: Mapping[str, str]) -> dt.datetime | None:
    """A response's `Date` (whole seconds, by the account's clock), or None without one."""
    try:
        return email.utils.parsedate_to_datetime(headers.get("date") or "")
    except (TypeError, ValueError):
        return None


class WorkerApi:
    def __init__(self, client: Cloudflare, account_id: str, script: str):
        self.client, self.account_id, self.script = client, account_id, script
        self.calls = 0
        # When the last write answered, by the account's clock (its `Date`, whole seconds): the
        # deployment it made is no later, give or take the fraction of a second the header drops
        # (a later drift check then reads the Worker once more: never the other way round). None:
        # no write, or an answer without `Date`.
        self.deployed_by: str | None = None

    def _count(self) -> None:
        self.calls += 1

    def _wrote(self, headers: Mapping[str, str]) -> None:
        when = _server_time(headers)
        self.deployed_by = iso_time(when) if when is not None else None

    # ---- script level --------------------------------------------------------------------------
    def write_settings(self, bindings: Sequence[Mapping[str, Any]], message: str) -> dict[str, dict[str, Any]]:
        """One settings PATCH: the whole bindings list (others as `inherit`) and the annotations.
        Returns the new version's bindings by name (values stripped)."""
        self._count()
        notes = version_annotations(message)
        settings = cast("Settings", {
            "bindings": cast("list[SettingsBinding]", list(bindings)),
            "annotations": {"workers_message": notes["workers/message"], "workers_tag": notes["workers/tag"]},
        })
        raw = self.client.workers.scripts.script_and_version_settings.with_raw_response.edit(
            self.script, account_id=self.account_id, settings=settings)
        self._wrote(raw.headers)
        result = raw.parse()
        return {b["name"]: b for b in (public(x.model_dump(exclude_none=True)) for x in result.bindings or [])}

    def bulk(self, secrets: Mapping[str, Mapping[str, str] | None], message: str) -> None:
        """One secrets-bulk PATCH: secret_text values to set, `None` to delete, everything not
        named left as it is (no read, no inherit list). At most 100 operations: callers batch."""
        self._count()
        raw = self.client.workers.scripts.secrets.with_raw_response.bulk_update(
            self.script, account_id=self.account_id,
            secrets=cast("dict[str, Secrets | None]", dict(secrets)),
            # The SDK's "Optional version tags to apply to the new script version": the same two
            # annotation keys the settings write sends.
            version_tags=dict(version_annotations(message)),
        )
        self._wrote(raw.headers)

    # ---- versions (the Workers API) ------------------------------------------------------------
    def versions(self, per_page: int = VERSIONS_PAGE) -> list[VersionFacts]:
        """The newest versions with their bindings, newest first: one page of the Workers API's
        listing (`GET /workers/workers/{name}/versions`)."""
        self._count()
        raw = self.client.workers.beta.workers.versions.with_raw_response.list(
            self.script, account_id=self.account_id, per_page=per_page)
        items = raw.http_response.json().get("result") or []
        return sorted((version_facts(v) for v in items if isinstance(v, Mapping) and v.get("id")),
                      key=lambda v: v.number, reverse=True)

    def version(self, version_id: str) -> VersionFacts:
        """One version's facts and bindings, without its code."""
        self._count()
        raw = self.client.workers.beta.workers.versions.with_raw_response.get(
            version_id, account_id=self.account_id, worker_id=self.script)
        return version_facts(raw.http_response.json()["result"])

    def version_source(self, version_id: str) -> dict[str, Any]:
        """Everything a version is, its modules included (`?include=modules`), as the API's JSON:
        a copy is planned from this (version_copies.py), unknown fields included, so that nothing
        the plane does not know how to carry goes unseen. Binding values are never in a read."""
        self._count()
        raw = self.client.workers.beta.workers.versions.with_raw_response.get(
            version_id, account_id=self.account_id, worker_id=self.script, include="modules")
        result = raw.http_response.json()["result"]
        result["bindings"] = [public(b) for b in result.get("bindings") or []]
        return dict(result)

    def create_version(self, params: Mapping[str, Any]) -> VersionFacts:
        """One version made with the Workers API (`POST /workers/workers/{name}/versions`, JSON),
        not deployed. Returns it as the API made it, bindings included, to be checked before any
        deployment."""
        self._count()
        # The planned fields come from the version read (JSON): their names are checked here, against
        # the SDK's VersionCreateParams; their shapes are the API's own, sent back as read.
        typed = cast("VersionCreateParams", {**params, "account_id": self.account_id})
        raw = self.client.workers.beta.workers.versions.with_raw_response.create(self.script, **typed)
        return version_facts(raw.http_response.json()["result"])

    # ---- deployments ---------------------------------------------------------------------------
    def deployments(self) -> list[DeploymentInfo]:
        """The Worker's deployments, newest (the active one) first."""
        # The API answers `result: {deployments: [...]}`, newest first (what wrangler's
        # fetchLatestDeployment reads); the SDK's paginated `list()` expects `result.items` and so
        # finds none: parse the raw result with the SDK's own model instead.
        from cloudflare.types.workers.scripts.deployment_list_response import DeploymentListResponse

        self._count()
        raw = self.client.workers.scripts.deployments.with_raw_response.list(self.script, account_id=self.account_id)
        listing = DeploymentListResponse.model_validate(raw.http_response.json()["result"])
        return [DeploymentInfo(str(d.id), tuple((v.version_id, float(v.percentage)) for v in d.versions),
                               iso_time(d.created_on))
                for d in listing.deployments or []]

    def deployment(self) -> DeploymentInfo | None:
        """The active deployment, or None when the Worker has none."""
        listing = self.deployments()
        return listing[0] if listing else None

    def deploy(self, split: Sequence[tuple[str, float]], message: str, force: bool = False) -> DeploymentInfo:
        """One deployment of these versions at these percentages; returns it as the API made it.
        `force`: deploy even where Cloudflare refuses a rollback whose secrets changed (10220)."""
        from cloudflare import omit

        self._count()
        made = self.client.workers.scripts.deployments.create(
            self.script, account_id=self.account_id, strategy="percentage",
            versions=[cast("deployment_create_params.Version", {"version_id": v, "percentage": p}) for v, p in split],
            annotations=cast("deployment_create_params.Annotations",
                             {"workers_message": version_annotations(message)["workers/message"]}),
            force=True if force else omit)
        self.deployed_by = iso_time(made.created_on)
        return DeploymentInfo(str(made.id), tuple((v.version_id, float(v.percentage)) for v in made.versions),
                              iso_time(made.created_on))
