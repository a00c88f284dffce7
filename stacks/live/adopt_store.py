"""`adopt-store --stack S`: store secrets that already exist by name (made by hand or by another
tool during the beta) cannot be created by Pulumi ("already exists": the provider creates, it does
not adopt). This lists the account's store and writes the `pulumi import --file` document that
brings each one under the program's own logical name and parent, so the next `pulumi up` updates
it in place (its value is then the stack's value: values are write-only and cannot be imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.desired_state import DesiredState
from ..core.naming import COMPONENT_NAME, COMPONENT_TYPE, STORE_SECRET_TYPE, store_secret_resource, urn
from .account import LiveAccount
from .canary import resolve_store_id


@dataclass(frozen=True)
class Adoption:
    secret: str
    store_secret_name: str
    id: str
    previous: bool = False  # the `_PREVIOUS` store secret of a secret rotated with overlap


def adoptions(desired: DesiredState, live: LiveAccount) -> tuple[str | None, list[Adoption], list[str]]:
    """(store id, what to import, planned secrets not in the store yet)."""
    store_id = resolve_store_id(desired, live)
    planned = [s for s in desired.store_secrets if not s.external]
    if store_id is None or not planned:
        return store_id, [], [s.store_secret_name for s in planned]
    existing = live.store_secrets(store_id)
    found = [Adoption(s.secret, s.store_secret_name, f"{desired.account_id}/{store_id}/{existing[s.store_secret_name].id}",
                      s.slot == "previous")
             for s in planned if s.store_secret_name in existing]
    return store_id, found, [s.store_secret_name for s in planned if s.store_secret_name not in existing]


def import_document(stack: str, found: list[Adoption]) -> dict[str, Any]:
    """The `pulumi import --file` document: each resource with the program's type, logical name
    and parent (through the name table), and the id `<account_id>/<store_id>/<secret_id>`."""
    return {
        "nameTable": {"plane": urn(stack, COMPONENT_TYPE, COMPONENT_NAME)},
        "resources": [{"type": STORE_SECRET_TYPE, "name": store_secret_resource(a.secret, a.previous), "id": a.id,
                       "parent": "plane"} for a in found],
    }


def import_command(stack: str, path: str) -> str:
    # --protect=false: the program does not protect store secrets; --generate-code=false: the
    # program already declares them.
    return f"pulumi import --file {path} --stack {stack} --protect=false --generate-code=false --yes"
