"""Paged listings read at the documented maximum page size, with no extra call past the end.

The SDK's paginators ask for one more page after the last full one (they stop only on an empty
page). Here a listing stops on a short page, or once `result_info.total_count` items are in: a
store of 100 secrets is one call, not the default page size's six or a full page's two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# The documented maximum `per_page` of the listings the plane reads: store secrets, stores and the
# Workers API's listing of Workers.
LISTING_PAGE_MAX = 100


def every_item(fetch: Callable[[int, int], Any], per_page: int = LISTING_PAGE_MAX,
               enough: Callable[[list[Any]], bool] = lambda _: False) -> list[Any]:
    """Every item of a paged listing. `fetch(page, per_page)` makes ONE call and returns the SDK's
    page object (its `result` and `result_info`), never iterated: iterating it would page on.
    `enough(page_items)`: stop after this page (a listing sorted so that the rest cannot matter)."""
    items: list[Any] = []
    page = 1
    while True:
        answer = fetch(page, per_page)
        chunk = list(getattr(answer, "result", None) or [])
        items += chunk
        info = getattr(answer, "result_info", None)
        total = getattr(info, "total_count", None) if info is not None else None
        if len(chunk) < per_page or (isinstance(total, int) and len(items) >= total) or enough(chunk):
            return items
        page += 1
