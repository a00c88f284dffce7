"""`.dev.vars` in the exact grammar wrangler reads it with.

wrangler (`wrangler dev`, `getPlatformProxy()`) reads `.dev.vars` with the npm `dotenv` package's
`parse` (16.3.1, bundled in wrangler 4.164.0), without variable expansion. `parse` below is that
function, in Python, with JavaScript's regular-expression semantics spelled out (`\\s`, `^`/`$`
in multi-line mode, `.`, `trim()`): one regular expression finds each `KEY=value`, the value is
trimmed, ONE pair of matching outer quotes (' " `) is removed, and only inside double quotes are
the two sequences `\\n` and `\\r` turned into line breaks; a CR in the file becomes a LF before
anything else.

`forms` lists the lines `parse` reads back as exactly a value (single quotes, backticks, double
quotes, bare, double quotes with escaped line breaks), and refuses the few values no form can
carry (every quote character with a line break and a literal `\\n`, say); `render` picks, for each
value, the first form that still reads back exactly within the whole file. tests/test_hostile_input.py reads files written
here through wrangler's own code for every character class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# JavaScript's \s (WhiteSpace and LineTerminator), which is also what String.prototype.trim removes.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_S = f"[{_JS_SPACE}]"
_EOL = "\n\r\u2028\u2029"  # JavaScript's line terminators: where ^ and $ match in multi-line mode
_BOL = f"(?:(?<=[{_EOL}])|\\A)"
_EOLA = f"(?=[{_EOL}]|\\Z)"
_DOT = f"[^{_EOL}]"
# dotenv's LINE, translated term by term.
LINE = re.compile(
    _BOL + f"{_S}*(?:export{_S}+)?([A-Za-z0-9_.-]+)(?:{_S}*={_S}*?|:{_S}+?)"
    f"({_S}*'(?:\\\\'|[^'])*'|{_S}*\"(?:\\\\\"|[^\"])*\"|{_S}*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?"
    f"{_S}*(?:#{_DOT}*)?(?:{_EOLA}|{_EOLA})"
)
_OUTER_QUOTES = re.compile(_BOL + "(['\"`])([\\s\\S]*)\\1" + _EOLA)
KEY = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    first_line: int  # 0-based lines of the file the entry spans
    last_line: int


def _trim(value: str) -> str:
    return value.strip(_JS_SPACE.replace("\u2000-\u200a", "".join(chr(c) for c in range(0x2000, 0x200B))))


def entries(src: str) -> list[Entry]:
    """Every entry wrangler reads from `src`, in order (a later one of a key wins, as there)."""
    lines = src.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for match in LINE.finditer(lines):
        value = _trim(match.group(2) or "")
        quote = value[:1]
        value = _OUTER_QUOTES.sub(r"\2", value)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        first = lines.count("\n", 0, match.start(1))
        out.append(Entry(match.group(1), value, first, lines.count("\n", 0, match.end())))
    return out


def parse(src: str) -> dict[str, str]:
    return {entry.key: entry.value for entry in entries(src)}


class Unwritable(Exception):
    """No line of the grammar reads back as the value of `name` (never shown)."""

    def __init__(self, name: str, reason: str):
        super().__init__(reason)
        self.name = name


def forms(name: str, value: str) -> list[str]:
    """Every `NAME=<value>` line that reads back as exactly `value` on its own, best first."""
    if not KEY.fullmatch(name):
        raise Unwritable(name, "its name has a character wrangler's parser does not read in a name")
    escaped = value.replace("\r", "\\r").replace("\n", "\\n")
    found = []
    for candidate in (f"'{value}'", f"`{value}`", f'"{value}"', value, f'"{escaped}"'):
        text = f"{name}={candidate}"
        if text not in found and parse(text + "\n") == {name: value}:
            found.append(text)
    if not found:
        raise Unwritable(name, "no quoting makes wrangler's parser read it back exactly (it holds every kind of quote "
                         "together with a line break or a literal \\n)")
    return found


def line(name: str, value: str) -> str:
    """`NAME=<value>` in the first form that reads back as exactly `value`."""
    return forms(name, value)[0]


def render(kept: str, values: dict[str, str]) -> str:
    """The file: `kept` (the lines not the plane's) then one line per value, sorted by name.

    A line is read back in the context of the lines after it: a quoted value that ends in a
    backslash (`'a\\'`) has its closing quote read as an escaped one, and the value runs on into
    the next lines up to a matching quote there. So the whole file is read back, and the first
    entry that reads wrong (the one that runs on: those after it are only swallowed) takes its next
    form, until every entry reads back exactly."""
    body = kept.strip("\n")
    # A value ending in a backslash is the one that can run on: such values go last, where nothing follows.
    names = sorted(values, key=lambda n: (values[n].endswith("\\"), n))
    options = {name: forms(name, values[name]) for name in names}
    chosen = dict.fromkeys(names, 0)
    moved: set[str] = set()
    for _ in range(4 * len(names) * 5 + 1):
        text = "\n".join(([body] if body else []) + [options[n][chosen[n]] for n in names]) + "\n"
        read = parse(text)
        wrong = [n for n in names if read.get(n) != values[n]]
        if not wrong or wrong[0] not in read:
            return text  # all exact, or a kept line runs into ours: the caller says so
        first = wrong[0]
        chosen[first] += 1
        if chosen[first] == len(options[first]):
            if first in moved or first == names[-1]:
                break
            # Every form runs on into a line after it: it goes last, where nothing follows.
            moved.add(first)
            names.remove(first)
            names.append(first)
            chosen[first] = 0
    raise Unwritable(wrong[0], "no quoting makes wrangler's parser read it back exactly beside the lines after it")


def without(src: str, names: set[str]) -> tuple[str, int]:
    """(`src` without the lines of the entries named, how many other entries it keeps)."""
    text = src.replace("\r\n", "\n").replace("\r", "\n")
    found = entries(text)
    dropped = {n for entry in found if entry.key in names for n in range(entry.first_line, entry.last_line + 1)}
    lines = text.split("\n")
    kept = "\n".join(line for i, line in enumerate(lines) if i not in dropped)
    return kept, len([entry for entry in found if entry.key not in names])
