"""Read-only views of the live account, through the official SDK (canary, audit, import,
adopt-store, preflight).

A Worker is read as what it serves (api/live_state.py): its active deployment and the bindings
of each deployed version, with the latest version as a fact beside them (two calls for almost
every Worker), never the latest version taken for what serves: it may be an upload nobody
deployed. Read once per command and shared by every check. Never a value: bindings are stripped
of `text` on the way in.

The first call of a command is made without the SDK's silent retries on a refused token or an
unreachable API: a wrong token or base URL is said at once, not after seconds of backoff. A 429 or
5xx on it is retried as usual (the account is there; it is busy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import cloudflare
from cloudflare import APIError, Cloudflare

from ..api.client import describe_failure as _describe
from ..api.client import make_client, worker_gone
from ..api.listing import every_item
from ..api.live_state import LiveState, read_live
from ..api.permissions import READ_ONLY
from ..api.workers import DeploymentInfo, WorkerApi, iso_time
from ..core.errors import CloudflareOperationError


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return _aware(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


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
        self._workers: dict[str, LiveState | None] = {}
        self._deployments: dict[str, list[DeploymentInfo] | None] = {}
        self._stores: dict[str, str] | None = None

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

    def worker(self, script: str) -> LiveState | None:
        """What the Worker serves (and its latest version), or None when it does not exist. Read
        once per command."""
        if script not in self._workers:
            if script in self._deployments and self._deployments[script] is None:
                return None  # its deployments read found no such script
            known = self._deployments.get(script)
            try:
                self._workers[script] = self._worker_call(script, lambda api: read_live(api, deployments=known))
            except APIError as exc:
                if worker_gone(exc):
                    self._workers[script] = None
                    return None
                raise describe_failure(exc, "reading the deployment of", f"script '{script}'",
                                       "Check the script name in secrets_manifest.yaml.") from None
        return self._workers[script]

    def deployment(self, script: str) -> tuple[bool, DeploymentInfo | None]:
        """(the script exists, its active deployment): one call, kept for a later `worker` read."""
        if script in self._workers:
            state = self._workers[script]
            return state is not None, state.deployment if state else None
        if script not in self._deployments:
            try:
                self._deployments[script] = self._worker_call(script, lambda api: api.deployments())
            except APIError as exc:
                if not worker_gone(exc):
                    raise describe_failure(exc, "reading the deployment of", f"script '{script}'",
                                           "Check the script name in secrets_manifest.yaml.") from None
                self._deployments[script] = None
        listing = self._deployments[script]
        return listing is not None, listing[0] if listing else None

    def version_source(self, script: str, version_id: str) -> dict[str, Any]:
        """One version whole (code and settings), as the write path reads it to copy it."""
        try:
            return self._worker_call(script, lambda api: api.version_source(version_id))
        except APIError as exc:
            raise describe_failure(exc, "reading a served version of", f"script '{script}'",
                                   "Check the script name in secrets_manifest.yaml.") from None

    def scripts(self) -> dict[str, ScriptInfo]:
        """Every Worker script of the account by name (one call)."""
        try:
            listing = self.call(lambda c: list(c.workers.scripts.list(account_id=self.account_id)))
        except APIError as exc:
            raise describe_failure(exc, "listing the Worker scripts of", f"account {self.account_id}", "") from None
        return {s.id: ScriptInfo(s.id, bool(s.has_assets), s.modified_on.isoformat() if s.modified_on else None)
                for s in listing if s.id}

    def deployed_on(self, since: str | None = None) -> dict[str, str | None]:
        """Workers of the account by name -> when its newest deployment was made (None: never
        deployed): the Workers API's listing, 100 a page. Every change of what a Worker serves (a
        deploy, a rollback, a gradual step, a secret or settings write) is a new deployment.
        `since`: only the Workers deployed after it are needed: the listing is read newest
        deployment first and stops at the first page that reaches back to `since`."""
        floor = _when(since)

        def reached(page: list[Any]) -> bool:
            last = getattr(page[-1], "deployed_on", None) if page else None
            return floor is not None and last is not None and _aware(last) <= floor

        def listing(c: Cloudflare) -> list[Any]:
            if floor is None:
                return every_item(lambda page, per_page: c.workers.beta.workers.list(
                    account_id=self.account_id, page=page, per_page=per_page))
            return every_item(lambda page, per_page: c.workers.beta.workers.list(
                account_id=self.account_id, page=page, per_page=per_page, order_by="deployed_on", order="desc"),
                enough=reached)

        try:
            workers = self.call(listing)
        except APIError as exc:
            raise describe_failure(exc, "listing the Workers of", f"account {self.account_id}", "") from None
        return {w.name: iso_time(w.deployed_on) for w in workers if w.name}

    def stores(self) -> dict[str, str]:
        """store id -> name (one listing, read once per command)."""
        if self._stores is None:
            try:
                self._stores = self.call(lambda c: {store.id: store.name for store in every_item(
                    lambda page, per_page: c.secrets_store.stores.list(account_id=self.account_id, page=page,
                                                                       per_page=per_page))})
            except APIError as exc:
                raise describe_failure(exc, "listing stores of", f"account {self.account_id}", "") from None
        return self._stores

    def store_exists(self, store_id: str) -> bool:
        return store_id in self.stores()

    def find_store(self, name: str) -> str | None:
        return next((sid for sid, sname in self.stores().items() if sname == name), None)

    def store_secrets(self, store_id: str) -> dict[str, LiveStoreSecret]:
        """name -> secret, never a value (the API has none to give). Read afresh on every call (the
        canary polls it), 100 per call: one call for a full store."""
        def listing(client: Cloudflare) -> dict[str, LiveStoreSecret]:
            found = {}
            for s in every_item(lambda page, per_page: client.secrets_store.stores.secrets.list(
                    store_id, account_id=self.account_id, page=page, per_page=per_page)):
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
