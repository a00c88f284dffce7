"""Synthetic estates for the benchmark and the count test: S secrets, W Workers, k bindings each.

Every Worker binds S0 (so "rotate one secret bound to every Worker" exists) plus k-1 others,
spread round-robin so every secret is bound.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "5f0c1e9a3b7d4c2e8a6b9d0f1e2c3a4b"
STORE_ID = "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"
STACK = "bench"


def secret_name(i: int) -> str:
    return f"S{i:03d}"


def worker_secrets(w: int, s: int, k: int) -> list[str]:
    chosen = [0] + [1 + (w * (k - 1) + j) % max(s - 1, 1) for j in range(k - 1)]
    return sorted({secret_name(i) for i in chosen if i < s})


def manifest(s: int, w: int, k: int, backend: str = "legacy", extra_workers: int = 0,
             drop_secret: str | None = None) -> dict:
    secrets = {secret_name(i): {"description": f"credential {i}", "owner": "platform", "provider": "p",
                                "rotation_days": 90} for i in range(s)}
    workers = {}
    for i in range(w + extra_workers):
        bound = [x for x in worker_secrets(i, s, k) if x != drop_secret]
        workers[f"w{i:03d}"] = {"script_name": f"worker-{i:03d}-{{stack}}", "stacks": [STACK], "secrets": bound}
    if drop_secret:
        secrets.pop(drop_secret)
    return {"version": 1, "backend": backend, "secrets": secrets, "workers": workers}


def write_project(dest: Path, data: dict) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "__main__.py", dest / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", dest / "Pulumi.yaml")
    (dest / "secrets_manifest.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    stack = {"config": {"secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID}}}
    (dest / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(stack))
    return dest


def config(data: dict, values: dict[str, str] | None = None) -> dict:
    vals = {name: f"value-of-{name}" for name in data["secrets"]}
    vals.update(values or {})
    return {"secrets-plane:accountId": ACCOUNT, "secrets-plane:store": {"adopt": STORE_ID},
            "secrets-plane:values": vals}
