"""A fake Cloudflare API on 127.0.0.1: the endpoints secrets-plane uses, with inherit semantics,
paging that ends with an empty page, per-script version counts, and injectable faults."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PREFIX = "/client/v4"


@dataclass
class Fault:
    method: str
    path_re: str
    kind: str = "status"  # status | drop | delay
    status: int = 500
    times: int = 1
    retry_after: float | None = None
    delay_s: float = 0.0


@dataclass
class Version:
    id: str
    created_on: str
    bindings: list[dict[str, Any]]


@dataclass
class Script:
    bindings: list[dict[str, Any]] = field(default_factory=list)
    history: list[Version] = field(default_factory=list)  # oldest first

    @property
    def versions(self) -> int:
        return len(self.history)

    def new_version(self, created_on: str) -> None:
        self.history.append(Version(f"v{len(self.history) + 1}", created_on, [dict(b) for b in self.bindings]))


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


class FakeCloudflare:
    def __init__(self, page_size: int = 20) -> None:
        self.scripts: dict[tuple[str, str], Script] = {}
        self.stores: dict[tuple[str, str], dict[str, Any]] = {}
        self.store_secrets: dict[str, dict[str, StoreSecret]] = {}
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self.page_size = page_size
        self.denied_token: str | None = None
        self.now = "2026-11-20T09:00:00Z"
        self.before_settings_write: Callable[[str, str], None] | None = None
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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
    def add_script(self, account: str, name: str, bindings: list[dict[str, Any]] | None = None) -> Script:
        script = Script(bindings=[dict(b) for b in bindings or []])
        script.new_version("2026-01-05T10:00:00Z")
        self.scripts[(account, name)] = script
        return script

    def deploy(self, account: str, name: str, bindings: list[dict[str, Any]]) -> None:
        """What `wrangler deploy` does: a new version with the bindings of its config."""
        script = self.scripts[(account, name)]
        script.bindings = [dict(b) for b in bindings]
        script.new_version(self.now)

    def add_store(self, account: str, store_id: str, name: str = "default") -> None:
        self.stores[(account, store_id)] = {"id": store_id, "name": name, "created": "2026-01-01T00:00:00Z",
                                            "modified": "2026-01-01T00:00:00Z"}
        self.store_secrets.setdefault(store_id, {})

    def add_store_secret(self, store_id: str, secret: StoreSecret) -> None:
        secret.store_id = store_id
        self.store_secrets.setdefault(store_id, {})[secret.id] = secret

    def bindings(self, account: str, name: str) -> dict[str, dict[str, Any]]:
        return {b["name"]: b for b in self.scripts[(account, name)].bindings}

    def count(self, method: str, pattern: str = "") -> int:
        return sum(1 for m, p in self.calls if m == method and re.search(pattern, p))

    def settings_writes(self, script: str | None = None) -> int:
        suffix = f"/scripts/{script}/settings$" if script else "/settings$"
        return self.count("PATCH", suffix)

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

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                if url.path.startswith("/health/"):
                    # A Worker health endpoint for the canary: /health/<status>.
                    self._send(int(url.path.rsplit("/", 1)[1]), {"ok": True})
                    return
                path = url.path[len(PREFIX):] if url.path.startswith(PREFIX) else url.path
                with fake.lock:
                    fake.calls.append((method, path))
                    fake.bodies.append(body)
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
                                                                     "bad request: " + body.decode(errors="replace")}]))
                        return
                    else:
                        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                        self._send(fault.status, _envelope(None, [{"code": 10000 + fault.status,
                                                                     "message": f"injected {fault.status}"}]), headers)
                        return
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if fake.denied_token is not None and token == fake.denied_token:
                    self._send(403, _envelope(None, [{"code": 10000, "message": "Authentication error"}]))
                    return
                status, payload = fake._route(method, path, parse_qs(url.query), body,
                                              self.headers.get("Content-Type", ""))
                self._send(status, payload)

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
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

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.search(fault.path_re, path):
                fault.times -= 1
                return fault
        return None

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
               content_type: str) -> tuple[int, Any]:
        m = re.fullmatch(r"/accounts/([^/]+)/workers/scripts/([^/]+)/settings", path)
        if m:
            return self._settings(method, m.group(1), m.group(2), body, content_type)
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/stores", path)
        if m and method == "GET":
            items = [s for (acc, _), s in self.stores.items() if acc == m.group(1)]
            return self._page(items, query)
        m = re.fullmatch(r"/accounts/([^/]+)/secrets_store/stores/([^/]+)/secrets", path)
        if m and method == "GET":
            if (m.group(1), m.group(2)) not in self.stores:
                return 404, _envelope(None, [{"code": 1001, "message": "store not found"}])
            items = [vars(s) for s in self.store_secrets.get(m.group(2), {}).values()]
            return self._page(items, query)
        m = re.fullmatch(r"/accounts/([^/]+)/workers/scripts/([^/]+)/versions/([^/]+)", path)
        if m and method == "GET":
            script = self.scripts.get((m.group(1), m.group(2)))
            version = next((v for v in script.history if v.id == m.group(3)), None) if script else None
            if version is None:
                return 404, _envelope(None, [{"code": 10007, "message": "version not found"}])
            return 200, _envelope({"id": version.id, "number": int(version.id[1:]),
                                   "metadata": {"created_on": version.created_on},
                                   "resources": {"bindings": [_public(b) for b in version.bindings]}})
        m = re.fullmatch(r"/accounts/([^/]+)/workers/scripts/([^/]+)/versions", path)
        if m and method == "GET":
            script = self.scripts.get((m.group(1), m.group(2)))
            if script is None:
                return 404, _envelope(None, [{"code": 10007, "message": "This Worker does not exist on your account."}])
            items = [{"id": v.id, "number": int(v.id[1:]), "metadata": {"created_on": v.created_on, "source": "api"}}
                     for v in reversed(script.history)]
            page = int((query.get("page") or ["1"])[0])
            chunk = items if page == 1 else []
            return 200, {**_envelope({"items": chunk}), "result_info": {"page": page, "count": len(chunk)}}
        m = re.fullmatch(r"/accounts/([^/]+)/workers/scripts/([^/]+)/secrets", path)
        if m and method == "GET":
            script = self.scripts.get((m.group(1), m.group(2)))
            if script is None:
                return 404, _envelope(None, [{"code": 10007, "message": "This Worker does not exist on your account."}])
            items = [{"name": b["name"], "type": b["type"]} for b in script.bindings if b["type"] == "secret_text"]
            return 200, _envelope(items)
        return 404, _envelope(None, [{"code": 7003, "message": f"no route for {method} {path}"}])

    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[int, Any]:
        page = int((query.get("page") or ["1"])[0])
        per_page = int((query.get("per_page") or [str(self.page_size)])[0])
        chunk = items[(page - 1) * per_page: page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items)}
        return 200, {**_envelope(chunk), "result_info": info}

    def _settings(self, method: str, account: str, name: str, body: bytes, content_type: str) -> tuple[int, Any]:
        script = self.scripts.get((account, name))
        if script is None:
            return 404, _envelope(None, [{"code": 10007, "message": "This Worker does not exist on your account."}])
        if method == "GET":
            return 200, _envelope({"bindings": [_public(b) for b in script.bindings]})
        if method != "PATCH":
            return 405, _envelope(None, [{"code": 10405, "message": "method not allowed"}])
        settings = _multipart_json(body, content_type, "settings")
        if settings is None:
            return 400, _envelope(None, [{"code": 10021, "message": "missing settings part"}])
        if self.before_settings_write is not None:
            hook, self.before_settings_write = self.before_settings_write, None
            hook(account, name)
        current = {b["name"]: b for b in script.bindings}
        new: list[dict[str, Any]] = []
        for binding in settings.get("bindings", []):
            if binding.get("type") == "inherit":
                origin = current
                if binding.get("version_id") not in (None, "latest"):
                    version = next((v for v in script.history if v.id == binding["version_id"]), None)
                    if version is None:
                        return 400, _envelope(None, [{"code": 10021, "message": "unknown version_id"}])
                    origin = {b["name"]: b for b in version.bindings}
                source = origin.get(binding.get("old_name") or binding["name"])
                if source is None:
                    return 400, _envelope(None, [{"code": 10021, "message": f"cannot inherit binding {binding['name']}: "
                                                                              "not in the latest version"}])
                new.append({**source, "name": binding["name"]})
            else:
                if binding.get("type") == "secret_text" and not isinstance(binding.get("text"), str):
                    return 400, _envelope(None, [{"code": 10021, "message": "secret_text needs text"}])
                new.append(dict(binding))
        names = [b["name"] for b in new]
        if len(names) != len(set(names)):
            return 400, _envelope(None, [{"code": 10021, "message": "duplicate binding name"}])
        script.bindings = new
        script.new_version(self.now)
        return 200, _envelope({"bindings": [_public(b) for b in new]})


def _public(binding: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in binding.items() if k != "text"}


def _envelope(result: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"result": result, "success": not errors, "errors": errors or [], "messages": []}


def _multipart_json(body: bytes, content_type: str, part_name: str) -> Any:
    message = BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return None
    for part in message.get_payload():  # type: ignore[union-attr]
        if part.get_param("name", header="content-disposition") == part_name:
            return json.loads(part.get_payload(decode=True))
    return None
