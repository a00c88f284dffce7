"""Read-only views of the live account, through the official SDK (canary, audit, import,
adopt-store, preflight).

A Worker is read as what it serves: its active deployment and the bindings of each deployed
version (two calls for a Worker deployed at 100%), not the latest version, which may be an
upload nobody deployed. Never a value: bindings are stripped of `text` on the way in.

The first call of a command is made without the SDK's silent retries on a refused token or an
unreachable API: a wrong token or base URL is said at once, not after seconds of backoff. A 429 or
5xx on it is retried as usual (the account is there; it is busy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cloudflare
from cloudflare import APIError, Cloudflare, omit

from ..api.client import describe_failure as _describe
from ..api.client import make_client, worker_gone
from ..api.permissions import READ_ONLY
from ..api.workers import DeploymentInfo, WorkerApi
from ..core.errors import CloudflareOperationError

# The binding types that carry a credential.
SECRET_TYPES = ("secret_text", "secrets_store_secret")
RETRIED = (408, 409, 429)  # and every 5xx: what the SDK retries
T = TypeVar("T")


def describe_failure(exc: Exception, action: str, subject: str, not_found_hint: str) -> CloudflareOperationError:
    """As the write path says it, with the permissions a live check needs: read only."""
    return _describe(exc, action, subject, not_found_hint, permissions=READ_ONLY)


@dataclass(frozen=True)
class LiveStoreSecret:
    id: str
    name: str
    status: str
    scopes: tuple[str, ...]
    modified: str
    comment: str


@dataclass
class LiveWorker:
    script: str
    split: list[tuple[str, float]]  # the active deployment: (version id, percentage)
    bindings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # version id -> name -> binding

    @property
    def in_flight(self) -> bool:
        """More than one version serves (a gradual deployment), or none at 100%."""
        return len(self.split) != 1 or self.split[0][1] != 100.0

    def describe_split(self) -> str:
        return ", ".join(f"{vid} ({pct:g}%)" for vid, pct in self.split)


@dataclass(frozen=True)
class ScriptInfo:
    """A script of the account as the scripts listing shows it (its latest version's settings)."""

    name: str
    has_assets: bool
    modified_on: str | None


class LiveAccount:
    """Lazily reads and caches what one command needs; every failure becomes a clear error."""

    def __init__(self, account_id: str, client: Cloudflare | None = None):
        self.account_id = account_id
        self._client = client or make_client()
        self._reached = False
        self._workers: dict[str, LiveWorker | None] = {}
        self._settings: dict[str, dict[str, dict[str, Any]] | None] = {}

    @property
    def client(self) -> Cloudflare:
        return self._client

    def call(self, fn: Callable[[Cloudflare], T]) -> T:
        """Run one read. Until one has reached the API, no silent retry: a connection failure or a
        refused token is raised at once; a 429 or 5xx is retried as usual."""
        if self._reached:
            return fn(self._client)
        try:
            result = fn(self._client.with_options(max_retries=0))
        except cloudflare.APIConnectionError:
            raise CloudflareOperationError(
                f"could not reach the Cloudflare API at {self._client.base_url} (the first call failed to connect; "
                "nothing was retried). Check the network and CLOUDFLARE_BASE_URL (unset, it is Cloudflare's own "
                "API), then re-run.") from None
        except cloudflare.APIStatusError as exc:
            if exc.status_code not in RETRIED and exc.status_code < 500:
                self._reached = True  # it answered: the caller says what the answer means
                raise
            result = fn(self._client)
        self._reached = True
        return result

    def api(self, script: str) -> WorkerApi:
        return WorkerApi(self._client, self.account_id, script)

    def _worker_call(self, script: str, fn: Callable[[WorkerApi], T]) -> T:
        return self.call(lambda client: fn(WorkerApi(client, self.account_id, script)))

    def worker(self, script: str) -> LiveWorker | None:
        """What the Worker serves, or None when it does not exist."""
        if script not in self._workers:
            try:
                deployment = self._worker_call(script, lambda api: api.deployment())
                live = LiveWorker(script, list(deployment.split) if deployment else [])
                for version_id, _ in live.split:
                    live.bindings[version_id] = {b["name"]: b for b in self.api(script).version(version_id).bindings}
            except APIError as exc:
                if worker_gone(exc):
                    self._workers[script] = None
                    return None
                raise describe_failure(exc, "reading the deployment of", f"script '{script}'",
                                       "Check the script name in secrets_manifest.yaml.") from None
            self._workers[script] = live
        return self._workers[script]

    def deployments(self, script: str) -> list[DeploymentInfo] | None:
        """The Worker's deployments, newest first, or None when it does not exist (one call)."""
        try:
            return self._worker_call(script, lambda api: api.deployments())
        except APIError as exc:
            if worker_gone(exc):
                return None
            raise describe_failure(exc, "reading the deployments of", f"script '{script}'",
                                   "Check the script name in secrets_manifest.yaml.") from None

    def worker_bindings(self, script: str) -> dict[str, dict[str, Any]] | None:
        """The latest version's bindings by name (one settings read), or None when it does not exist."""
        if script not in self._settings:
            try:
                bindings, _ = self._worker_call(script, lambda api: api.read())
            except APIError as exc:
                if worker_gone(exc):
                    self._settings[script] = None
                    return None
                raise describe_failure(exc, "reading bindings of", f"script '{script}'",
                                       "Check the script name in secrets_manifest.yaml.") from None
            self._settings[script] = bindings
        return self._settings[script]

    def latest_version(self, script: str) -> tuple[str, str | None] | None:
        """(id, created_on) of the newest version, or None when the Worker does not exist."""
        try:
            versions = self._worker_call(script, lambda api: api.versions(per_page=1))
        except APIError as exc:
            if worker_gone(exc):
                return None
            raise describe_failure(exc, "listing versions of", f"script '{script}'", "") from None
        if not versions:
            return None
        created = versions[0].created_on
        return versions[0].id, created.isoformat().replace("+00:00", "Z") if created else None

    def scripts(self) -> dict[str, ScriptInfo]:
        """Every Worker script of the account by name (one call)."""
        try:
            listing = self.call(lambda c: list(c.workers.scripts.list(account_id=self.account_id)))
        except APIError as exc:
            raise describe_failure(exc, "listing the Worker scripts of", f"account {self.account_id}", "") from None
        return {s.id: ScriptInfo(s.id, bool(s.has_assets), s.modified_on.isoformat() if s.modified_on else None)
                for s in listing if s.id}

    def stores(self) -> dict[str, str]:
        """store id -> name."""
        try:
            return self.call(lambda c: {store.id: store.name for store in c.secrets_store.stores.list(
                account_id=self.account_id)})
        except APIError as exc:
            raise describe_failure(exc, "listing stores of", f"account {self.account_id}", "") from None

    def store_exists(self, store_id: str) -> bool:
        return store_id in self.stores()

    def find_store(self, name: str) -> str | None:
        return next((sid for sid, sname in self.stores().items() if sname == name), None)

    def store_secrets(self, store_id: str, per_page: int | None = None) -> dict[str, LiveStoreSecret]:
        """name -> secret, never a value (the API has none to give)."""
        def listing(client: Cloudflare) -> dict[str, LiveStoreSecret]:
            found = {}
            pages = client.secrets_store.stores.secrets.list(store_id, account_id=self.account_id,
                                                             per_page=per_page if per_page else omit)
            for s in pages:
                found[s.name] = LiveStoreSecret(s.id, s.name, s.status, tuple(sorted(s.scopes or [])),
                                                s.modified.isoformat().replace("+00:00", "Z"), s.comment or "")
            return found

        try:
            return self.call(listing)
        except cloudflare.NotFoundError:
            return {}
        except APIError as exc:
            raise describe_failure(exc, "listing secrets of", f"store {store_id}",
                                   "Check secrets-plane:store in the stack file.") from None

    def store_quota(self) -> tuple[int, int] | None:
        """(quota, usage) of the account's store secrets, or None when the endpoint is not there."""
        try:
            answer = self.call(lambda c: c.secrets_store.quota.get(account_id=self.account_id))
        except cloudflare.NotFoundError:
            return None
        except APIError as exc:
            raise describe_failure(exc, "reading the Secrets Store quota of", f"account {self.account_id}", "") from None
        return (int(answer.secrets.quota), int(answer.secrets.usage)) if answer is not None else None
