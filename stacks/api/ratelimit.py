"""Pace every Cloudflare call of this process by the account's own rate-limit headers.

Cloudflare's global limit (1,200 requests per 5 minutes per user, shared with the dashboard and
every other token) blocks ALL calls for five minutes once exceeded. Each response says what is
left: `Ratelimit: "default";r=<left>;t=<seconds to reset>` and `Ratelimit-Policy:
"default";q=<quota>;w=<window>`, and a 429 says `retry-after`. The official Python SDK honours
`retry-after` only up to 60 s and never reads `Ratelimit`, so a long apply would trip the block and
then fail its retries. This transport keeps a reserve of the quota for everyone else and, when an
apply would eat into it, waits for the window to reset instead of sending.

One pacer per process: the dynamic-provider host serves several resource operations at once,
and they share the account's budget.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from dataclasses import dataclass

import httpx

from ..core.limits import API_REQUESTS_PER_WINDOW

_RATELIMIT = re.compile(r"r=(\d+)\s*;\s*t=(\d+)")
_POLICY = re.compile(r"q=(\d+)")
RESERVE_FRACTION = 0.1  # of the quota, left for the dashboard, other tokens and other jobs


@dataclass
class PaceStats:
    requests: int = 0
    waited_s: float = 0.0
    limited: int = 0  # 429 answers seen


class Pacer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.quota = API_REQUESTS_PER_WINDOW
        self.blocked_until = 0.0
        self.in_flight = 0
        self.total = PaceStats()

    @property
    def reserve(self) -> int:
        override = os.environ.get("SECRETS_PLANE_RATE_RESERVE")
        if override is not None:
            return max(0, int(override))
        return math.ceil(self.quota * RESERVE_FRACTION)

    def thread_stats(self) -> PaceStats:
        stats: PaceStats | None = getattr(self._local, "stats", None)
        if stats is None:
            stats = PaceStats()
            self._local.stats = stats
        return stats

    def acquire(self) -> None:
        """Block until sending one more request keeps the reserve intact (or the block is over)."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                if now < self.blocked_until:
                    wait = self.blocked_until - now
                elif (self.remaining is not None and now < self.reset_at
                      and self.remaining - self.in_flight <= self.reserve):
                    wait = self.reset_at - now
                else:
                    # The last response's `r` minus what is in flight since: the server's count.
                    self.in_flight += 1
                    break
            step = min(wait, 5.0) + 0.01
            time.sleep(step)
            waited += step
        stats = self.thread_stats()
        stats.requests += 1
        stats.waited_s += waited
        with self._lock:
            self.total.requests += 1
            self.total.waited_s += waited

    def release(self, response: httpx.Response | None) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)
            if response is None:
                return
            now = time.monotonic()
            policy = _POLICY.search(response.headers.get("ratelimit-policy", ""))
            if policy:
                self.quota = int(policy.group(1))
            limit = _RATELIMIT.search(response.headers.get("ratelimit", ""))
            if limit:
                self.remaining = int(limit.group(1))
                self.reset_at = now + int(limit.group(2))
            if response.status_code == 429:
                self.total.limited += 1
                self.thread_stats().limited += 1
                retry_after = response.headers.get("retry-after")
                try:
                    seconds = float(retry_after) if retry_after is not None else 0.0
                except ValueError:
                    seconds = 0.0
                self.blocked_until = max(self.blocked_until, now + seconds)


PACER = Pacer()


class PacedTransport(httpx.HTTPTransport):
    """An httpx transport that asks the process's pacer before each request and feeds it each
    response's rate-limit headers."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        PACER.acquire()
        response: httpx.Response | None = None
        try:
            response = super().handle_request(request)
            return response
        finally:
            PACER.release(response)
