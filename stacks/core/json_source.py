"""JSON input read as strictly as YAML input: size and nesting checked before the parser runs,
and a key given twice refused (`json.loads` keeps the last one silently). Used for every JSON the
plane reads from a person: values files, wrangler configs (after their comments are stripped),
stack outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .errors import PlaneError
from .yaml_source import MAX_DEPTH, MAX_FILE_BYTES

# A JSON string (escapes included) or a bracket: enough to count nesting exactly in valid JSON.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


class _Duplicate(Exception):
    def __init__(self, key: str):
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def load_json_text(text: str, label: str, hint: str, show: Callable[[str], str | None] = lambda key: key) -> Any:
    """Parsed JSON, or a PlaneError at `label` (and the line) with `hint` for a syntax error.
    `show(key)`: a key as a message may show it, or None (then only its line is given)."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise PlaneError.at(label, "", f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit",
                            "check you passed the right file")
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise PlaneError.at(label, "", "JSON nesting is too deep", f"keep nesting under {MAX_DEPTH} levels",
                                    line=_line(text, match.start()))
        elif token in "]}":
            depth -= 1
    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise PlaneError.at(label, "", f"JSON parse error: {exc.msg}", hint, line=exc.lineno) from None
    except RecursionError:
        raise PlaneError.at(label, "", "JSON nesting is too deep", f"keep nesting under {MAX_DEPTH} levels") from None
    except _Duplicate as dup:
        at = [m.start() for m in re.finditer(re.escape(json.dumps(dup.key)) + r"\s*:", text)]
        first, later = (_line(text, at[0]), _line(text, at[1])) if len(at) > 1 else (None, None)
        shown = show(dup.key)
        raise PlaneError.at(label, shown or "", (f"duplicate key '{shown}'" if shown else "a key is given twice")
                            + (f" (first at line {first})" if first else ""),
                            "remove one of the two entries; JSON readers would otherwise keep only the last",
                            line=later) from None
