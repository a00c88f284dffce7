"""A fake Cloudflare API on 127.0.0.1, modelled on the official SDK's generated types (cloudflare
5.9.0, itself generated from Cloudflare's OpenAPI spec) and on Cloudflare's docs. What each
endpoint does, and where that behaviour comes from, is said beside it. `tests/test_fake_conformance.py`
parses every response through the SDK's typed models, so the fake cannot drift from the spec
unnoticed.

Model: a Worker script is a list of immutable versions (bindings, modules, annotations) plus a
list of deployments (percentages over versions). Anything that changes bindings through the
script-level APIs (settings PATCH, secrets PUT, secrets-bulk PATCH) makes one new version from the
latest one and deploys it at 100%, and is refused while the latest version is not the one
deployed at 100% (codes 10214/10215). A version made with the Workers API (`POST
.../workers/workers/{name}/versions`) is not deployed unless asked; a deployment of versions older
than the active ones whose secrets changed is refused (10220) unless `force`.

It answers only what the schema and the SDK document: the classic `content/v2` returns the latest
code whatever a `version` parameter says (the schema has none; one published account of the live
API says it is ignored), the classic version read shows only the SDK's `resources` fields, and a
script's `has_assets` follows its static assets, not its bindings.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import math
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PREFIX = "/client/v4"
SECRET_TYPES = ("secret_text", "secret_key")
# Per-version settings the Workers API's version create states, under their names there (SDK
# cloudflare.types.workers.beta.workers.version_create_params); a version holds them in `runtime`.
CREATE_RUNTIME_FIELDS = ("placement", "limits", "cache_options", "usage_model", "exports", "containers",
                         "package_dependencies", "migrations")
# Of those, and of what the platform records, what the Workers API's Version shows.
VERSION_RUNTIME_FIELDS = CREATE_RUNTIME_FIELDS + ("migration_tag", "assets")


@dataclass(frozen=True)
class Request:
    """One request as it reached the fake: for the conformance test, which holds every request the
    plane makes to what the SDK documents."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: bytes


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Fault:
    method: str
    path_re: str
    kind: str = "status"  # status | drop | delay | echo
    status: int = 500
    times: int = 1
    retry_after: float | None = None
    delay_s: float = 0.0
    after: int = 0  # matching calls let through before the fault starts
    headers: dict[str, str] = field(default_factory=dict)  # e.g. the `Ratelimit` a 429 carries


@dataclass
class Hook:
    """Something else happens on the account just before a matching request is served: a
    `wrangler versions deploy` landing between two calls of the plane, say."""

    method: str  # or "*": any method
    path_re: str
    action: Callable[[], None]
    after: int = 0  # matching calls served before the hook runs
    times: int = 1


@dataclass
class Version:
    id: str
    number: int
    created_on: str
    bindings: list[dict[str, Any]]
    modules: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    main_module: str = "index.js"
    compatibility_date: str = "2025-09-01"
    compatibility_flags: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    source: str = "wrangler"
    # The per-version settings, under the Workers API's names (SDK beta Version and
    # VersionCreateParams): `placement`, `limits`, `cache_options`, `usage_model`, `exports`,
    # `containers`, `package_dependencies`, `migrations`, plus what the platform records:
    # `migration_tag` (set when a version with migrations is deployed) and `assets` (the static
    # assets attached to the version: {config, jwt}).
    runtime: dict[str, Any] = field(default_factory=dict)
    author_email: str = "ci@example.com"
    # Fields a newer API shows that no SDK type documents (tests of what the plane does with one).
    undocumented: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    id: str
    created_on: str
    versions: list[dict[str, Any]]  # [{"version_id", "percentage"}]
    annotations: dict[str, str] = field(default_factory=dict)
    source: str = "wrangler"


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Script:
    name: str
    history: list[Version] = field(default_factory=list)  # oldest first
    deployments: list[Deployment] = field(default_factory=list)  # oldest first
    clock: Callable[[], str] = _utcnow  # the account's clock, for versions made without a time
    # Script-level settings, not versioned: `PATCH .../script-settings` changes them, uploads and
    # deployments do not (SDK workers.scripts.settings: logpush, observability, tags, tail_consumers;
    # the settings PATCH's 10214 message names that endpoint for "logpush" and "tail_consumers").
    script_settings: dict[str, Any] = field(default_factory=lambda: {
        "logpush": False, "observability": None, "tags": [], "tail_consumers": []})

    # ---- views --------------------------------------------------------------------------------
    @property
    def latest(self) -> Version:
        return self.history[-1]

    @property
    def deployment(self) -> Deployment | None:
        return self.deployments[-1] if self.deployments else None

    @property
    def in_flight(self) -> bool:
        """The latest version is not the one deployed at 100% (an uploaded preview version, a
        gradual deployment, a rollback)."""
        d = self.deployment
        return d is None or d.versions != [{"version_id": self.latest.id, "percentage": 100.0}]

    @property
    def versions(self) -> int:
        return len(self.history)

    @property
    def bindings(self) -> list[dict[str, Any]]:
        return self.latest.bindings

    @bindings.setter
    def bindings(self, bindings: list[dict[str, Any]]) -> None:
        """Test shortcut for `wrangler deploy` with these bindings: a new version, deployed."""
        self.add_version([dict(b) for b in bindings], deploy=True, source="wrangler")

    def version(self, version_id: str) -> Version | None:
        return next((v for v in self.history if v.id == version_id), None)

    # ---- changes ------------------------------------------------------------------------------
    def add_version(self, bindings: list[dict[str, Any]], *, deploy: bool, source: str,
                    annotations: dict[str, str] | None = None, modules: dict[str, tuple[bytes, str]] | None = None,
                    main_module: str | None = None, created_on: str | None = None,
                    compatibility_date: str | None = None, compatibility_flags: list[str] | None = None,
                    runtime: dict[str, Any] | None = None) -> Version:
        """A new version. What it does not state comes from the latest one (a script-level write
        makes its version from the latest); an upload states everything (`runtime` given, even empty)."""
        number = len(self.history) + 1
        base = self.history[-1] if self.history else None
        version = Version(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/{number}")), number=number,
            created_on=created_on or self.clock(), bindings=bindings,
            modules=dict(modules if modules is not None else (base.modules if base else
                                                               {"index.js": (b"export default {}", "application/javascript+module")})),
            main_module=main_module or (base.main_module if base else "index.js"),
            compatibility_date=compatibility_date if compatibility_date is not None else (
                base.compatibility_date if base else "2025-09-01"),
            compatibility_flags=list(compatibility_flags if compatibility_flags is not None
                                     else (base.compatibility_flags if base else [])),
            annotations=dict(annotations or {}), source=source,
            runtime=dict(runtime if runtime is not None else (base.runtime if base else {})))
        self.history.append(version)
        if deploy:
            self.deploy([(version.id, 100.0)], source=source, created_on=version.created_on)
        return version

    def deploy(self, split: list[tuple[str, float]], source: str = "wrangler", created_on: str | None = None,
               annotations: dict[str, str] | None = None) -> Deployment:
        d = Deployment(id=str(uuid.uuid4()), created_on=created_on or _utcnow(),
                       versions=[{"version_id": v, "percentage": float(p)} for v, p in split],
                       annotations=dict(annotations or {}), source=source)
        self.deployments.append(d)
        return d


