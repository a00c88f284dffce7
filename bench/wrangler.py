"""The user's alternative, run for real: the pinned wrangler (package.json) against the same fake
API, the same latency and the same rate limit (wrangler honours CLOUDFLARE_API_BASE_URL).

- `wrangler secret put NAME --name SCRIPT` (value on stdin): one PUT .../secrets per call;
- `wrangler secret bulk FILE --name SCRIPT`: one PATCH .../secrets-bulk per Worker (wrangler's route
  since May 2026, workers-sdk PR 13964; before, a settings read and write);
- `wrangler secrets-store secret update STORE --secret-id ID --remote`: one PATCH.
Invocations run one after another, as a rotation script would.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fake_cloudflare import FakeCloudflare

from bench.estate import ACCOUNT, ROOT, STACK

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"


@dataclass
class WranglerRun:
    what: str
    invocations: int
    api_calls: int
    versions: int
    seconds: float
    failures: int
    rate_limited: int


def available() -> bool:
    return WRANGLER.exists()


def version() -> str:
    return str(json.loads((ROOT / "node_modules" / "wrangler" / "package.json").read_text())["version"])


def _env(fake: FakeCloudflare) -> dict[str, str]:
    # The pinned Node 22 (package.json) first: wrangler needs Node >= 22.12.
    path = f"{WRANGLER.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "CLOUDFLARE_API_BASE_URL": fake.base_url, "CLOUDFLARE_API_TOKEN": "bench",
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "WRANGLER_SEND_METRICS": "false", "CI": "1", "NO_COLOR": "1",
            # wrangler checks npm for a newer version: keep that on loopback (nothing answers there).
            "npm_config_registry": "http://127.0.0.1:9/"}


def _run(fake: FakeCloudflare, what: str, commands: list[tuple[list[str], str]]) -> WranglerRun:
    calls, versions = len(fake.calls), sum(fake.versions().values())
    limited = fake.ratelimit.limited if fake.ratelimit else 0
    failures = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cwd:
        for args, stdin in commands:
            proc = subprocess.run([str(WRANGLER), *args], input=stdin, text=True, capture_output=True, cwd=cwd,
                                  env=_env(fake), timeout=300)
            failures += proc.returncode != 0
    return WranglerRun(what, len(commands), len(fake.calls) - calls, sum(fake.versions().values()) - versions,
                       time.monotonic() - started, failures,
                       (fake.ratelimit.limited if fake.ratelimit else 0) - limited)


def rotate_put(fake: FakeCloudflare, scripts: list[str], secret: str) -> WranglerRun:
    return _run(fake, f"wrangler secret put {secret}, once per Worker",
                [(["secret", "put", secret, "--name", script], "rotated-by-wrangler") for script in scripts])


def first_apply_bulk(fake: FakeCloudflare, secrets_by_script: dict[str, list[str]], workdir: Path) -> WranglerRun:
    commands = []
    for script, names in secrets_by_script.items():
        path = workdir / f"{script}.json"
        path.write_text(json.dumps({n: f"value-of-{n}" for n in names}))
        commands.append((["secret", "bulk", str(path), "--name", script], ""))
    return _run(fake, "wrangler secret bulk, once per Worker", commands)


def rotate_store(fake: FakeCloudflare, store_id: str, secret_id: str) -> WranglerRun:
    return _run(fake, "wrangler secrets-store secret update", [(
        ["secrets-store", "secret", "update", store_id, "--secret-id", secret_id, "--remote"], "rotated-by-wrangler")])


def script_name(worker: dict[str, object]) -> str:
    return str(worker["script_name"]).replace("{stack}", STACK)
