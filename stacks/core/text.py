"""Foreign text written into each output language, one function per language, in one place.

Manifest text (descriptions, owners, Worker keys), stack settings, API answers and file names
reach terminals, Markdown comments, TypeScript, YAML drafts and error messages. Each of those
has characters that change what the reader sees or what runs: a terminal's escape sequences, an
HTML comment that hides the rest of a pull-request comment, a `*/` that ends a TypeScript comment,
a newline that starts a new YAML key. Every renderer passes what it did not write itself through
the function for its language here; nothing else escapes on its own. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable

# ---- terminals -------------------------------------------------------------------------------

# C0 controls (but tab and newline), DEL, C1 controls, and the bidirectional overrides that make
# text display in another order than it reads ("Trojan Source"): shown as escapes, never obeyed.
_UNSAFE = [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F,
           *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, 0xFEFF]
_TERMINAL = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
_ONE_LINE = {**_TERMINAL, 0x09: "\\t", 0x0A: "\\n"}


def terminal(text: str) -> str:
    """`text` as a terminal shows it without obeying it: every control character but tab and
    newline, and every bidirectional override, written as a visible escape."""
    return text.translate(_TERMINAL)


def one_line(text: str) -> str:
    """`text` on one line: `terminal`, with tab and newline escaped too (a name, a location)."""
    return text.translate(_ONE_LINE)


# ---- values in error texts -------------------------------------------------------------------

REDACTED = "[secret]"
# A run this long of a value, found in a text, means the text quotes the value (perhaps cut short).
FRAGMENT = 16


def encodings(value: str) -> list[str]:
    """Every form a value takes in a request body or an error that echoes one: raw, JSON-escaped
    (ASCII or not, with `/` escaped or not), URL-encoded (path and form)."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
             urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    forms |= {f.replace("/", "\\/") for f in list(forms)}
    return sorted((f for f in forms if f), key=len, reverse=True)


def scrub(text: str, values: Iterable[str]) -> tuple[str, bool]:
    """(text with every encoding of every value replaced by [secret], whether a fragment of a
    value is still in it). A caller that gets True must not show the text at all: a body cut
    short by the API, or an encoding not listed, still carries part of the value."""
    values = [v for v in values if v]
    for value in values:
        for form in encodings(value):
            text = text.replace(form, REDACTED)
    runs = {text[i:i + FRAGMENT] for i in range(max(0, len(text) - FRAGMENT + 1))}
    for value in values:
        for form in encodings(value):
            if any(form[i:i + FRAGMENT] in runs for i in range(max(0, len(form) - FRAGMENT + 1))):
                return text, True
    return text, False


# ---- Markdown (GitHub-flavoured) -------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~])")


def md_code(text: str, table: bool = False) -> str:
    """A code span holding `text` literally: no HTML, no mention, no link inside it. The fence is
    longer than any run of backticks in the text; control characters are shown as escapes (a
    newline would end the paragraph); in a table cell `|` is escaped, as GFM requires there."""
    text = one_line(text)
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str, table: bool = False) -> str:
    """Prose that renders as the same words: Markdown's punctuation escaped, `&` kept from
    making entities, and `@` kept from pinging anyone (a word joiner after it breaks the
    mention, as GitHub matches `@name` only directly)."""
    text = _MD_SPECIAL.sub(r"\\\1", one_line(text)).replace("&", "&amp;").replace("@", "@\u2060")
    return text if table else text.replace("\\|", "|")


# ---- TypeScript ------------------------------------------------------------------------------

def ts_string(text: str) -> str:
    """A TypeScript string literal of `text` (JSON's escapes, ASCII only: U+2028 and U+2029,
    which end a line in JavaScript, are escaped too)."""
    return json.dumps(text, ensure_ascii=True)


def ts_comment(text: str) -> str:
    """Text for inside a `//` or `/** */` comment: on one line (a line terminator would end a
    `//` comment and make the rest code) and without `*/` (which would end a block comment)."""
    return one_line(text).replace("*/", "*\\/")


# ---- wrangler configs (JSON, JSONC, TOML) ----------------------------------------------------

def json_string(text: str) -> str:
    """A JSON (and JSONC) string literal of `text`: JSON's escapes, ASCII only."""
    return json.dumps(text, ensure_ascii=True)


_BARE_TOML_KEY = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


def toml_string(text: str) -> str:
    """A TOML basic string of `text`: quote, backslash and every control character TOML forbids
    raw (all but tab, and DEL) escaped; other characters as they are (TOML has no surrogate
    escapes, so JSON's ASCII form would not do)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 and ch != "\t" or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(text: str) -> str:
    """A TOML key part: bare when TOML allows it, else a basic string."""
    return text if _BARE_TOML_KEY.fullmatch(text) else toml_string(text)


# ---- YAML ------------------------------------------------------------------------------------

_PLAIN_YAML = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)
# Words YAML 1.1 (PyYAML) reads as something other than a string.
_YAML_WORDS = frozenset("y n yes no on off true false null".split())


def yaml_scalar(text: str) -> str:
    """A YAML scalar that reads back as exactly `text`: plain when it is a plain name, otherwise
    double-quoted with every special character escaped (a newline cannot start a new key)."""
    if _PLAIN_YAML.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029, 0xFEFF):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