@dataclass
class StoreSecret:
    id: str
    name: str
    scopes: list[str]
    store_id: str = ""
    comment: str = ""
    status: str = "active"
    created: str = "2026-01-05T10:00:00Z"
    modified: str = "2026-01-05T10:00:00Z"
    # A new secret reads `pending` this many times before it turns `active`.
    pending_reads: int = 0
    value: str = ""  # write-only, as on Cloudflare: no response ever carries it

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "scopes": sorted(self.scopes), "store_id": self.store_id,
                "comment": self.comment, "status": self.status, "created": self.created, "modified": self.modified}


class RateLimit:
    """Cloudflare's global API limit: "1200 requests per five minutes per user ... If you exceed this
    limit, all API calls for the next five minutes will be blocked, receiving a HTTP 429 response".
    Headers as documented: `Ratelimit: "default";r=<left>;t=<seconds to reset>`,
    `Ratelimit-Policy: "default";q=<quota>;w=<window>`, and `retry-after` on a 429.
    Source: developers.cloudflare.com/fundamentals/api/reference/limits/ (rate limiting headers)."""

    def __init__(self, quota: int = 1200, window_s: float = 300.0, order: str = "rt"):
        self.quota, self.window_s = quota, window_s
        # Parameters of a structured-field item come in any order (RFC 9651): "tr" sends t first.
        self.order = order
        self.window_start = time.monotonic()
        self.count = 0
        self.windows = 1  # windows opened so far (the first, and one after each reset)
        self.blocked_until = 0.0
        self.limited = 0  # requests answered 429 by the limit (not by an injected fault)

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        if now < self.blocked_until:
            self.limited += 1
            return False, {"retry-after": str(math.ceil(self.blocked_until - now)), **self._headers(now, 0)}
        if now - self.window_start >= self.window_s:
            self.window_start, self.count = now, 0
            self.windows += 1
        self.count += 1
        if self.count > self.quota:
            self.blocked_until = now + self.window_s
            self.limited += 1
            return False, {"retry-after": str(math.ceil(self.window_s)), **self._headers(now, 0)}
        return True, self._headers(now, self.quota - self.count)

    def _headers(self, now: float, left: int) -> dict[str, str]:
        reset = max(1, math.ceil(self.window_start + self.window_s - now))
        params = {"r": f"r={left}", "t": f"t={reset}"}
        return {"Ratelimit": '"default";' + ";".join(params[k] for k in self.order),
                "Ratelimit-Policy": f'"default";q={self.quota};w={int(self.window_s)}'}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or dropped its connection (as the fault tests make it) is not
        # the server's error: say nothing, as a real API would; anything else is printed.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeCloudflare:
    def __init__(self, page_size: int = 20) -> None:
        self.scripts: dict[tuple[str, str], Script] = {}
        self.stores: dict[tuple[str, str], dict[str, Any]] = {}
        self.store_secrets: dict[str, dict[str, StoreSecret]] = {}
        # AI Gateway: gateways by (account, id), each gateway's provider configs by config id.
        self.gateways: dict[tuple[str, str], dict[str, Any]] = {}
        self.provider_configs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self.responses: list[tuple[str, str, int, Any]] = []  # method, path, status, payload
        self.requests: list[Request] = []
        # How a deployment's versions are answered (the API promises no order, and percentages are
        # floats): a function of the stored list, e.g. reversed, or 9.9999999 for 10.
        self.deployment_answer: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
        self.page_size = page_size
        self.denied_token: str | None = None
        # Paths the token may not read (a token scoped to some permissions only): 403 there.
        self.denied_paths: list[str] = []
        # The account's clock: the `Date` of every response and the created_on of new versions.
        # Simulated by default, so outputs are stable: it stands still between versions and moves
        # one second after each (a write follows its read within the second; an older version is
        # always older than a later read). None: the real clock.
        self.now: str | None = "2026-11-20T09:00:00Z"
        self.date_header = True  # False: responses without `Date` (a proxy that strips it)
        self.before_settings_write: Callable[[str, str], None] | None = None
        self.after_settings_write: Callable[[str, str], None] | None = None  # before its response
        # Unresolvable `inherit` bindings are "silently dropped" unless the caller asks for strict
        # (SDK: versions.create(bindings_inherit="strict") docstring). `drop_inherit` additionally
        # drops the named ones in the next `drop_inherit_writes` writes even when resolvable, to
        # model the API losing a binding.
        self.drop_inherit: set[str] = set()
        self.drop_inherit_writes = 0
        self.latency_s = 0.0
        self.ratelimit: RateLimit | None = None
        self.secret_pending_reads = 0  # how many reads a new store secret stays `pending`
        self.hooks: list[Hook] = []
        self.store_quota = 100  # store secrets per account (open beta)
        # A secrets-bulk `null` for a name the Worker lacks: a JSON merge patch removes nothing and
        # succeeds (RFC 7396, which the SDK's bulk_update docstring names); "404" answers as the
        # single-secret DELETE does for a missing binding (10056), to prove the provider tells the
        # two 404s apart.
        self.bulk_delete_missing = "ignore"
        self.lock = threading.RLock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeCloudflare:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    # ---- seeding and inspection -------------------------------------------------------------
    def version_time(self) -> str:
        """created_on for a new version, by the account's clock (which then moves one second)."""
        if self.now is None:
            return _utcnow()
        stamp = self.now
        moved = dt.datetime.fromisoformat(stamp) + dt.timedelta(seconds=1)
        self.now = moved.isoformat().replace("+00:00", "Z")
        return stamp

    def add_script(self, account: str, name: str, bindings: list[dict[str, Any]] | None = None) -> Script:
        script = Script(name, clock=self.version_time)
        script.add_version([dict(b) for b in bindings or []], deploy=True, source="wrangler",
                           created_on="2026-01-05T10:00:00Z")
        self.scripts[(account, name)] = script
        return script

    def deploy(self, account: str, name: str, bindings: list[dict[str, Any]]) -> None:
        """What `wrangler deploy` does: a new version with the bindings of its config, at 100%."""
        self.scripts[(account, name)].add_version([dict(b) for b in bindings], deploy=True, source="wrangler",
                                                  created_on=self.version_time())

    def upload_version(self, account: str, name: str, bindings: list[dict[str, Any]] | None = None,
                       code: bytes = b"export default { preview: true }", compatibility_date: str | None = None,
                       compatibility_flags: list[str] | None = None, runtime: dict[str, Any] | None = None,
                       modules: dict[str, tuple[bytes, str]] | None = None) -> Version:
        """What `wrangler versions upload` does: a new version, not deployed. `runtime`: its
        per-version settings (placement, limits, ...; default: the latest version's)."""
        script = self.scripts[(account, name)]
        return script.add_version([dict(b) for b in (bindings if bindings is not None else script.latest.bindings)],
                                  deploy=False, source="wrangler", created_on=self.version_time(),
                                  modules=modules or {"index.js": (code, "application/javascript+module")},
                                  compatibility_date=compatibility_date, compatibility_flags=compatibility_flags,
                                  runtime=runtime)

    def add_store(self, account: str, store_id: str, name: str = "default") -> None:
        self.stores[(account, store_id)] = {"id": store_id, "name": name, "created": "2026-01-01T00:00:00Z",
                                            "modified": "2026-01-01T00:00:00Z"}
        self.store_secrets.setdefault(store_id, {})

    def add_store_secret(self, store_id: str, secret: StoreSecret) -> None:
        secret.store_id = store_id
        self.store_secrets.setdefault(store_id, {})[secret.id] = secret

    def seed_store(self, account: str, store_id: str, names: list[str]) -> None:
        """A store holding these secrets, active: what a store binding needs to be accepted."""
        if (account, store_id) not in self.stores:
            self.add_store(account, store_id)
        existing = {s.name for s in self.store_secrets[store_id].values()}
        for name in names:
            if name not in existing:
                self.add_store_secret(store_id, StoreSecret(id=uuid.uuid4().hex, name=name, scopes=["workers"]))

    def add_gateway(self, account: str, gateway_id: str, store_id: str | None = None) -> dict[str, Any]:
        """A gateway as `ai_gateway.get` answers it (the fields AIGatewayGetResponse requires, and
        `store_id`: the store its BYOK keys are read from; None: none attached)."""
        gateway = {"id": gateway_id, "cache_invalidate_on_update": False, "cache_ttl": None, "collect_logs": True,
                   "created_at": "2026-01-05T10:00:00Z", "modified_at": "2026-01-05T10:00:00Z",
                   "rate_limiting_interval": None, "rate_limiting_limit": None, "authentication": True}
        if store_id is not None:
            gateway["store_id"] = store_id
        self.gateways[(account, gateway_id)] = gateway
        self.provider_configs.setdefault((account, gateway_id), {})
        return gateway

    def add_provider_config(self, account: str, gateway_id: str, provider_slug: str, alias: str, secret_id: str,
                            default_config: bool = True) -> dict[str, Any]:
        """A provider config made by hand (the dashboard's Provider Keys)."""
        config = {"id": uuid.uuid4().hex, "alias": alias, "default_config": default_config, "gateway_id": gateway_id,
                  "modified_at": "2026-01-05T10:00:00Z", "provider_slug": provider_slug, "secret_id": secret_id,
                  "secret_preview": "****"}
        self.provider_configs.setdefault((account, gateway_id), {})[config["id"]] = config
        return config

    def store_secret_named(self, store_id: str, name: str) -> StoreSecret | None:
        return next((s for s in self.store_secrets.get(store_id, {}).values() if s.name == name), None)

    def bindings(self, account: str, name: str) -> dict[str, dict[str, Any]]:
        return {b["name"]: b for b in self.scripts[(account, name)].bindings}

    def count(self, method: str, pattern: str = "") -> int:
        return sum(1 for m, p in self.calls if m == method and re.search(pattern, p))

    def api_calls(self, script: str | None = None) -> int:
        """Every call that reached the API (reads too), optionally only those about one script."""
        if script is None:
            return len(self.calls)
        return sum(1 for _, p in self.calls if f"/scripts/{script}/" in p + "/" or f"/workers/workers/{script}/" in p + "/")

    def settings_writes(self, script: str | None = None) -> int:
        suffix = f"/scripts/{script}/settings$" if script else "/settings$"
        return self.count("PATCH", suffix)

    def bulk_writes(self, script: str | None = None) -> int:
        return self.count("PATCH", f"/scripts/{script}/secrets-bulk$" if script else "/secrets-bulk$")

    def versions(self) -> dict[str, int]:
        return {name: s.versions for (_, name), s in self.scripts.items()}

    def traffic(self) -> bytes:
        return b"\n".join(self.bodies)

    # ---- HTTP ---------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def send_header(self, keyword: str, value: str) -> None:
                if keyword != "Date" or fake.date_header:
                    super().send_header(keyword, value)

            def date_time_string(self, timestamp: float | None = None) -> str:
                """The `Date` header, by the account's clock (the one that stamps versions)."""
                if fake.now is None or timestamp is not None:
                    return super().date_time_string(timestamp)
                return email.utils.format_datetime(dt.datetime.fromisoformat(fake.now), usegmt=True)

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                if url.path.startswith("/health/"):
                    # A Worker health endpoint for the canary: /health/<status>.
                    self._send(int(url.path.rsplit("/", 1)[1]), {"ok": True})
                    return
                path = url.path[len(PREFIX):] if url.path.startswith(PREFIX) else url.path
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                with fake.lock:
                    fake.calls.append((method, path))
                    fake.bodies.append(body)
                    fake.requests.append(Request(method, path, parse_qs(url.query), self.headers.get("Content-Type", ""),
                                                 body))
                    fake._run_hooks(method, path)
                    headers: dict[str, str] = {}
                    if fake.ratelimit is not None:
                        allowed, headers = fake.ratelimit.take()
                        if not allowed:
                            self._send(429, _envelope(None, [{"code": 10000, "message": "Rate limited. Please wait and "
                                                                                           "consider throttling your request speed"}]), headers)
                            return
                    fault = fake._take_fault(method, path)
                if fault is not None:
                    if fault.kind == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault.kind == "delay":
                        time.sleep(fault.delay_s)
                    elif fault.kind == "echo":
                        # Some APIs quote the offending request in their error: a leak vector.
                        self._send(fault.status, _envelope(None, [{"code": 10021, "message":
                                                                     "bad request: " + body.decode(errors="replace")}]), headers)
                        return
                    else:
                        extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                        extra.update(fault.headers)
                        self._send(fault.status, _envelope(None, [{"code": 10000 + fault.status,
                                                                     "message": f"injected {fault.status}"}]), {**headers, **extra})
                        return
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if (fake.denied_token is not None and token == fake.denied_token) or any(
                        re.search(pattern, path) for pattern in fake.denied_paths):
                    self._send(403, _envelope(None, [{"code": 10000, "message": "Authentication error"}]), headers)
                    return
                with fake.lock:
                    try:
                        status, payload, extra_headers = fake._route(method, path, parse_qs(url.query), body,
                                                                     self.headers.get("Content-Type", ""))
                    except ApiError as exc:
                        status, payload, extra_headers = exc.status, _envelope(None, [{"code": exc.code, "message": exc.message}]), {}
                    fake.responses.append((method, path, status, payload))
                if isinstance(payload, bytes):
                    self._send_raw(status, payload, {**headers, **extra_headers})
                else:
                    self._send(status, payload, {**headers, **extra_headers})

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                self._send_raw(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

            def _send_raw(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)  # also sends Date: the provider reads server time from it
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_PATCH(self) -> None:
                self._dispatch("PATCH")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_PUT(self) -> None:
                self._dispatch("PUT")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

        return Handler

    def on(self, method: str, path_re: str, action: Callable[[], None], after: int = 0, times: int = 1) -> None:
        """Run `action` just before the next matching request (after `after` of them) is served."""
        self.hooks.append(Hook(method, path_re, action, after, times))

    def _run_hooks(self, method: str, path: str) -> None:
        for hook in self.hooks:
            if hook.times > 0 and hook.method in (method, "*") and re.search(hook.path_re, path):
                if hook.after > 0:
                    hook.after -= 1
                    continue
                hook.times -= 1
                hook.action()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.search(fault.path_re, path):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    # ---- routing ------------------------------------------------------------------------------
    def _script(self, account: str, name: str) -> Script:
        script = self.scripts.get((account, name))
        if script is None:
            # Error code from wrangler's WORKER_NOT_FOUND_ERR_CODE (workers-sdk, src/utils/worker-not-found-error.ts).
            raise ApiError(404, 10007, "This Worker does not exist on your account.")
        return script

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
               content_type: str) -> tuple[int, Any, dict[str, str]]:
        s = r"/accounts/([^/]+)/workers/scripts/([^/]+)"
        m = re.fullmatch(r"/accounts/([^/]+)/workers/scripts", path)
        if m and method == "GET":
            # SDK workers.scripts.list -> a single page of ScriptListResponse: every script of the
            # account, with its latest version's settings.
            return 200, _envelope([_script_item(name, script) for (acc, name), script in sorted(self.scripts.items())
                                   if acc == m.group(1)]), {}
        m = re.fullmatch(s + r"/settings", path)
        if m:
            return self._settings(method, m.group(1), m.group(2), body, content_type)
        m = re.fullmatch(s + r"/script-settings", path)
        if m:
            script = self._script(m.group(1), m.group(2))
            if method == "PATCH":
                data = json.loads(body or b"{}")
                script.script_settings.update({k: v for k, v in data.items() if k in script.script_settings})
            return 200, _envelope({k: v for k, v in script.script_settings.items() if v is not None}), {}
        m = re.fullmatch(s + r"/secrets-bulk", path)
        if m and method == "PATCH":
            return self._secrets_bulk(m.group(1), m.group(2), body)
        m = re.fullmatch(s + r"/secrets", path)
        if m and method == "PUT":
            return self._secret_put(m.group(1), m.group(2), body)
        if m and method == "GET":
            script = self._script(m.group(1), m.group(2))
            return 200, _envelope([{"name": b["name"], "type": b["type"]} for b in script.bindings
                                   if b["type"] in SECRET_TYPES]), {}
        m = re.fullmatch(s + r"/secrets/([^/]+)", path)
        if m and method == "DELETE":
            return self._secret_delete(m.group(1), m.group(2), m.group(3))
        m = re.fullmatch(s + r"/versions/([^/]+)", path)
        if m and method == "GET":
            script = self._script(m.group(1), m.group(2))
            return 200, _envelope(_version_detail(self._find_version(script, m.group(3)))), {}
        m = re.fullmatch(s + r"/versions", path)
        if m and method == "GET":
            script = self._script(m.group(1), m.group(2))
            items = [_version_item(v) for v in reversed(script.history)]
            page, per_page = _paging(query, 10)
            chunk = items[(page - 1) * per_page: page * per_page]
            return 200, {**_envelope({"items": chunk}),
                         "result_info": {"page": page, "per_page": per_page, "count": len(chunk),
                                         "total_count": len(items)}}, {}
        m = re.fullmatch(s + r"/content/v2", path)
        if m and method == "GET":
            # The schema documents no parameter here: the latest version's code, whatever is asked.
            return self._content(self._script(m.group(1), m.group(2)).latest)
        m = re.fullmatch(r"/accounts/([^/]+)/workers/workers", path)
        if m and method == "GET":
            # SDK workers.beta.workers.list -> pages of Worker (per_page, page): `updated_on` ("when
            # the Worker was most recently updated"), `deployed_on` ("when the Worker's most recent
            # deployment was created", null if never deployed).
            items = [_worker_item(name, script) for (acc, name), script in sorted(self.scripts.items())
                     if acc == m.group(1)]
            key = (query.get("order_by") or [""])[0]
            if key:
                # Never-deployed Workers (null) last either way.
                items.sort(key=lambda item: (item[key] is not None, item[key] or "", item["name"]),
                           reverse=(query.get("order") or ["asc"])[0] == "desc")
            return self._page(items, query)
        w = r"/accounts/([^/]+)/workers/workers/([^/]+)"
        m = re.fullmatch(w + r"/versions", path)
        if m and method == "GET":
            # SDK workers.beta.workers.versions.list: V4PagePaginationArray of Version (bindings
            # included, modules not), newest first.
            script = self._script(m.group(1), m.group(2))
            page, per_page = _paging(query, 20)
            history = list(reversed(script.history))
            chunk = history[(page - 1) * per_page: page * per_page]
            return 200, {**_envelope([_workers_version(script, v, modules=False) for v in chunk]),
                         "result_info": {"page": page, "per_page": per_page, "count": len(chunk),
                                         "total_count": len(history)}}, {}
        if m and method == "POST":
            return self._create_version(m.group(1), m.group(2), query, body)
        m = re.fullmatch(w + r"/versions/([^/]+)", path)
        if m and method == "GET":
            # SDK workers.beta.workers.versions.get: a version id, a prefix of 8 or more, or "latest";
            # `include=modules` adds the code (base64).
            script = self._script(m.group(1), m.group(2))
            version = self._find_version(script, m.group(3))
            return 200, _envelope(_workers_version(script, version,
                                                   modules=(query.get("include") or [""])[0] == "modules")), {}
        m = re.fullmatch(s + r"/deployments", path)
        if m and method == "GET":
            script = self._script(m.group(1), m.group(2))
            return 200, _envelope({"deployments": [self._deployment(d) for d in reversed(script.deployments)]}), {}
        if m and method == "POST":
            return self._create_deployment(m.group(1), m.group(2), query, body)
        if path.startswith(f"/accounts/{path.split('/')[2]}/ai-gateway/"):
            return self._gateway_route(method, path, query, body)
        return self._store_route(method, path, query, body)

    # ---- AI Gateway ---------------------------------------------------------------------------
    def _gateway_route(self, method: str, path: str, query: dict[str, list[str]],
                       body: bytes) -> tuple[int, Any, dict[str, str]]:
        g = r"/accounts/([^/]+)/ai-gateway/gateways/([^/]+)"
        m = re.fullmatch(g, path)
        if m and method == "GET":
            # SDK ai_gateway.get -> AIGatewayGetResponse.
            gateway = self.gateways.get((m.group(1), m.group(2)))
            if gateway is None:
                raise ApiError(404, 7002, "Not Found")
            return 200, _envelope(gateway), {}
        m = re.fullmatch(g + r"/provider_configs", path)
        if m:
            account, gateway_id = m.group(1), m.group(2)
            gateway = self.gateways.get((account, gateway_id))
            if gateway is None:
                raise ApiError(404, 7002, "Not Found")
            configs = self.provider_configs.setdefault((account, gateway_id), {})
            if method == "GET":
                # SDK ai_gateway.provider_configs.list: V4PagePaginationArray of ProviderConfigListResponse.
                return self._page([dict(c) for c in configs.values()], query)
            if method == "POST":
                # SDK ai_gateway.provider_configs.create: `secret` stores the key in the gateway's store,
                # `secret_id` names a secret already there.
                return 200, _envelope(self._write_config(account, gateway, configs, None, json.loads(body or b"{}"))), {}
        m = re.fullmatch(g + r"/provider_configs/([^/]+)", path)
        if m and method in ("PUT", "DELETE"):
            # Cloudflare's API reference (not SDK 5.9.0): PUT replaces a config, DELETE removes it and
            # its secret.
            account, gateway_id, config_id = m.groups()
            gateway = self.gateways.get((account, gateway_id))
            configs = self.provider_configs.get((account, gateway_id), {})
            if gateway is None or config_id not in configs:
                raise ApiError(404, 7002, "Not Found")
            if method == "PUT":
                return 200, _envelope(self._write_config(account, gateway, configs, config_id,
                                                         json.loads(body or b"{}"))), {}
            gone = configs.pop(config_id)
            store = self.store_secrets.get(str(gateway.get("store_id")), {})
            store.pop(gone["secret_id"], None)
            return 200, _envelope(gone), {}
        raise ApiError(404, 7003, f"No route for that URI ({method} {path})")

    def _write_config(self, account: str, gateway: dict[str, Any], configs: dict[str, dict[str, Any]],
                      config_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
        for key in ("alias", "default_config", "provider_slug"):
            if key not in data:
                raise ApiError(400, 7001, f"missing {key}")
        clash = next((c for c in configs.values() if c["id"] != config_id and c["provider_slug"] == data["provider_slug"]
                      and c["alias"] == data["alias"]), None)
        if clash is not None:
            raise ApiError(400, 7001, "a provider config with this provider and alias already exists")
        store_id = gateway.get("store_id")
        if store_id is None or (account, store_id) not in self.stores:
            raise ApiError(400, 7001, "the gateway has no Secrets Store attached")
        secrets = self.store_secrets.setdefault(store_id, {})
        if "secret_id" in data:
            if data["secret_id"] not in secrets:
                raise ApiError(400, 7001, "secret not found in the gateway's store")
            secret_id = data["secret_id"]
        elif "secret" in data:
            name = f"{gateway['id']}_{data['provider_slug']}_{data['alias']}"
            made = StoreSecret(id=uuid.uuid4().hex, name=name, scopes=["ai_gateway"], value=str(data["secret"]),
                               store_id=store_id, created=_utcnow(), modified=_utcnow())
            secrets[made.id] = made
            secret_id = made.id
        elif config_id is not None:
            secret_id = configs[config_id]["secret_id"]
        else:
            raise ApiError(400, 7001, "give secret or secret_id")
        config = {"id": config_id or uuid.uuid4().hex, "alias": data["alias"], "default_config": data["default_config"],
                  "gateway_id": gateway["id"], "modified_at": _utcnow(), "provider_slug": data["provider_slug"],
                  "secret_id": secret_id, "secret_preview": "****"}
        for key in ("rate_limit", "rate_limit_period"):
            if data.get(key) is not None:
                config[key] = data[key]
        configs[config["id"]] = config
        return config

    # ---- script-level writes: one version from the latest, deployed at 100% ------------------
    def _require_deployed(self, script: Script, code: int) -> None:
        if script.in_flight:
            if code == 10214:
                # Text from cloudflare/wrangler-action issue 374 (the settings PATCH).
                raise ApiError(400, 10214, "Script edit failed. You attempted to deploy the latest version with "
                                           "modified settings, but the latest version isn't currently deployed. Either "
                                           "upload a new version to edit the version settings, or use the script-level "
                                           "settings API (/workers/scripts/{script_name}/script-settings) to modify the "
                                           '"logpush" and "tail_consumers" settings.')
            # Code from wrangler's VERSION_NOT_DEPLOYED_ERR_CODE (src/secret/index.ts).
            raise ApiError(400, 10215, "Secret edit failed. You attempted to modify a secret, but the latest "
                                       "version of your Worker isn't currently deployed.")

    def _settings(self, method: str, account: str, name: str, body: bytes, content_type: str) -> tuple[int, Any, dict[str, str]]:
        script = self._script(account, name)
        if method == "GET":
            return 200, _envelope(_settings_view(script, script.latest)), {}
        if method != "PATCH":
            raise ApiError(405, 10405, "method not allowed")
        settings = _multipart_json(body, content_type, "settings")
        if settings is None:
            raise ApiError(400, 10021, "missing settings part")
        self._require_deployed(script, 10214)
        if self.before_settings_write is not None:
            hook, self.before_settings_write = self.before_settings_write, None
            hook(account, name)
        base = script.latest
        # A PATCH: without `bindings` the bindings stay; with it, the list replaces them.
        new = ([dict(b) for b in base.bindings] if "bindings" not in settings
               else self._resolve(account, script, settings["bindings"], base, strict=False))
        # "Annotations are not inherited across settings updates; omitting this field means the new
        # version will have no annotations." (SDK: ScriptAndVersionSettingEditParams.Settings.annotations)
        annotations = {k: v for k, v in (settings.get("annotations") or {}).items() if k in ("workers/message", "workers/tag")}
        version = script.add_version(new, deploy=True, source="api", annotations=annotations, created_on=self.version_time())
        if self.after_settings_write is not None:
            hook, self.after_settings_write = self.after_settings_write, None
            hook(account, name)
        return 200, _envelope(_settings_view(script, version)), {}

    def _secret_conflicts(self, script: Script, names: list[str]) -> None:
        current = {b["name"]: b for b in script.latest.bindings}
        for n in names:
            if n in current and current[n]["type"] not in SECRET_TYPES:
                # Code and text from cloudflare/workers-sdk issue 12812.
                raise ApiError(400, 10053, f"Binding name '{n}' already in use. Please use a different name and try again.")

    def _secrets_bulk(self, account: str, name: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        """`PATCH .../secrets-bulk`: JSON merge patch of secret_text bindings, one version per call,
        secrets not named left unchanged, at most 100 operations (changelog 2026-06-03)."""
        script = self._script(account, name)
        data = json.loads(body or b"{}")
        secrets: dict[str, Any] = data.get("secrets") or {}
        if len(secrets) > 100:
            raise ApiError(400, 10021, f"too many operations: {len(secrets)} (at most 100 per request)")
        self._require_deployed(script, 10215)
        self._secret_conflicts(script, [n for n, v in secrets.items() if v is not None])
        bindings = [dict(b) for b in script.latest.bindings]
        present = {b["name"] for b in bindings}
        missing = [n for n, v in secrets.items() if v is None and n not in present]
        if missing and self.bulk_delete_missing == "404":
            raise ApiError(404, 10056, f"Binding '{missing[0]}' not found.")
        for secret_name, entry in secrets.items():
            bindings = [b for b in bindings if b["name"] != secret_name]
            if entry is not None:
                if entry.get("type") != "secret_text" or not isinstance(entry.get("text"), str) or entry.get("name") != secret_name:
                    raise ApiError(400, 10021, f"invalid secret {secret_name}")
                bindings.append({"type": "secret_text", "name": secret_name, "text": entry["text"]})
        tags = data.get("version_tags") or {}
        script.add_version(bindings, deploy=True, source="api", created_on=self.version_time(),
                           annotations={k: str(v) for k, v in tags.items() if k in ("workers/message", "workers/tag")})
        return 200, _envelope({n: {"name": n, "type": "secret_text"} for n, v in secrets.items() if v is not None}), {}

    def _secret_put(self, account: str, name: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        """`PUT .../secrets` (what `wrangler secret put` calls): one secret, one version."""
        script = self._script(account, name)
        entry = json.loads(body or b"{}")
        self._require_deployed(script, 10215)
        self._secret_conflicts(script, [entry.get("name", "")])
        bindings = [dict(b) for b in script.latest.bindings if b["name"] != entry.get("name")]
        bindings.append({"type": "secret_text", "name": entry["name"], "text": entry["text"]})
        script.add_version(bindings, deploy=True, source="wrangler", created_on=self.version_time())
        return 200, _envelope({"name": entry["name"], "type": "secret_text"}), {}

    def _secret_delete(self, account: str, name: str, secret: str) -> tuple[int, Any, dict[str, str]]:
        script = self._script(account, name)
        if not any(b["name"] == secret for b in script.latest.bindings):
            raise ApiError(404, 10056, f"Binding '{secret}' not found.")
        self._require_deployed(script, 10215)
        script.add_version([dict(b) for b in script.latest.bindings if b["name"] != secret], deploy=True,
                           source="wrangler", created_on=self.version_time())
        return 200, _envelope(None), {}

    def _resolve(self, account: str, script: Script, requested: list[dict[str, Any]], base: Version,
                 strict: bool) -> list[dict[str, Any]]:
        """Bindings of a new version. `inherit` (or a bare `{type, name}`, which wrangler sends)
        takes the binding from the base version, or from `version_id`."""
        new: list[dict[str, Any]] = []
        current = {b["name"]: b for b in base.bindings}
        for binding in requested:
            kind = binding.get("type")
            # wrangler's `secret bulk` sends other bindings back as `{type, name}` only, which the API
            # treats as inherit (workers-sdk changeset "Simplify secret:bulk api via script settings").
            bare = set(binding) <= {"type", "name"} and kind not in ("inherit", "ai", "browser", "version_metadata", "assets")
            if kind == "inherit" or bare:
                origin = current
                if binding.get("version_id") not in (None, "latest"):
                    version = script.version(binding["version_id"])
                    if version is None:
                        raise ApiError(400, 10021, "unknown version_id")
                    origin = {b["name"]: b for b in version.bindings}
                source = origin.get(binding.get("old_name") or binding["name"])
                if source is None or (binding["name"] in self.drop_inherit and self.drop_inherit_writes > 0):
                    if strict:
                        # Code from wrangler's INVALID_INHERIT_BINDING_CODE (src/utils/error-codes.ts).
                        raise ApiError(400, 10057, f"inherit binding '{binding['name']}' is invalid")
                    continue  # "unresolvable inherit bindings are silently dropped"
                new.append({**source, "name": binding["name"]})
                continue
            if kind == "secret_text" and not isinstance(binding.get("text"), str):
                raise ApiError(400, 10021, "secret_text needs text")
            if kind == "secrets_store_secret":
                self._check_store_binding(account, binding)
            new.append(dict(binding))
        names = [b["name"] for b in new]
        if len(names) != len(set(names)):
            raise ApiError(400, 10021, "duplicate binding name")
        if self.drop_inherit_writes > 0:
            self.drop_inherit_writes -= 1
        return new

    def _check_store_binding(self, account: str, binding: dict[str, Any]) -> None:
        """A store binding must name an existing, active secret of an existing store: code 10182
        for a missing store, a missing secret, or one still `pending` (verified against the live API
        in alchemy-run/distilled pull request 363)."""
        store_id, secret_name = binding.get("store_id"), binding.get("secret_name")
        found = (account, store_id) in self.stores and any(
            s.name == secret_name and s.status == "active" for s in self.store_secrets.get(str(store_id), {}).values())
        if not found:
            raise ApiError(400, 10182, f"Secrets Store binding '{binding.get('name')}' references store '{store_id}' "
                                       f"and secret '{secret_name}' which were not found.")

    # ---- versions and deployments -------------------------------------------------------------
    @staticmethod
    def _find_version(script: Script, ref: str) -> Version:
        if ref == "latest":
            return script.latest
        found = [v for v in script.history if v.id == ref or (len(ref) >= 8 and v.id.startswith(ref))]
        if len(found) != 1:
            # A 404 about a version, which is not 10007 (the Worker itself does not exist).
            raise ApiError(404, 10230, "version not found")
        return found[0]

    def _create_version(self, account: str, name: str, query: dict[str, list[str]],
                        body: bytes) -> tuple[int, Any, dict[str, str]]:
        """`POST .../workers/workers/{name}/versions` (SDK workers.beta.workers.versions.create):
        a version from JSON, modules base64, not deployed unless `deploy=true`. An `inherit`
        binding takes the binding from `version_id` (default: the latest version); one that cannot
        be resolved is dropped silently, as the classic upload does without strict mode (the
        Workers API documents no strict mode: the worst case)."""
        script = self._script(account, name)
        data = json.loads(body or b"{}")
        modules = {m["name"]: (base64.b64decode(m["content_base64"]), m["content_type"])
                   for m in data.get("modules") or []}
        main = data.get("main_module")
        if not main or main not in modules:
            raise ApiError(400, 10021, "main_module must name one of the modules")
        if data.get("exports") and data.get("migrations"):
            raise ApiError(400, 10021, "`exports` and `migrations` are mutually exclusive on upload")
        exports = data.get("exports") or {}
        if any(e.get("state") not in (None, "created") for e in exports.values()):
            raise ApiError(400, 10021, "exports in a transitional state need a migration")
        if data.get("assets"):
            # Assets attach to a version through an upload session's token; the fake has none.
            raise ApiError(400, 10021, "assets.jwt is not a completed asset upload")
        bindings = self._resolve(account, script, data.get("bindings") or [], script.latest, strict=False)
        runtime = {k: data[k] for k in CREATE_RUNTIME_FIELDS if data.get(k) is not None}
        if script.latest.runtime.get("migration_tag"):
            runtime["migration_tag"] = script.latest.runtime["migration_tag"]  # script-level DO state
        annotations = {k: v for k, v in (data.get("annotations") or {}).items() if k in ("workers/message", "workers/tag")}
        version = script.add_version(bindings, deploy=(query.get("deploy") or [""])[0] == "true", source="api",
                                     annotations=annotations, modules=modules, main_module=main,
                                     created_on=self.version_time(),
                                     compatibility_date=data.get("compatibility_date", ""),
                                     compatibility_flags=data.get("compatibility_flags", []), runtime=runtime)
        version.author_email = "plane@example.com"
        return 200, _envelope(_workers_version(script, version, modules=False)), {}

    @staticmethod
    def _content(version: Version) -> tuple[int, Any, dict[str, str]]:
        """`GET .../content/v2`: modules as multipart/form-data, the main module named by `cf-entrypoint`."""
        boundary = "fakeboundary" + uuid.uuid4().hex
        out = b""
        for module, (content, ctype) in version.modules.items():
            out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{module}\"; filename=\"{module}\"\r\n"
                    f"Content-Type: {ctype}\r\n\r\n").encode() + content + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return 200, out, {"Content-Type": f"multipart/form-data; boundary={boundary}", "cf-entrypoint": version.main_module}

    def _create_deployment(self, account: str, name: str, query: dict[str, list[str]],
                           body: bytes) -> tuple[int, Any, dict[str, str]]:
        script = self._script(account, name)
        data = json.loads(body or b"{}")
        versions = data.get("versions") or []
        if data.get("strategy") != "percentage" or not versions:
            raise ApiError(400, 10021, "strategy must be percentage, with at least one version")
        if abs(sum(float(v["percentage"]) for v in versions) - 100.0) > 1e-9:
            raise ApiError(400, 10021, "percentages must add up to 100")
        targets = []
        for v in versions:
            version = script.version(v["version_id"])
            if version is None:
                raise ApiError(400, 10021, f"unknown version {v['version_id']}")
            targets.append(version)
        changed = self._rollback_secrets_changed(script, targets)
        if changed and (query.get("force") or [""])[0] != "true":
            # Code and text from wrangler's rollback (src/versions/rollback/index.ts:
            # CANNOT_ROLLBACK_WITH_MODIFIED_SECERT_CODE, which reads the names after this sentence).
            raise ApiError(400, 10220, "A rollback cannot be performed because secrets have changed since the target "
                                       f"version was deployed. The following secrets have changed: {', '.join(changed)}")
        d = script.deploy([(v["version_id"], float(v["percentage"])) for v in versions], source="api",
                          created_on=self.version_time(),
                          annotations={k: v for k, v in (data.get("annotations") or {}).items() if k == "workers/message"})
        return 200, _envelope(self._deployment(d)), {}

    def _deployment(self, d: Deployment) -> dict[str, Any]:
        out = _deployment(d)
        if self.deployment_answer is not None:
            out["versions"] = self.deployment_answer(out["versions"])
        return out

    @staticmethod
    def _rollback_secrets_changed(script: Script, targets: list[Version]) -> list[str]:
        """Deploying a version older than the newest one serving now, whose secrets differ from it,
        is a rollback past a secret change: the names that differ."""
        active = script.deployment
        if active is None:
            return []
        serving = [script.version(v["version_id"]) for v in active.versions]
        newest = max((v for v in serving if v is not None), key=lambda v: v.number, default=None)
        if newest is None:
            return []

        def secrets(version: Version) -> dict[str, Any]:
            return {b["name"]: b.get("text", b.get("key_base64")) for b in version.bindings if b["type"] in SECRET_TYPES}

        changed: set[str] = set()
        for target in targets:
            if target.number < newest.number:
                old, new = secrets(target), secrets(newest)
                changed |= {n for n in set(old) | set(new) if old.get(n) != new.get(n)}
        return sorted(changed)

    # ---- Secrets Store ------------------------------------------------------------------------
    def _store_route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/quota", path)
        if m and method == "GET":
            # SDK secrets_store.quota.get -> QuotaGetResponse {secrets: {quota, usage}}: the account's
            # entitlement and the secrets it uses, in every store it has.
            used = sum(len(self.store_secrets.get(sid, {})) for (acc, sid) in self.stores if acc == m.group(1))
            return 200, _envelope({"secrets": {"quota": self.store_quota, "usage": used}}), {}
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/stores", path)
        if m and method == "GET":
            items = [s for (acc, _), s in sorted(self.stores.items()) if acc == m.group(1)]
            return self._page(items, query)
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/stores/([^/]+)", path)
        if m and method == "GET":
            # SDK secrets_store.stores.get -> StoreGetResponse: what pulumi-cloudflare's getSecretsStore
            # invoke reads for an adopted store, once per preview or update.
            store = self.stores.get((m.group(1), m.group(2)))
            if store is None:
                raise ApiError(404, 1001, "store not found")
            return 200, _envelope(store), {}
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/stores/([^/]+)/secrets", path)
        if m:
            if (m.group(1), m.group(2)) not in self.stores:
                raise ApiError(404, 1001, "store not found")
            secrets = self.store_secrets.setdefault(m.group(2), {})
            if method == "GET":
                for s in secrets.values():
                    if s.status == "pending":
                        if s.pending_reads <= 0:
                            s.status = "active"
                        s.pending_reads -= 1
                return self._page([s.public() for s in secrets.values()], query)
            if method == "POST":
                created = []
                for entry in json.loads(body or b"[]"):
                    if any(s.name == entry["name"] for s in secrets.values()):
                        raise ApiError(409, 1003, f"secret_name_already_exists: {entry['name']}")
                    secret = StoreSecret(id=uuid.uuid4().hex, name=entry["name"], scopes=list(entry.get("scopes") or []),
                                         value=str(entry.get("value", "")),
                                         comment=entry.get("comment") or "", store_id=m.group(2),
                                         status="pending" if self.secret_pending_reads else "active",
                                         pending_reads=self.secret_pending_reads, created=_utcnow(), modified=_utcnow())
                    secrets[secret.id] = secret
                    created.append(secret.public())
                return 200, {**_envelope(created), "result_info": {"page": 1, "per_page": len(created),
                                                                   "count": len(created), "total_count": len(created)}}, {}
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/stores/([^/]+)/secrets/([^/]+)", path)
        if m:
            secret = self.store_secrets.get(m.group(2), {}).get(m.group(3))
            if secret is None:
                raise ApiError(404, 1002, "secret not found")
            if method == "GET":
                return 200, _envelope(secret.public()), {}
            if method == "PATCH":
                data = json.loads(body or b"{}")
                if "scopes" in data:
                    secret.scopes = list(data["scopes"])
                if "comment" in data:
                    secret.comment = data["comment"]
                if "value" in data:  # SecretEditParams.value: write-only, never in a response
                    secret.value = data["value"]
                secret.modified = _utcnow()
                return 200, _envelope(secret.public()), {}
            if method == "DELETE":
                del self.store_secrets[m.group(2)][m.group(3)]
                return 200, _envelope(secret.public()), {}
        raise ApiError(404, 7003, f"No route for that URI ({method} {path})")

    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        page, per_page = _paging(query, self.page_size)
        chunk = items[(page - 1) * per_page: page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items)}
        return 200, {**_envelope(chunk), "result_info": info}, {}


def _paging(query: dict[str, list[str]], default: int) -> tuple[int, int]:
    page = int((query.get("page") or ["1"])[0])
    per_page = int((query.get("per_page") or [str(default)])[0])
    return page, per_page


def _public(binding: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a binding: a plain_text's text is shown, a secret's value never."""
    if binding.get("type") in SECRET_TYPES:
        return {k: v for k, v in binding.items() if k not in ("text", "key_base64", "key_jwk")}
    return dict(binding)


def _settings_view(script: Script, version: Version) -> dict[str, Any]:
    """Script and version settings: the latest version's, plus the script-level ones."""
    # placement is absent unless the Worker sets one: the SDK's Placement union has no empty member.
    view: dict[str, Any] = {"bindings": [_public(b) for b in version.bindings],
                            "compatibility_date": version.compatibility_date,
                            "compatibility_flags": version.compatibility_flags,
                            "usage_model": version.runtime.get("usage_model", "standard"),
                            **{k: v for k, v in script.script_settings.items() if v is not None}}
    for key in ("placement", "limits", "cache_options"):
        if version.runtime.get(key) is not None:
            view[key] = version.runtime[key]
    if version.annotations:
        view["annotations"] = dict(version.annotations)
    return view


def _script_item(name: str, script: Script) -> dict[str, Any]:
    latest = script.latest
    item: dict[str, Any] = {"id": name, "created_on": script.history[0].created_on, "modified_on": latest.created_on,
                            "etag": f"etag-{latest.id}", "handlers": ["fetch"], "has_modules": True,
                            # A script has assets when its version has static assets attached, whether or not
                            # the code binds them (an assets-only Worker has no binding).
                            "has_assets": bool(latest.runtime.get("assets")),
                            "compatibility_date": latest.compatibility_date,
                            "usage_model": latest.runtime.get("usage_model", "standard"),
                            "logpush": script.script_settings.get("logpush", False)}
    if latest.runtime.get("placement"):
        item["placement"] = latest.runtime["placement"]
    return item


def _worker_item(name: str, script: Script) -> dict[str, Any]:
    """A Worker as the Workers API lists it. The fake's Worker id is its script name, which the
    Workers API also accepts in paths."""
    settings = script.script_settings
    return {"id": name, "name": name, "created_on": script.history[0].created_on,
            "updated_on": script.latest.created_on,
            "deployed_on": script.deployments[-1].created_on if script.deployments else None,
            "logpush": bool(settings.get("logpush")), "observability": {},
            "references": {"dispatch_namespace_outbounds": [], "domains": [], "durable_objects": [], "queues": [],
                           "workers": []},
            "subdomain": {}, "tags": list(settings.get("tags") or []),
            "tail_consumers": list(settings.get("tail_consumers") or [])}


def _version_item(version: Version) -> dict[str, Any]:
    item: dict[str, Any] = {"id": version.id, "number": version.number,
                            "metadata": {"created_on": version.created_on, "modified_on": version.created_on,
                                         "source": version.source, "author_email": "ci@example.com"}}
    if version.annotations:
        item["annotations"] = dict(version.annotations)
    return item


def _version_detail(version: Version) -> dict[str, Any]:
    """The classic `GET .../scripts/{s}/versions/{id}`, as the SDK's version_get_response documents
    it: `resources.script` {etag, handlers, last_deployed_from, named_handlers} and
    `resources.script_runtime` {compatibility_date, compatibility_flags, exports, limits (cpu_ms),
    migration_tag, usage_model}. Nothing more: no placement, cache options or containers."""
    detail = _version_item(version)
    runtime = version.runtime
    script: dict[str, Any] = {"etag": f"etag-{version.id}", "handlers": ["fetch"], "last_deployed_from": version.source}
    script_runtime: dict[str, Any] = {"compatibility_date": version.compatibility_date,
                                      "compatibility_flags": version.compatibility_flags,
                                      "usage_model": runtime.get("usage_model", "standard")}
    if runtime.get("limits", {}).get("cpu_ms") is not None:
        script_runtime["limits"] = {"cpu_ms": runtime["limits"]["cpu_ms"]}
    for key in ("exports", "migration_tag"):
        if runtime.get(key) is not None:
            script_runtime[key] = runtime[key]
    detail["resources"] = {"bindings": [_public(b) for b in version.bindings], "script": script,
                           "script_runtime": script_runtime}
    return detail


def _workers_version(script: Script, version: Version, modules: bool) -> dict[str, Any]:
    """A version as the Workers API shows it (SDK cloudflare.types.workers.beta.workers.Version):
    every per-version setting at the top level, bindings included, the code only when asked."""
    out: dict[str, Any] = {
        "id": version.id, "number": version.number, "created_on": version.created_on,
        "urls": [f"https://{version.id[:8]}-{script.name}.workers.example.com"],
        "author_email": version.author_email, "source": version.source,
        "bindings": [_public(b) for b in version.bindings],
        "compatibility_date": version.compatibility_date, "compatibility_flags": list(version.compatibility_flags),
        "main_module": version.main_module, "usage_model": version.runtime.get("usage_model", "standard"),
        "startup_time_ms": 4,
    }
    if version.annotations:
        out["annotations"] = dict(version.annotations)
    for key in VERSION_RUNTIME_FIELDS:
        if key != "usage_model" and version.runtime.get(key) is not None:
            out[key] = version.runtime[key]
    out.update(version.undocumented)
    if modules:
        out["modules"] = [{"name": name, "content_type": ctype, "content_base64": base64.b64encode(data).decode()}
                          for name, (data, ctype) in version.modules.items()]
    return out


def _deployment(d: Deployment) -> dict[str, Any]:
    out: dict[str, Any] = {"id": d.id, "created_on": d.created_on, "source": d.source, "strategy": "percentage",
                           "versions": [dict(v) for v in d.versions], "author_email": "ci@example.com"}
    if d.annotations:
        out["annotations"] = dict(d.annotations)
    return out


def _envelope(result: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"result": result, "success": not errors, "errors": errors or [], "messages": []}


def _multipart_parts(body: bytes, content_type: str) -> dict[str, tuple[bytes, str]]:
    message = BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return {}
    parts: dict[str, tuple[bytes, str]] = {}
    for part in message.get_payload():  # type: ignore[union-attr]
        # Modules are matched "by filename" (SDK: versions.create `files` docstring); the SDK names
        # every module part `files`, wrangler names each after its module.
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        key = filename if filename and name != "metadata" else name
        parts[str(key)] = (part.get_payload(decode=True), part.get_content_type())
    return parts


def _multipart_json(body: bytes, content_type: str, part_name: str) -> Any:
    part = _multipart_parts(body, content_type).get(part_name)
    return json.loads(part[0]) if part else None
