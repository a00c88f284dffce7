"""Outputs of values that are already known, built without the SDK's per-leaf lifting.

`Output.from_input` / `Output.secret` turn every leaf of a dict or list into an Output of its
own, with a future and a task each; for plain data (strings, numbers, lists, dicts) that work
changes nothing, and at 200 Workers of 25 bindings it is most of a preview's time."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi

_SCALARS = (str, int, float, bool, type(None))


def is_plain(value: Any) -> bool:
    """True when `value` holds no Output, Resource, input type or awaitable at any depth."""
    if isinstance(value, _SCALARS):
        return True
    if type(value) is dict:
        return all(type(k) is str and is_plain(v) for k, v in value.items())
    if type(value) is list:
        return all(is_plain(v) for v in value)
    return False


def known_output(value: Any, *, secret: bool) -> pulumi.Output[Any]:
    """A known Output of plain `value` with no resource dependencies: what `Output.from_input`
    (or `Output.secret`) would make of it, in one Output instead of one per leaf."""
    loop = asyncio.get_event_loop()

    def done(result: Any) -> asyncio.Future[Any]:
        future = loop.create_future()
        future.set_result(result)
        return future

    return pulumi.Output(set(), done(value), done(True), done(secret))
