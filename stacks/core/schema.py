"""The manifest's JSON Schema, generated from the pydantic model: editors that read the
`# yaml-language-server: $schema=...` line at the top of secrets_manifest.yaml complete keys and
flag mistakes as you type. The shipped file is tested to equal what this generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .manifest import Manifest

SCHEMA_FILE = Path("schema") / "secrets_manifest.schema.json"


def manifest_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "secrets-plane manifest",
            "description": "secrets_manifest.yaml: every credential and the Workers that bind it (docs/manifest.md)"}


def render_schema() -> str:
    return json.dumps(manifest_schema(), indent=2) + "\n"
