"""The one allowlist of what the plane relies on that the SDK's types (and so Cloudflare's OpenAPI
schema) do not document. Each entry is a pattern over a finding of test_fake_conformance.py, with
its source and what breaks without it. An entry is a debt: when the schema documents it, or the
plane stops needing it, it goes."""

from __future__ import annotations

# finding pattern (a regular expression, matched whole) -> (where it is documented, what breaks without it)
ENTRIES: dict[str, tuple[str, str]] = {}

ALLOWED = tuple(ENTRIES)
