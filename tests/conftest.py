from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(ROOT))
# Every process a test starts imports the package from this tree too (the editable install in
# .venv may point at another copy: a mutation run's workers share one .venv).
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

from collections import Counter  # noqa: E402

from fake_cloudflare import FakeCloudflare  # noqa: E402
from provider_host import ProviderHost  # noqa: E402

# Figures the hardening tests count as they run; printed at the end of the session.
FIGURES: Counter[str] = Counter()

# The pinned npm tools (package.json), and Node 22 among them where the platform has the package
# (wrangler needs Node >= 22.12): first on PATH for every Node program a test runs.
NODE_BIN = ROOT / "node_modules" / ".bin"
NODE_ENV = {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "CI": "1",
            "WRANGLER_SEND_METRICS": "false", "NO_COLOR": "1",
            # wrangler checks the registry for a newer release; point that at a closed loopback port.
            "npm_config_registry": "http://127.0.0.1:9/"}


def need_node() -> None:
    if shutil.which("node", path=NODE_ENV["PATH"]) is None or not (NODE_BIN / "wrangler").exists():
        pytest.fail("node and the pinned npm packages are required: run scripts/test.sh (it runs npm ci)")


ACCOUNT = "5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b"
STORE_ID = "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"
CANARY_PREFIX = "CANARY-7f3a9e-"


def canary(name: str) -> str:
    return f"{CANARY_PREFIX}{name}"


def leak_scan(text: str, kind: str = "path") -> str:
    """Count `text` as scanned for canary values, and any canary in it as a leak. `path`: an output
    a value could really leak through (CLI output, errors, logs, command lines, annotations, state);
    `dump`: one mocked resource's inputs, dumped whole."""
    FIGURES[f"leak_{kind}s_scanned"] += 1
    if CANARY_PREFIX in text:
        FIGURES["leaks_found"] += 1
    return text


def golden(name: str, text: str) -> None:
    """`text` equals tests/golden/NAME (read line by line when it was recorded with UPDATE_GOLDEN=1)
    and holds no canary value."""
    path = TESTS / "golden" / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {name}: review the output, then run with UPDATE_GOLDEN=1 to record it"
    assert text == path.read_text(), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
    assert CANARY_PREFIX not in leak_scan(text)


def manifest_secret_names() -> list[str]:
    import yaml

    return sorted(yaml.safe_load((ROOT / "secrets_manifest.yaml").read_text())["secrets"])


def stack_config(stack: str, backend: str | None = None, store: dict[str, str] | None = None,
                 values: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """Config as `pulumi` hands it to the program for the shipped stacks, with canary values."""
    cfg: dict[str, Any] = {
        "secrets-plane:accountId": ACCOUNT,
        "secrets-plane:store": store or {"adopt": STORE_ID},
        "secrets-plane:secretName": "{name}_STAGING" if stack == "staging" else "{name}",
        "secrets-plane:values": values if values is not None else {n: canary(n) for n in manifest_secret_names()},
    }
    if backend:
        cfg["secrets-plane:backend"] = backend
    cfg.update({f"secrets-plane:{k}": v for k, v in extra.items()})
    return cfg


@pytest.fixture(scope="session", autouse=True)
def _imported_from_this_tree() -> None:
    """A mutation run tests the mutated copy: make sure that is what was imported."""
    import stacks

    assert Path(stacks.__file__).resolve().is_relative_to(ROOT), (stacks.__file__, ROOT)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the project (manifest, stack files, program) a test may edit."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "secrets_manifest.yaml", "__main__.py"):
        shutil.copy(ROOT / name, dest / name)
    return dest


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    server = FakeCloudflare().start()
    yield server
    server.stop()


@pytest.fixture
def api(fake: FakeCloudflare, monkeypatch: pytest.MonkeyPatch) -> FakeCloudflare:
    """The fake API, with the environment the live commands read pointed at it."""
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "test-token")
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake.base_url)
    monkeypatch.setenv("SECRETS_PLANE_HTTP_TIMEOUT", "2")
    return fake


def host_env(fake: FakeCloudflare, token: str = "test-token", **extra: str) -> dict[str, str]:
    """The environment a provider host runs with against the fake API."""
    return {"CLOUDFLARE_API_TOKEN": token, "CLOUDFLARE_BASE_URL": fake.base_url, "SECRETS_PLANE_HTTP_TIMEOUT": "2",
            **extra}


@pytest.fixture
def host(fake: FakeCloudflare) -> Iterator[ProviderHost]:
    h = ProviderHost(host_env(fake))
    yield h
    h.close()


def _fault_label(kind: str) -> str:
    labels = {"drop_0": "dropped connection", "delay_0": "timeout", "echo_400": "400 echoing the request"}
    return labels.get(kind, kind.removeprefix("status_"))


def pytest_sessionfinish(session: Any) -> None:
    """Under xdist each worker counts its own figures: hand them to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = dict(FIGURES)


def pytest_testnodedown(node: Any, error: Any) -> None:
    FIGURES.update(getattr(node, "workeroutput", {}).get("figures", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    f = FIGURES
    terminalreporter.write_sep("-", "hardening figures (counted by the tests that ran)")
    terminalreporter.write_line(
        f"bad input: {f['bad_inputs']} broken inputs tried, {f['bad_inputs_exit_1']} exited 1 with their exact "
        f"message; {f['fuzz_examples']} fuzz examples, {f['fuzz_escapes']} escaped the project's error type")
    kinds = sorted((_fault_label(k.removeprefix("faults_kind_")), n) for k, n in f.items()
                   if k.startswith("faults_kind_"))
    terminalreporter.write_line(
        f"faults: {f['faults_injected']} injected through the provider host"
        + (" (" + ", ".join(f"{kind} x{n}" for kind, n in kinds) + ")" if kinds else "")
        + f", {f['faults_recovered']} retried and converged, {f['faults_clear_errors']} failed with an error naming "
        f"the Worker, the operation and the fix; {f['unmanaged_lost']} unmanaged bindings lost or changed")
    terminalreporter.write_line(
        f"leaks: {f['leak_paths_scanned']} outputs of real leak paths and {f['leak_dumps_scanned']} per-resource "
        f"dumps scanned for canary values, {f['leaks_found']} leaks found")


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection from this process to an address that is not loopback fails before it is
    made: for tests over public files that name public addresses (as text, never reached)."""
    import ipaddress
    import socket

    def allowed(address: object) -> bool:
        if not isinstance(address, tuple):
            return True  # a Unix socket
        host = str(address[0])
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return host == "localhost"

    for name in ("connect", "connect_ex"):
        real = getattr(socket.socket, name)

        def guarded(self: socket.socket, address: object, _real: Any = real) -> Any:
            if not allowed(address):
                raise OSError(f"a test reached for {address!r}: only loopback is allowed")
            return _real(self, address)
        monkeypatch.setattr(socket.socket, name, guarded)
