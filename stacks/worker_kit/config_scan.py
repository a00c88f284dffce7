"""Where each value of a wrangler config sits in its text: the spans `wrangler sync` edits.

A parser gives the data and forgets the text; sync must change a few values and leave every
other byte, comment and blank line as it was. This scanner reads JSON, JSONC (`//` and `/* */`
comments, trailing commas) and TOML values into nodes that keep their spans: an object's members
and an array's elements, each with the comma after it. For TOML it also lists the document's
statements (table headers and `key = value` lines) with the lines they take. It trusts the parse
the data came from (`wrangler_config._parse` has already refused a broken file) and raises
`ScanError` on anything it does not follow, which sync turns into a located error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

JSONC, TOML = "jsonc", "toml"


class ScanError(Exception):
    """A layout the scanner does not follow (its message names the offset, never the text)."""


@dataclass
class Node:
    kind: str                     # "object" (JSON object, TOML inline table), "array" or "scalar"
    start: int                    # the first character of the value
    end: int                      # just past its last character
    items: list[Item] = field(default_factory=list)  # an object's members, an array's elements

    @property
    def trailing_comma(self) -> bool:
        return bool(self.items) and self.items[-1].comma is not None


@dataclass
class Item:
    start: int                    # a member's key, an element's value: where the item begins
    value: Node
    key: tuple[str, ...] = ()     # a member's key (a TOML dotted key has several parts)
    comma: int | None = None      # the comma after it, if any

    @property
    def tail(self) -> int:
        """Just past the item and its comma."""
        return self.comma + 1 if self.comma is not None else self.value.end


@dataclass
class Statement:
    """One TOML statement at the document's level: a table header or a `key = value`."""

    line_start: int               # the start of its first line
    end: int                      # past its last line's newline (or the end of the text)
    header: tuple[str, ...] | None = None  # a header's table path
    aot: bool = False             # a `[[array of tables]]` header
    key: tuple[str, ...] = ()     # a key/value's dotted key
    value: Node | None = None


