"""Read-only views of the live account, through the official SDK (canary, audit, import, adopt-store).

A Worker is read as what it serves: its active deployment and the bindings of each deployed
version (two calls for a Worker deployed at 100%), not the latest version, which may be an
upload nobody deployed. Never a value: bindings are stripped of `text` on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudflare import APIError, Cloudflare, NotFoundError

from ..api.client import describe_failure, make_client
from ..api.workers import WorkerApi

# The binding types that carry a credential.
SECRET_TYPES = ("secret_text", "secrets_store_secret")


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


class LiveAccount:
    """Lazily reads and caches what one command needs; every failure becomes a clear error."""

    def __init__(self, account_id: str, client: Cloudflare | None = None):
        self.account_id = account_id
        self.client = client or make_client()
        self._workers: dict[str, LiveWorker | None] = {}
        self._settings: dict[str, dict[str, dict[str, Any]] | None] = {}

    def api(self, script: str) -> WorkerApi:
        return WorkerApi(self.client, self.account_id, script)

    def worker(self, script: str) -> LiveWorker | None:
        """What the Worker serves, or None when it does not exist."""
        if script not in self._workers:
            api = self.api(script)
            try:
                deployment = api.deployment()
                live = LiveWorker(script, list(deployment.split) if deployment else [])
                for version_id, _ in live.split:
                    live.bindings[version_id] = {b["name"]: b for b in api.version(version_id).bindings}
            except NotFoundError:
                self._workers[script] = None
                return None
            except APIError as exc:
                raise describe_failure(exc, "reading the deployment of", f"script '{script}'",
                                       "Check the script name in secrets_manifest.yaml.") from None
            self._workers[script] = live
        return self._workers[script]

    def worker_bindings(self, script: str) -> dict[str, dict[str, Any]] | None:
        """The latest version's bindings by name (one settings read), or None when it does not exist."""
        if script not in self._settings:
            try:
                bindings, _ = self.api(script).read()
            except NotFoundError:
                self._settings[script] = None
                return None
            except APIError as exc:
                raise describe_failure(exc, "reading bindings of", f"script '{script}'",
                                       "Check the script name in secrets_manifest.yaml.") from None
            self._settings[script] = bindings
        return self._settings[script]

    def latest_version(self, script: str) -> tuple[str, str | None] | None:
        """(id, created_on) of the newest version, or None when the Worker does not exist."""
        try:
            versions = self.api(script).versions(per_page=1)
        except NotFoundError:
            return None
        except APIError as exc:
            raise describe_failure(exc, "listing versions of", f"script '{script}'", "") from None
        if not versions:
            return None
        created = versions[0].created_on
        return versions[0].id, created.isoformat().replace("+00:00", "Z") if created else None

    def stores(self) -> dict[str, str]:
        """store id -> name."""
        try:
            return {store.id: store.name for store in self.client.secrets_store.stores.list(account_id=self.account_id)}
        except APIError as exc:
            raise describe_failure(exc, "listing stores of", f"account {self.account_id}", "") from None

    def store_exists(self, store_id: str) -> bool:
        return store_id in self.stores()

    def find_store(self, name: str) -> str | None:
        return next((sid for sid, sname in self.stores().items() if sname == name), None)

    def store_secrets(self, store_id: str) -> dict[str, LiveStoreSecret]:
        """name -> secret, never a value (the API has none to give)."""
        try:
            found = {}
            for s in self.client.secrets_store.stores.secrets.list(store_id, account_id=self.account_id):
                found[s.name] = LiveStoreSecret(s.id, s.name, s.status, tuple(sorted(s.scopes or [])),
                                                s.modified.isoformat().replace("+00:00", "Z"), s.comment or "")
            return found
        except NotFoundError:
            return {}
        except APIError as exc:
            raise describe_failure(exc, "listing secrets of", f"store {store_id}",
                                   "Check secrets-plane:store in the stack file.") from None
