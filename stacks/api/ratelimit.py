"""Pace every Cloudflare call of this process by the account's own rate-limit headers.

Cloudflare's global limit (1,200 requests per 5 minutes per user, shared with the dashboard and
every other token) blocks ALL calls for five minutes once exceeded. Each response says what is
left: `Ratelimit: "default";r=<left>;t=<seconds to reset>` and `Ratelimit-Policy:
"default";q=<quota>;w=<window>` (both HTTP structured-field Lists, RFC 9651: parameters in any
order, possibly several items, one per limit), and a 429 says `retry-after`. The official Python
SDK honours `retry-after` only up to 60 s and never reads `Ratelimit`, so a long apply would trip
the block and then fail its retries. This transport keeps a reserve of each limit's quota for
everyone else and, when an apply would eat into it, waits for that window to reset instead of
sending. With several limits, each is kept: the most restrictive decides the wait.

One pacer per process: the dynamic-provider host serves several resource operations at once,
and they share the account's budget. Whoever waits is told why and for how long (`listen`): the
provider relays it to the Pulumi engine, the live commands to stderr.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
from http_sfv.list import List as StructuredList

from ..core.limits import API_REQUESTS_PER_WINDOW

RESERVE_FRACTION = 0.1  # of the quota, left for the dashboard, other tokens and other jobs
STEP_S = 5.0  # a long wait is slept in steps, so a block lifted early (a new header) is seen


@dataclass(frozen=True)
class LimitItem:
    """One item of a `Ratelimit` header: a named limit, the requests left, seconds to its reset."""

    name: str
    remaining: int
    reset_s: int


def _items(header: str) -> list[tuple[str, dict[str, object]]]:
    """(name, parameters) of each item of a structured-field List; [] when the header is absent or
    not a valid List (a malformed header must never stop a call)."""
    if not header:
        return []
    parsed = StructuredList()
    try:
        parsed.parse(header.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return []
    out = []
    for item in parsed:
        name = getattr(item, "value", None)
        params = dict(getattr(item, "params", {}) or {})
        out.append((str(name), params))
    return out


def parse_ratelimit(header: str) -> list[LimitItem]:
    """Every limit of a `Ratelimit` header that states both `r` and `t` as integers."""
    limits = []
    for name, params in _items(header):
        left, reset = params.get("r"), params.get("t")
        if isinstance(left, int) and isinstance(reset, int) and not isinstance(left, bool) \
                and not isinstance(reset, bool):
            limits.append(LimitItem(name, left, reset))
    return limits


def parse_policy(header: str) -> dict[str, int]:
    """Quota by policy name from a `Ratelimit-Policy` header."""
    return {name: q for name, params in _items(header)
            if isinstance(q := params.get("q"), int) and not isinstance(q, bool)}


@dataclass
class PaceStats:
    requests: int = 0
    waited_s: float = 0.0
    limited: int = 0  # 429 answers seen


@dataclass(frozen=True)
class Wait:
    """What a caller is told when the pacer holds a request back."""

    seconds: float
    reason: str


Listener = Callable[[Wait], None]


@dataclass
class _LimitState:
    remaining: int
    reset_at: float
    quota: int


class Pacer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.limits: dict[str, _LimitState] = {}
        self.quotas: dict[str, int] = {}
        self.blocked_until = 0.0
        self.in_flight = 0
        self.total = PaceStats()
        self._listeners: list[Listener] = []

    def reserve(self, quota: int) -> int:
        override = os.environ.get("SECRETS_PLANE_RATE_RESERVE")
        if override is not None:
            return max(0, int(override))
        return math.ceil(quota * RESERVE_FRACTION)

    def thread_stats(self) -> PaceStats:
        stats: PaceStats | None = getattr(self._local, "stats", None)
        if stats is None:
            stats = PaceStats()
            self._local.stats = stats
        return stats

    @contextlib.contextmanager
    def listen(self, listener: Listener, *, this_thread: bool = True) -> Iterator[None]:
        """Tell `listener` about every wait: of this thread's requests, or (this_thread=False) of
        every request of the process."""
        if this_thread:
            previous = getattr(self._local, "listener", None)
            self._local.listener = listener
            try:
                yield
            finally:
                self._local.listener = previous
        else:
            with self._lock:
                self._listeners.append(listener)
            try:
                yield
            finally:
                with self._lock:
                    self._listeners.remove(listener)

    def _tell(self, wait: Wait) -> None:
        listeners = [getattr(self._local, "listener", None), *self._listeners]
        for listener in listeners:
            if listener is not None:
                listener(wait)

    def _hold(self, now: float) -> Wait | None:
        """Why sending one more request now would hurt, and for how long; None when it is fine."""
        if now < self.blocked_until:
            return Wait(self.blocked_until - now, "Cloudflare answered 429 (rate limited): waiting as its "
                                                  "retry-after asks")
        worst: Wait | None = None
        for name, state in self.limits.items():
            reserve = self.reserve(state.quota)
            if now < state.reset_at and state.remaining - self.in_flight <= reserve:
                wait = Wait(state.reset_at - now,
                            f"{max(0, state.remaining - self.in_flight)} of {state.quota} calls left in Cloudflare's "
                            f"API window ('{name}'), {reserve} kept for the dashboard and other tokens: waiting for "
                            "the window to reset")
                if worst is None or wait.seconds > worst.seconds:
                    worst = wait
        return worst

    def acquire(self) -> None:
        """Block until sending one more request keeps every reserve intact (or the block is over)."""
        waited = 0.0
        told_until = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                hold = self._hold(now)
                if hold is None:
                    # Each limit's last `r` minus what is in flight since: the server's count.
                    self.in_flight += 1
                    break
            if now + hold.seconds > told_until + 1.0:
                # A new wait, or one that grew: say so once, not at every step.
                self._tell(hold)
                told_until = now + hold.seconds
            step = min(hold.seconds, STEP_S) + 0.01
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
            self.quotas.update(parse_policy(response.headers.get("ratelimit-policy", "")))
            for item in parse_ratelimit(response.headers.get("ratelimit", "")):
                quota = self.quotas.get(item.name, API_REQUESTS_PER_WINDOW)
                self.limits[item.name] = _LimitState(item.remaining, now + item.reset_s, quota)
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
