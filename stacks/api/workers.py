"""The Worker calls the plane makes, through the official SDK, for one script.

Each function is one API call (the bench counts them); none keeps a binding's value: every
binding read back is stripped of `text` before anything else sees it. Failures are the SDK's
exceptions; callers turn them into errors people can act on (client.describe_failure).
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.parser
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # Types only: the Pulumi program imports this module (through the provider) and has no use for
    # the SDK's generated types, a tenth of a second to import.
    from cloudflare import Cloudflare
    from cloudflare.types.workers.scripts import deployment_create_params, version_create_params
    from cloudflare.types.workers.scripts.script_and_version_setting_edit_params import Settings, SettingsBinding
    from cloudflare.types.workers.scripts.secret_bulk_update_params import Secrets

from ..core.limits import ANNOTATION_MESSAGE_MAX_BYTES, ANNOTATION_TAG_MAX_BYTES

VERSION_TAG = "secrets-plane"
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
class VersionInfo:
    id: str
    number: int
    created_on: dt.datetime | None


@dataclass(frozen=True)
class VersionDetail:
    """A version as its GET shows it: bindings (values stripped), `resources.script` and
    `resources.script_runtime` whole, and the cache settings beside `resources`."""

    id: str
    bindings: list[dict[str, Any]]
    script: dict[str, Any]
    runtime: dict[str, Any]
    cache_options: dict[str, Any] | None = None

    @property
    def compatibility_date(self) -> str | None:
        return self.runtime.get("compatibility_date") or None

    @property
    def compatibility_flags(self) -> list[str]:
        return list(self.runtime.get("compatibility_flags") or [])


@dataclass(frozen=True)
class DeploymentInfo:
    """One deployment: its id and the versions it serves, as (version id, percentage)."""

    id: str
    split: tuple[tuple[str, float], ...]


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class WorkerApi:
    def __init__(self, client: Cloudflare, account_id: str, script: str):
        self.client, self.account_id, self.script = client, account_id, script
        self.calls = 0

    def _count(self) -> None:
        self.calls += 1

    # ---- script level --------------------------------------------------------------------------
    def read(self) -> tuple[dict[str, dict[str, Any]], dt.datetime | None]:
        """The latest version's bindings by name, and the server's time of the read (`Date`)."""
        self._count()
        raw = self.client.workers.scripts.script_and_version_settings.with_raw_response.get(
            self.script, account_id=self.account_id)
        settings = raw.parse()
        server_time = None
        date = raw.headers.get("date")
        if date:
            server_time = email.utils.parsedate_to_datetime(date)
        bindings = [public(b.model_dump(exclude_none=True)) for b in settings.bindings or []]
        return {b["name"]: b for b in bindings}, server_time

    def write_settings(self, bindings: Sequence[Mapping[str, Any]], message: str) -> dict[str, dict[str, Any]]:
        """One settings PATCH: the whole bindings list (others as `inherit`) and the annotations.
        Returns the new version's bindings by name (values stripped)."""
        self._count()
        notes = version_annotations(message)
        settings = cast("Settings", {
            "bindings": cast("list[SettingsBinding]", list(bindings)),
            "annotations": {"workers_message": notes["workers/message"], "workers_tag": notes["workers/tag"]},
        })
        result = self.client.workers.scripts.script_and_version_settings.edit(
            self.script, account_id=self.account_id, settings=settings)
        return {b["name"]: b for b in (public(x.model_dump(exclude_none=True)) for x in result.bindings or [])}

    def bulk(self, secrets: Mapping[str, Mapping[str, str] | None], message: str) -> None:
        """One secrets-bulk PATCH: secret_text values to set, `None` to delete, everything not
        named left as it is (no read, no inherit list). At most 100 operations: callers batch."""
        self._count()
        self.client.workers.scripts.secrets.bulk_update(
            self.script, account_id=self.account_id,
            secrets=cast("dict[str, Secrets | None]", dict(secrets)),
            # The SDK's "Optional version tags to apply to the new script version": the same two
            # annotation keys the settings write sends.
            version_tags=dict(version_annotations(message)),
        )

    # ---- versions and deployments -------------------------------------------------------------
    def versions(self, per_page: int = 5) -> list[VersionInfo]:
        """The newest versions, newest first (one page)."""
        self._count()
        page = self.client.workers.scripts.versions.list(self.script, account_id=self.account_id, per_page=per_page)
        items = list(page.result.items or []) if page.result else []
        infos = [VersionInfo(v.id, int(v.number or 0), _parse_time(v.metadata.created_on if v.metadata else None))
                 for v in items if v.id]
        return sorted(infos, key=lambda v: v.number, reverse=True)

    def version(self, version_id: str) -> VersionDetail:
        # The SDK's typed `versions.get()` cannot parse a version's bindings (its `ResourcesBindings`
        # is not a model): read them from the raw response.
        self._count()
        raw = self.client.workers.scripts.versions.with_raw_response.get(
            version_id, account_id=self.account_id, script_name=self.script)
        result = raw.http_response.json()["result"]
        resources = result.get("resources") or {}
        cache = result.get("cache_options")
        return VersionDetail(version_id, [public(b) for b in resources.get("bindings") or []],
                             dict(resources.get("script") or {}), dict(resources.get("script_runtime") or {}),
                             dict(cache) if isinstance(cache, dict) else None)

    def deployments(self) -> list[DeploymentInfo]:
        """The Worker's deployments, newest (the active one) first."""
        # The API answers `result: {deployments: [...]}`, newest first (what wrangler's
        # fetchLatestDeployment reads); the SDK's paginated `list()` expects `result.items` and so
        # finds none: parse the raw result with the SDK's own model instead.
        from cloudflare.types.workers.scripts.deployment_list_response import DeploymentListResponse

        self._count()
        raw = self.client.workers.scripts.deployments.with_raw_response.list(self.script, account_id=self.account_id)
        listing = DeploymentListResponse.model_validate(raw.http_response.json()["result"])
        return [DeploymentInfo(str(d.id), tuple((v.version_id, float(v.percentage)) for v in d.versions))
                for d in listing.deployments or []]

    def deployment(self) -> DeploymentInfo | None:
        """The active deployment, or None when the Worker has none."""
        listing = self.deployments()
        return listing[0] if listing else None

    def content(self, version_id: str) -> tuple[str | None, list[tuple[str, bytes, str]]]:
        """A version's modules (name, bytes, content type) and its main module (`cf-entrypoint`)."""
        self._count()
        response = self.client.workers.scripts.content.get(
            self.script, account_id=self.account_id, extra_query={"version": version_id},
            extra_headers={"Accept": "multipart/form-data"})
        content_type = response.headers.get("content-type", "")
        message = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + response.read())
        modules: list[tuple[str, bytes, str]] = []
        if message.is_multipart():
            for part in cast(list[email.message.Message], message.get_payload()):
                name = part.get_filename() or part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True)
                modules.append((str(name), data if isinstance(data, bytes) else b"", part.get_content_type()))
        return response.headers.get("cf-entrypoint"), modules

    def upload(self, main_module: str, modules: Sequence[tuple[str, bytes, str]], bindings: Sequence[Mapping[str, Any]],
               settings: Mapping[str, Any], message: str) -> str:
        """Upload a version (not deployed) with these modules (source maps included, each with its
        content type), bindings and per-version settings (upload metadata fields: compatibility,
        placement, limits, usage_model, cache_options, exports). `bindings_inherit=strict`: an
        `inherit` that cannot be resolved fails the upload instead of being dropped silently."""
        self._count()
        notes = version_annotations(message)
        metadata: dict[str, Any] = {
            **settings,
            "main_module": main_module,
            "bindings": list(bindings),
            "annotations": {"workers_message": notes["workers/message"], "workers_tag": notes["workers/tag"]},
        }
        # As with versions.get(), the typed response cannot hold a version's bindings: read the id raw.
        raw = self.client.workers.scripts.versions.with_raw_response.create(
            self.script, account_id=self.account_id, metadata=cast("version_create_params.Metadata", metadata),
            bindings_inherit="strict", files=[(name, data, ctype) for name, data, ctype in modules])
        version_id = raw.http_response.json()["result"].get("id")
        if not version_id:
            raise ValueError("version upload answered without an id")
        return str(version_id)

    def deploy(self, split: Sequence[tuple[str, float]], message: str) -> DeploymentInfo:
        """One deployment of these versions at these percentages; returns it as the API made it."""
        self._count()
        made = self.client.workers.scripts.deployments.create(
            self.script, account_id=self.account_id, strategy="percentage",
            versions=[cast("deployment_create_params.Version", {"version_id": v, "percentage": p}) for v, p in split],
            annotations=cast("deployment_create_params.Annotations",
                             {"workers_message": version_annotations(message)["workers/message"]}))
        return DeploymentInfo(str(made.id), tuple((v.version_id, float(v.percentage)) for v in made.versions))
