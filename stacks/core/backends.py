"""The one rule that decides each binding's backend (phased adoption), in one function.

| stack pin | Worker `backend` | secret `backend` | manifest `backend` | binding | why                         |
|-----------|------------------|------------------|--------------------|---------|-----------------------------|
| -         | -                | -                | legacy             | legacy  | the flag                    |
| -         | -                | -                | store              | store   | the flag                    |
| -         | store            | -                | legacy             | store   | this Worker moved early     |
| -         | -                | store            | legacy             | store   | this secret moved early     |
| store     | -                | -                | legacy             | store   | this stack moved early      |
| legacy    | -                | -                | store              | legacy  | stack held back (or rolled back) |
| -         | legacy           | -                | store              | legacy  | Worker code not migrated    |
| -         | -                | legacy           | store              | legacy  | secret kept out of the store |
| store     | legacy           | store            | store              | legacy  | any hold wins               |

A secret's own setting (does the stack hold it in the store even where no Worker binds it
through the store, e.g. for AI Gateway) is the same rule with no Worker.
"""

from __future__ import annotations

from typing import Literal

Backend = Literal["legacy", "store"]


def resolve_backend(manifest: Backend, stack_pin: Backend | None = None, worker: Backend | None = None,
                    secret: Backend | None = None) -> Backend:
    """Legacy when any explicit legacy applies (holds always win); else store when anything says
    store; else legacy."""
    explicit = (stack_pin, worker, secret)
    if "legacy" in explicit:
        return "legacy"
    if "store" in explicit or manifest == "store":
        return "store"
    return "legacy"
