"""`wrangler sync`'s edits: the env's `secrets_store_secrets` and `secrets.required` changed by
the text spans they take, every other byte of the file as it was.

Each list is edited entry by entry (`plan_list`): an entry the plane does not manage stays, an entry
already right stays where it is, a managed entry that changed is changed where it stands (member
by member, row by row for a [[table]], so comments inside it stay), one no longer wanted is removed
with its line (or its comma, on one line; a comment before it that ends the previous entry's line
stays), and what is missing is added after the last entry (and after its comment, however many
lines that takes), in the file's own layout: one per line at the entries' indentation, or on
the line, with or without the trailing comma the list has. A list, table or env that is missing is
added beside its neighbours (JSON: the env object's last member; TOML: after the env's last
table); a list left empty goes with its key. Comments, blank lines and key order elsewhere never
move. `wrangler_config.render` parses the result and compares it with the data it wanted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import tomlkit

from ..core.text import json_string, toml_key, toml_string
from .config_scan import JSONC, TOML, Item, Node, ScanError, Scanner, Statement, strip_jsonc

KEY = "secrets_store_secrets"
SECRETS = "secrets"
REQUIRED = "required"
Edit = tuple[int, int, str]  # replace text[start:end] with the string


def apply(text: str, edits: list[Edit]) -> str:
    """The text with the edits made: removals that touch are one removal; an insertion stands
    before a removal at the same place; anything else overlapping is refused."""
    merged = removed(edits)
    others = [(s, e, t) for s, e, t in edits if t or e == s]
    ordered = sorted([(s, e, "") for s, e in merged] + others, key=lambda edit: (edit[0], edit[1] > edit[0]))
    out, pos = [], 0
    for start, end, new in ordered:
        if start < pos:
            raise ScanError("two edits overlap")
        out += [text[pos:start], new]
        pos = end
    return "".join(out) + text[pos:]


def removed(edits: list[Edit]) -> list[list[int]]:
    """The spans the edits remove, those that touch made one."""
    merged: list[list[int]] = []
    for start, end in sorted((s, e) for s, e, t in edits if not t and e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


@dataclass
class ListPlan:
    drops: set[int] = field(default_factory=set)
    replaces: dict[int, Any] = field(default_factory=dict)  # index -> the wanted entry in its place
    appends: list[Any] = field(default_factory=list)
    final: list[Any] = field(default_factory=list)           # the list as it will read

    @property
    def changed(self) -> bool:
        return bool(self.drops or self.replaces or self.appends)


def plan_list(current: Sequence[Any], wanted: Sequence[Any], identity: Callable[[Any], str],
              plain: Callable[[Any], Any], managed: frozenset[str]) -> ListPlan:
    """Entry by entry (wrangler reads both lists as sets): kept, replaced, dropped or added."""
    plan = ListPlan()
    left = {identity(w): w for w in wanted}
    for index, entry in enumerate(current):
        name = identity(plain(entry))
        if name not in managed:
            plan.final.append(entry)
        elif name in left:
            want = left.pop(name)
            if plain(entry) != want:
                plan.replaces[index] = want
            plan.final.append(want if index in plan.replaces else entry)
        else:
            plan.drops.add(index)
    plan.appends = [w for w in wanted if identity(w) in left]
    plan.final += plan.appends
    return plan


# ---- layout ----------------------------------------------------------------------------------

def line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def line_end(text: str, i: int) -> int:
    """The offset of the newline ending the line at `i` (or the text's end)."""
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def indent_at(text: str, i: int) -> str:
    start = line_start(text, i)
    return re.match(r"[ \t]*", text[start:]).group(0)  # type: ignore[union-attr]


def indent_unit(text: str) -> str:
    """The file's indentation step: a tab, or the fewest spaces a line is indented by."""
    # Not a comment's continuation lines (` * ` in a /** */ banner).
    widths = [len(m.group(1)) for m in re.finditer(r"^( +)[^\s*/#]", text, re.MULTILINE)]
    if re.search(r"^\t+\S", text, re.MULTILINE) and not widths:
        return "\t"
    return " " * (min(widths) if widths else 2)


class Layout:
    """Where a node's items go: one per line at `indent`, or on one line."""

    def __init__(self, scanner: Scanner, node: Node) -> None:
        text = scanner.text
        self.scanner, self.node = scanner, node
        self.base = indent_at(text, node.start)
        if node.items:
            first = node.items[0].start
            self.multiline = not text[line_start(text, first):first].strip()
            self.indent = indent_at(text, first) if self.multiline else self.base
        else:
            # An empty JSON object opens over lines; a TOML inline table is one line by definition.
            self.multiline = (node.kind == "object" and scanner.dialect != TOML) or "\n" in text[node.start:node.end]
            self.indent = self.base + indent_unit(text)

    def isolated(self, item: Item) -> bool:
        """The item alone on its line (with nothing after it but a comment)."""
        text = self.scanner.text
        if text[line_start(text, item.start):item.start].strip():
            return False
        after = self.scanner.skip(item.tail, newlines=False)
        return after >= len(text) or text[after] == "\n"

    def line_end(self, item: Item) -> int:
        """The end of the item's line, or of the line its comment ends on (a /* */ may span lines)."""
        return line_end(self.scanner.text, self.scanner.skip(item.tail, newlines=False))


def sequence_edits(scanner: Scanner, node: Node, drops: set[int], replaces: dict[int, str],
                   appends: list[str]) -> list[Edit]:
    """The edits that drop, replace (the value) and append items of an object or array."""
    text, items = scanner.text, node.items
    layout = Layout(scanner, node)
    survivors = [i for i in range(len(items)) if i not in drops]
    edits: list[Edit] = [(items[i].value.start, items[i].value.end, new) for i, new in replaces.items()]
    last = survivors[-1] if survivors else None
    for i in sorted(drops):
        item = items[i]
        before = [s for s in survivors if s < i]
        if layout.isolated(item):
            edits.append((line_start(text, item.start), min(layout.line_end(item) + 1, len(text)), ""))
            if item.comma is None and before and not appends:
                comma = items[before[-1]].comma
                assert comma is not None
                edits.append((comma, comma + 1, ""))  # the new last item takes no comma
        elif item.comma is not None:
            end = item.comma + 1
            while end < len(text) and text[end] in " \t":
                end += 1
            edits.append((item.start, end, ""))
        elif before:
            comma = items[before[-1]].comma
            assert comma is not None
            if text[comma + 1:item.start].strip():
                # A comment between belongs to the entry before: only the comma and the item go.
                if not appends:
                    edits.append((comma, comma + 1, ""))
                edits.append((item.start, item.value.end, ""))
            else:
                edits.append((comma + (1 if appends else 0), item.value.end, ""))
        else:
            edits.append((item.start, item.value.end, ""))
    if not appends:
        return edits
    trailing = node.trailing_comma
    if last is not None:
        anchor = items[last]
        tail = ""
        if anchor.comma is None:
            edits.append((anchor.value.end, anchor.value.end, ","))
        if layout.multiline and layout.isolated(anchor):
            at = layout.line_end(anchor)
            sep = "\n" + layout.indent
        else:
            at = anchor.tail if anchor.comma is not None else anchor.value.end
            sep = " "
            past = scanner.skip(at, newlines=False)
            if text[at:past].strip() and past < len(text) and text[past] != "\n":
                # The entry's /* */ comment stays beside it: the new one goes after (a line
                # comment ends the line, so the new one goes before it).
                at, sep = past, "" if text[past - 1] in " \t" else " "
        new = "".join(sep + a + ("," if k < len(appends) - 1 or trailing else "") for k, a in enumerate(appends))
        edits.append((at, at, new + tail))
    elif items:
        first = items[0]
        commas = ["," if k < len(appends) - 1 or trailing else "" for k in range(len(appends))]
        if layout.multiline:
            at = line_start(text, first.start)
            edits.append((at, at, "".join(layout.indent + a + c + "\n" for a, c in zip(appends, commas, strict=True))))
        else:
            edits.append((first.start, first.start, " ".join(a + c for a, c in zip(appends, commas, strict=True))))
    else:
        inner = node.start + 1
        if layout.multiline:
            close = "" if "\n" in text[node.start:node.end] else "\n" + layout.base
            edits.append((inner, inner, "".join(("," if k else "") + "\n" + layout.indent + a
                                                for k, a in enumerate(appends)) + close))
        elif node.kind == "object" and not text[inner:node.end - 1].strip():
            edits.append((inner, node.end - 1, " " + ", ".join(appends) + " "))  # `{ a = 1 }`, as written by hand
        else:
            edits.append((inner, inner, ", ".join(appends)))
    return edits


def in_place(scanner: Scanner, array: Node, replaces: dict[int, Any], value_of: Callable[[Node], Any],
             value_text: Callable[[Any], str], member_text: Callable[[str, Any], str],
             whole: Callable[[int, Any], str]) -> tuple[list[Edit], dict[int, str]]:
    """A replaced entry that is a mapping changes member by member (a value that differs, a member
    missing or not wanted), so comments inside it stay; anything else is replaced whole. Gives the
    member edits and the replacements left for `sequence_edits`."""
    edits: list[Edit] = []
    left: dict[int, str] = {}
    for index, want in replaces.items():
        node = array.items[index].value
        if node.kind != "object" or not isinstance(want, dict):
            left[index] = whole(index, want)
            continue
        edits += mapping_edits(scanner, node, want, value_of, value_text, member_text)
    return edits, left


def mapping_edits(scanner: Scanner, node: Node, want: dict[str, Any], value_of: Callable[[Node], Any],
                  value_text: Callable[[Any], str], member_text: Callable[[str, Any], str]) -> list[Edit]:
    drops: set[int] = set()
    replaces: dict[int, str] = {}
    seen: set[str] = set()
    for index, item in enumerate(node.items):
        key = item.key[0] if len(item.key) == 1 else None
        if key is not None and key in want and key not in seen:
            seen.add(key)
            if value_of(item.value) != want[key]:
                replaces[index] = value_text(want[key])
        else:
            drops.add(index)
    appends = [member_text(k, v) for k, v in want.items() if k not in seen]
    return sequence_edits(scanner, node, drops, replaces, appends)


# ---- JSON and JSONC --------------------------------------------------------------------------

def render_json(value: Any, indent: str, unit: str, inline: bool) -> str:
    """JSON text of `value`: a list of names on one line; objects (and lists of them) one member a
    line at `indent` + `unit`, or all on one line when `inline`."""
    if isinstance(value, str):
        return json_string(value)
    inner = indent + unit
    if isinstance(value, list):
        if inline or all(isinstance(v, str) for v in value):
            return "[" + ", ".join(render_json(v, inner, unit, True) for v in value) + "]"
        return "[\n" + ",\n".join(inner + render_json(v, inner, unit, False) for v in value) + "\n" + indent + "]"
    if inline:
        return "{ " + ", ".join(f"{json_string(k)}: {render_json(v, inner, unit, True)}" for k, v in value.items()) + " }"
    return "{\n" + ",\n".join(f"{inner}{json_string(k)}: {render_json(v, inner, unit, False)}"
                              for k, v in value.items()) + "\n" + indent + "}"


def _member(node: Node, key: str) -> tuple[int, Item] | None:
    found = None
    for index, item in enumerate(node.items):
        if item.key == (key,):
            found = (index, item)
    return found


def _of_kind(item: Item | None, kind: str, what: str, scanner: Scanner) -> Node | None:
    if item is None:
        return None
    if item.value.kind != kind:
        raise scanner.fail(item.value.start, f"{what} is not an {kind}")
    return item.value


class _JsonContainer:
    """The edits gathered for one object: its own members dropped or added, and nested edits."""

    def __init__(self, scanner: Scanner, node: Node) -> None:
        self.scanner, self.node = scanner, node
        self.layout = Layout(scanner, node)
        self.unit = indent_unit(scanner.text)
        self.drops: set[int] = set()
        self.appends: list[str] = []
        self.edits: list[Edit] = []

    def member_text(self, key: str, value: Any) -> str:
        inline = not self.layout.multiline
        return f"{json_string(key)}: {render_json(value, self.layout.indent, self.unit, inline)}"

    def done(self) -> list[Edit]:
        return self.edits + sequence_edits(self.scanner, self.node, self.drops, {}, self.appends)


def _json_value(text: str, node: Node) -> Any:
    return json.loads(strip_jsonc(text[node.start:node.end]))


def _json_list(scanner: Scanner, array: Node, plan: ListPlan, entry_style: bool) -> list[Edit]:
    layout = Layout(scanner, array)
    unit = indent_unit(scanner.text)
    objects = [item.value for item in array.items if item.value.kind == "object"]
    # New entries take the layout of the list's own objects (one line or one member a line).
    inline = bool(objects) and "\n" not in scanner.text[objects[0].start:objects[0].end]
    def text_of(entry: Any, indent: str) -> str:
        return render_json(entry, indent, unit, inline or not entry_style or not layout.multiline)
    def value_of(node: Node) -> Any:
        return _json_value(scanner.text, node)
    edits, replaces = in_place(scanner, array, plan.replaces, value_of, lambda v: render_json(v, "", unit, True),
                               lambda k, v: f"{json_string(k)}: {render_json(v, '', unit, True)}",
                               lambda i, e: text_of(e, indent_at(scanner.text, array.items[i].start)))
    return edits + sequence_edits(scanner, array, plan.drops, replaces, [text_of(e, layout.indent) for e in plan.appends])


def edit_json(text: str, env: str | None, plan_of: Callable[[str, list[Any]], ListPlan]) -> str:
    """`plan_of(KEY or REQUIRED, current entries)` gives each list's plan."""
    scanner = Scanner(text, JSONC)
    root = scanner.value(0)
    if root.kind != "object":
        raise scanner.fail(root.start, "the config is not an object")

    def values(node: Node | None) -> list[Any]:
        return [_json_value(text, i.value) for i in node.items] if node else []

    holders: list[_JsonContainer] = []
    top = _JsonContainer(scanner, root)
    holders.append(top)
    container: _JsonContainer | None = top
    new: dict[str, Any] = {}  # the members an env that is not there yet needs
    if env:
        found = _member(root, "env")
        envs = _of_kind(found[1] if found else None, "object", "env", scanner)
        own = _member(envs, env) if envs else None
        if own:
            container = _JsonContainer(scanner, _of_kind(own[1], "object", f"env.{env}", scanner))  # type: ignore[arg-type]
            holders.append(container)
        else:
            container = None
    store_found = _member(container.node, KEY) if container else None
    store = _of_kind(store_found[1] if store_found else None, "array", KEY, scanner)
    plan = plan_of(KEY, values(store))
    if plan.changed:
        if container is None:
            new[KEY] = plan.final
        elif store is None:
            container.appends.append(container.member_text(KEY, plan.final))
        elif not plan.final:
            container.drops.add(store_found[0])  # type: ignore[index]
        else:
            container.edits += _json_list(scanner, store, plan, True)
    secrets_found = _member(container.node, SECRETS) if container else None
    secrets = _of_kind(secrets_found[1] if secrets_found else None, "object", SECRETS, scanner)
    required_found = _member(secrets, REQUIRED) if secrets else None
    required = _of_kind(required_found[1] if required_found else None, "array", "secrets.required", scanner)
    plan = plan_of(REQUIRED, values(required))
    if plan.changed:
        if container is None:
            new[SECRETS] = {REQUIRED: plan.final}
        elif secrets is None:
            container.appends.append(container.member_text(SECRETS, {REQUIRED: plan.final}))
        elif required is None:
            holder = _JsonContainer(scanner, secrets)
            holder.appends.append(holder.member_text(REQUIRED, plan.final))
            holders.append(holder)
        elif not plan.final:
            if len(secrets.items) == 1:
                container.drops.add(secrets_found[0])  # type: ignore[index]
            else:
                holder = _JsonContainer(scanner, secrets)
                holder.drops.add(required_found[0])  # type: ignore[index]
                holders.append(holder)
        else:
            container.edits += _json_list(scanner, required, plan, False)
    if new and env:
        found = _member(root, "env")
        if found:
            holder = _JsonContainer(scanner, found[1].value)
            holder.appends.append(holder.member_text(env, new))
            holders.append(holder)
        else:
            top.appends.append(top.member_text("env", {env: new}))
    return apply(text, [edit for holder in holders for edit in holder.done()])


# ---- TOML ------------------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(tomlkit.item(value).as_string())  # a number or boolean kept in a list sync does not own


def _path(parts: Sequence[str]) -> str:
    return ".".join(toml_key(p) for p in parts)


@dataclass
class _Block:
    header: Statement | None            # None: the top level, before the first header
    rows: list[Statement] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.header.line_start if self.header else 0

    @property
    def end(self) -> int:
        """Past its last statement's line (comments and blank lines after it are the next
        table's banner)."""
        last = self.rows[-1] if self.rows else self.header
        return last.end if last else 0

    def row(self, key: tuple[str, ...]) -> Statement | None:
        return next((r for r in self.rows if r.key == key), None)


def _table_edits(text: str, table: _Block, want: dict[str, Any], indent: str,
                 value_of: Callable[[Node], Any]) -> list[Edit]:
    """A [[table]] entry changed row by row: a value that differs in its place, a row not wanted
    with its line, a missing key after the last row; comments on the rows and around stay."""
    edits: list[Edit] = []
    seen: set[str] = set()
    for row in table.rows:
        key = row.key[0] if len(row.key) == 1 else None
        if key is not None and key in want and key not in seen and row.value is not None:
            seen.add(key)
            if value_of(row.value) != want[key]:
                edits.append((row.value.start, row.value.end, _toml_value(want[key])))
        else:
            edits.append((row.line_start, row.end, ""))
    missing = "".join(f"{indent}{toml_key(k)} = {_toml_value(v)}\n" for k, v in want.items() if k not in seen)
    if missing:
        edits.append((table.end, table.end, ("" if text[table.end - 1:table.end] in ("\n", "") else "\n") + missing))
    return edits


def _to_array_header(text: str, header: Statement, path: str) -> list[Edit]:
    """`[a.b]` -> `[[a.b]]` in place, its indentation and comment kept."""
    line = text[header.line_start:header.end]
    found = re.match(r"[ \t]*\[", line)
    close = line.find("]", found.end()) if found else -1
    if not found or close < 0 or line.startswith("[[", found.end() - 1):
        return [(header.line_start, header.end, f"[[{path}]]\n")]
    # Replacements, not insertions: anything inserted where the header starts stands before it.
    at = header.line_start
    return [(at + found.end() - 1, at + found.end(), "[["), (at + close, at + close + 1, "]]")]


def _blocks(statements: list[Statement]) -> list[_Block]:
    blocks = [_Block(None)]
    for statement in statements:
        if statement.header is not None:
            blocks.append(_Block(statement))
        else:
            blocks[-1].rows.append(statement)
    return blocks


def _through_blank_lines(text: str, end: int) -> int:
    while end < len(text):
        nxt = line_end(text, end)
        if text[end:nxt].strip():
            break
        end = min(nxt + 1, len(text))
    return end


def _insert(text: str, at: int, body: str) -> Edit:
    """`body` (whole lines) as a block of its own at `at`, a blank line before it."""
    lead = "\n" if at > 0 and text[at - 1] != "\n" else ""
    return (at, at, lead + ("\n" if at > 0 else "") + body)


def edit_toml(text: str, env: str | None, plan_of: Callable[[str, list[Any]], ListPlan],
              data: dict[str, Any]) -> str:
    scanner = Scanner(text, TOML)
    blocks = _blocks(scanner.statements())
    where: tuple[str, ...] = ("env", env) if env else ()
    section = data
    for part in where:
        section = section.get(part) if isinstance(section, dict) else None  # type: ignore[assignment]
    section = section if isinstance(section, dict) else {}
    own = [b for b in blocks if (b.header.header if b.header else ()) == where]
    mine = [b for b in blocks if where and b.header and (b.header.header or ())[:len(where)] == where] or own
    edits: list[Edit] = []
    new_blocks: list[str] = []

    def value_of(node: Node) -> Any:
        return tomlkit.parse("v = " + text[node.start:node.end]).unwrap()["v"]

    def row_in(key: tuple[str, ...]) -> Statement | None:
        return next((r for b in own for r in b.rows if r.key == key), None)

    # secrets_store_secrets: [[tables]], one [table], or an inline array
    tables = [b for b in blocks if b.header and b.header.header == (*where, KEY)]
    inline = row_in((KEY,))
    current = section.get(KEY)
    entries = (current if isinstance(current, list) else [current]) if current is not None else []
    plan = plan_of(KEY, entries)
    if plan.changed and inline is not None and inline.value is not None:
        if not plan.final:
            edits.append((inline.line_start, inline.end, ""))
        else:
            array = inline.value
            members, replaces = in_place(scanner, array, plan.replaces, value_of, _toml_value,
                                         lambda k, v: f"{toml_key(k)} = {_toml_value(v)}", lambda i, e: _toml_value(e))
            edits += members + sequence_edits(scanner, array, plan.drops, replaces, [_toml_value(e) for e in plan.appends])
    elif plan.changed:
        key_indent = indent_at(text, tables[0].rows[0].line_start) if tables and tables[0].rows else ""

        def block_of(entry: dict[str, Any]) -> str:
            return f"[[{_path((*where, KEY))}]]\n" + "".join(f"{key_indent}{toml_key(k)} = {_toml_value(v)}\n"
                                                             for k, v in entry.items())
        kept = [i for i in range(len(tables)) if i not in plan.drops]
        for i, table in enumerate(tables):
            if i in plan.drops:
                edits.append((table.start, _through_blank_lines(text, table.end), ""))
                continue
            if i in plan.replaces:
                edits += _table_edits(text, table, plan.replaces[i], key_indent, value_of)
            if table.header and not table.header.aot:  # a lone [table] becomes one of an array
                edits += _to_array_header(text, table.header, _path((*where, KEY)))
        body = "\n".join(block_of(e) for e in plan.appends)
        if body and kept:
            edits.append(_insert(text, tables[kept[-1]].end, body))
        elif body and tables:
            edits.append((tables[0].start, tables[0].start, body + "\n"))
        elif body:
            new_blocks.append(body)
    # secrets.required: a [secrets] secrets_table, a dotted key, or an inline secrets_table
    secrets_table = next((b for b in blocks if b.header and b.header.header == (*where, SECRETS) and not b.header.aot), None)
    row = secrets_table.row((REQUIRED,)) if secrets_table else row_in((SECRETS, REQUIRED))
    holder = row_in((SECRETS,))
    member = None
    if holder is not None and holder.value is not None and holder.value.kind == "object":
        member = _member(holder.value, REQUIRED)
    required_array = row.value if row else member[1].value if member else None
    if required_array is not None and required_array.kind != "array":
        raise scanner.fail(required_array.start, "secrets.required is not an array")
    secrets = section.get(SECRETS)
    plan = plan_of(REQUIRED, list(secrets.get(REQUIRED) or []) if isinstance(secrets, dict) else [])
    line = f"{REQUIRED} = {_toml_value(plan.final)}\n"
    if plan.changed and required_array is not None and plan.final:
        edits += sequence_edits(scanner, required_array, plan.drops, {i: _toml_value(e) for i, e in plan.replaces.items()},
                                [_toml_value(e) for e in plan.appends])
    elif plan.changed and required_array is not None:  # left empty: the key goes, and a secrets_table holding nothing else
        if secrets_table is not None and row is not None:
            if len(secrets_table.rows) == 1:
                edits.append((secrets_table.start, _through_blank_lines(text, secrets_table.end), ""))
            else:
                edits.append((row.line_start, row.end, ""))
        elif row is not None:
            edits.append((row.line_start, row.end, ""))
        elif holder is not None and holder.value is not None and member is not None:
            if len(holder.value.items) == 1:
                edits.append((holder.line_start, holder.end, ""))
            else:
                edits += sequence_edits(scanner, holder.value, {member[0]}, {}, [])
    elif plan.changed and secrets_table is not None:
        indent = indent_at(text, secrets_table.rows[0].line_start) if secrets_table.rows else ""
        edits.append((secrets_table.end, secrets_table.end, ("" if text[secrets_table.end - 1:secrets_table.end] in ("\n", "") else "\n") + indent + line))
    elif plan.changed and holder is not None and holder.value is not None and holder.value.kind == "object":
        edits += sequence_edits(scanner, holder.value, set(), {}, [f"{REQUIRED} = {_toml_value(plan.final)}"])
    elif plan.changed:
        new_blocks.append(f"[{_path((*where, SECRETS))}]\n" + line)
    if new_blocks:
        body = "\n".join(new_blocks)
        if not where and len(blocks) > 1 and not blocks[0].rows:
            # Above the first table and its banner, below the file's own directives (#:schema).
            at = _banner_start(text, blocks[1].start)
            edits.append((at, at, body + "\n"))
        else:
            at = mine[-1].end if where and mine else blocks[0].end if not where and len(blocks) > 1 else len(text)
            gone = next(((s, e) for s, e in removed(edits)
                         if s < at <= e and line_start(text, s) == s and (e == len(text) or text[e - 1] == "\n")), None)
            if gone:
                # The env's last table is going: the new one takes its place, before what follows.
                edits.append((gone[0], gone[0], body + ("\n" if text[gone[0]:gone[1]].endswith("\n\n") else "")))
            else:
                edits.append(_insert(text, at, body))
    return apply(text, edits)


def _banner_start(text: str, header: int) -> int:
    """Where the comment lines directly above a header begin; at the file's start, past its
    `#:` directive lines, which editors read only there."""
    at = header
    while at > 0:
        previous = line_start(text, at - 1)
        if not text[previous:at].lstrip().startswith("#"):
            break
        at = previous
    if at == 0:
        while at < header and text.startswith("#:", at):
            at = line_end(text, at) + 1
    return at