class Scanner:
    def __init__(self, text: str, dialect: str) -> None:
        self.text, self.dialect, self.n = text, dialect, len(text)

    def fail(self, i: int, what: str) -> ScanError:
        line = self.text.count("\n", 0, i) + 1
        return ScanError(f"{what} at line {line}")

    # ---- trivia: whitespace and comments ----

    def skip(self, i: int, newlines: bool = True) -> int:
        text, n = self.text, self.n
        while i < n:
            ch = text[i]
            if ch in " \t\r" or (newlines and ch == "\n") or ch == "\ufeff":
                i += 1
            elif self.dialect == TOML and ch == "#" or self.dialect == JSONC and text.startswith("//", i):
                while i < n and text[i] != "\n":
                    i += 1
            elif self.dialect == JSONC and text.startswith("/*", i):
                end = text.find("*/", i + 2)
                i = n if end < 0 else end + 2
            else:
                break
        return i

    # ---- values ----

    def value(self, i: int) -> Node:
        i = self.skip(i)
        if i >= self.n:
            raise self.fail(i, "a value expected")
        ch = self.text[i]
        if ch == "{":
            return self._object(i)
        if ch == "[":
            return self._array(i)
        if ch in "\"'":
            return Node("scalar", i, self.string(i)[1])
        return Node("scalar", i, self._bare(i))

    def string(self, i: int) -> tuple[str, int]:
        """(its text, the offset past it) for the string that opens at `i`."""
        text = self.text
        quote = text[i]
        if self.dialect == TOML and text.startswith(quote * 3, i):
            end = text.find(quote * 3, i + 3)
            while end >= 0 and quote == '"' and self._escaped(end):
                end = text.find(quote * 3, end + 1)
            if end < 0:
                raise self.fail(i, "an unterminated string")
            end += 3
            while end < self.n and text[end] == quote:  # up to two quotes may end the content
                end += 1
            return text[i + 3:end - 3], end
        j = i + 1
        while j < self.n:
            ch = text[j]
            if ch == "\\" and quote == '"':
                j += 2
                continue
            if ch == quote:
                return self._unquote(text[i:j + 1]), j + 1
            if ch == "\n":
                break
            j += 1
        raise self.fail(i, "an unterminated string")

    def _escaped(self, i: int) -> bool:
        backslashes = 0
        while i - 1 - backslashes >= 0 and self.text[i - 1 - backslashes] == "\\":
            backslashes += 1
        return backslashes % 2 == 1

    def _unquote(self, literal: str) -> str:
        if literal[0] == "'":
            return literal[1:-1]
        try:
            return str(json.loads(literal))
        except ValueError:
            return literal[1:-1]  # a TOML escape JSON lacks (\e, \UXXXXXXXX): only compared as a key

    def _bare(self, i: int) -> int:
        stops = ",]}\n" + ("#" if self.dialect == TOML else " \t\r/")
        j = i
        while j < self.n and self.text[j] not in stops:
            j += 1
        while j > i and self.text[j - 1] in " \t\r":
            j -= 1
        if j == i:
            raise self.fail(i, "a value expected")
        return j

    def _array(self, i: int) -> Node:
        node = Node("array", i, i)
        j = self.skip(i + 1)
        while j < self.n and self.text[j] != "]":
            value = self.value(j)
            item = Item(value.start, value)
            node.items.append(item)
            j = self._past_item(item, "]")
        return self._closed(node, j, "array")

    def _object(self, i: int) -> Node:
        node = Node("object", i, i)
        j = self.skip(i + 1)
        while j < self.n and self.text[j] != "}":
            key_start = self.skip(j)
            key, j = self.key(key_start)
            j = self.skip(j)
            sep = ":" if self.dialect == JSONC else "="
            if j >= self.n or self.text[j] != sep:
                raise self.fail(j, f"{sep} expected")
            value = self.value(j + 1)
            item = Item(key_start, value, key)
            node.items.append(item)
            j = self._past_item(item, "}")
        return self._closed(node, j, "object")

    def _past_item(self, item: Item, close: str) -> int:
        """The offset after an array's or object's item and its comma (kept on the item)."""
        j = self.skip(item.value.end)
        if j < self.n and self.text[j] == ",":
            item.comma = j
            return self.skip(j + 1)
        if j < self.n and self.text[j] != close:
            raise self.fail(j, f"a comma or {close} expected")
        return j

    def _closed(self, node: Node, j: int, kind: str) -> Node:
        if j >= self.n:
            raise self.fail(node.start, f"an unclosed {kind}")
        node.end = j + 1
        return node

    def key(self, i: int) -> tuple[tuple[str, ...], int]:
        """(the key's parts, the offset past it): a JSON string, or a TOML dotted key."""
        i = self.skip(i)
        parts: list[str] = []
        while True:
            if i < self.n and self.text[i] in "\"'":
                part, i = self.string(i)
            else:
                j = i
                while j < self.n and (self.text[j].isalnum() or self.text[j] in "_-"):
                    j += 1
                if j == i:
                    raise self.fail(i, "a key expected")
                part, i = self.text[i:j], j
            parts.append(part)
            j = self.skip(i, newlines=False)
            if self.dialect == TOML and j < self.n and self.text[j] == ".":
                i = self.skip(j + 1, newlines=False)
                continue
            return tuple(parts), i

    # ---- the TOML document ----

    def statements(self) -> list[Statement]:
        out: list[Statement] = []
        text, n = self.text, self.n
        i = 0
        while i < n:
            line_start = i
            j = self.skip(i, newlines=False)
            if j >= n or text[j] == "\n":
                i = j + 1
                continue
            if text[j] == "[":
                aot = text.startswith("[[", j)
                path, k = self.key(j + (2 if aot else 1))
                k = self.skip(k, newlines=False)
                close = "]]" if aot else "]"
                if not text.startswith(close, k):
                    raise self.fail(k, f"{close} expected")
                end = self._line_end(k + len(close))
                out.append(Statement(line_start, end, header=path, aot=aot))
            else:
                key, k = self.key(j)
                k = self.skip(k, newlines=False)
                if k >= n or text[k] != "=":
                    raise self.fail(k, "= expected")
                value = self.value_on_line(k + 1)
                end = self._line_end(value.end)
                out.append(Statement(line_start, end, key=key, value=value))
            i = end
        return out

    def value_on_line(self, i: int) -> Node:
        j = self.skip(i, newlines=False)
        if j >= self.n or self.text[j] == "\n":
            raise self.fail(j, "a value expected")
        return self.value(j)

    def _line_end(self, i: int) -> int:
        """Past the newline that ends the line at `i`, after nothing but a comment."""
        j = self.skip(i, newlines=False)
        if j < self.n and self.text[j] != "\n":
            raise self.fail(j, "the end of the line expected")
        return min(j + 1, self.n)


def strip_jsonc(text: str) -> str:
    """JSONC -> JSON: drop // and /* */ comments and trailing commas, leaving strings intact."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
        elif ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))
