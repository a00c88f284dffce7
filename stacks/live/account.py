"""Read-only views of the live account, through the official SDK (canary, audit, import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudflare import APIError, Cloudflare, NotFoundError

from ..api.client import describe_failure, make_client

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


class LiveAccount:
    """Lazily reads and caches what one command needs; every failure becomes a clear error."""

    def __init__(self, account_id: str, client: Cloudflare | None = None):
        self.account_id = account_id
        self.client = client or make_client()
        self._bindings: dict[str, dict[str, dict[str, Any]] | None] = {}

    def worker_bindings(self, script: str) -> dict[str, dict[str, Any]] | None:
        """binding name -> binding (never a value), or None when the Worker does not exist."""
        if script not in self._bindings:
            try:
                settings = self.client.workers.scripts.script_and_version_settings.get(
                    script, account_id=self.account_id)
            except NotFoundError:
                self._bindings[script] = None
                return None
            except APIError as exc:
                raise describe_failure(exc, "reading bindings of", f"script '{script}'",
                                       "Check the script name in secrets_manifest.yaml.") from None
            found: dict[str, dict[str, Any]] = {}
            for binding in settings.bindings or []:
                data = binding.model_dump(exclude_none=True)
                data.pop("text", None)
                found[data["name"]] = data
            self._bindings[script] = found
        return self._bindings[script]

    def latest_version_date(self, script: str) -> str | None:
        try:
            page = self.client.workers.scripts.versions.list(script, account_id=self.account_id)
            dates = [v.metadata.created_on for v in page.result.items or [] if v.metadata and v.metadata.created_on] \
                if page.result else []
        except NotFoundError:
            return None
        except APIError as exc:
            raise describe_failure(exc, "listing versions of", f"script '{script}'", "") from None
        return max(dates) if dates else None

    def store_exists(self, store_id: str) -> bool:
        try:
            return any(store.id == store_id for store in self.client.secrets_store.stores.list(account_id=self.account_id))
        except APIError as exc:
            raise describe_failure(exc, "listing stores of", f"account {self.account_id}", "") from None

    def find_store(self, name: str) -> str | None:
        try:
            for store in self.client.secrets_store.stores.list(account_id=self.account_id):
                if store.name == name:
                    return store.id
        except APIError as exc:
            raise describe_failure(exc, "listing stores of", f"account {self.account_id}", "") from None
        return None

    def store_secrets(self, store_id: str) -> dict[str, LiveStoreSecret]:
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
