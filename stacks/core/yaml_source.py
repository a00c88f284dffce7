"""Safe YAML reading with locations: duplicate keys rejected, alias expansion and nesting bounded.

PyYAML silently keeps the last of two equal keys and expands aliases without limit (the
"billion laughs"). This module composes the node graph (which shares aliased nodes and so is
cheap to build), then converts it to plain Python data itself, counting every node it emits and
recording the line of every key path for error messages.

libyaml parses (an event loop, no recursion), but its composer recurses once per nesting level
in C, unguarded: a document nested 30,000 levels deep overflows the stack and kills the process.
So the nodes are composed here from libyaml's events, and the nesting depth is counted as they
are, refused past MAX_DEPTH before anything recurses deeper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import PlaneError

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """`("workers", "api", "secrets", 2)` -> `workers.api.secrets[2]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


@dataclass
class YamlDocument:
    """Parsed data, and the composed nodes that give the line (1-based) of any key path."""

    file: str
    data: Any
    root: Node | None = field(default=None, repr=False)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one. Lines are looked up only
        for what gets reported, so they are found by walking the nodes, not recorded for all."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            line, node = child
        return line


def _child(node: Node, part: str | int) -> tuple[int, Node] | None:
    """(line, node) of a mapping's key (the key's line) or a sequence's item."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == part:
                return key_node.start_mark.line + 1, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None


# libyaml's parser when PyYAML was built with it (several times faster on a large manifest).
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


STR_TAG = "tag:yaml.org,2002:str"
_PLAIN = (True, False)  # `implicit` of a plain scalar: its tag is resolved from its text


class _TooDeep(Exception):
    def __init__(self, line: int):
        self.line = line


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The safe loader, used only to compose nodes and construct scalars. Its nodes are composed by
    PyYAML's own composer (in Python) over libyaml's events, one nesting level counted at a time."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        Composer.__init__(self)
        self._depth = 0

    get_single_node = Composer.get_single_node
    compose_document = Composer.compose_document
    compose_scalar_node = Composer.compose_scalar_node
    compose_sequence_node = Composer.compose_sequence_node
    compose_mapping_node = Composer.compose_mapping_node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        opens = self.check_event(SequenceStartEvent, MappingStartEvent)
        if opens:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            if opens:
                self._depth -= 1

    # A manifest repeats the same few scalars thousands of times (secret names in every Worker's
    # list): resolving a plain scalar's tag tries a row of regular expressions, and the answer
    # depends on the text alone, so it is worked out once per text.
    _resolved: dict[tuple[str, tuple[bool, bool]], str] = {}
    _plain: dict[str, str] = {}  # the same, for plain scalars (implicit == (True, False)): most of them

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode:
            return str(super().resolve(kind, value, implicit))
        plain = implicit == _PLAIN
        tag = self._plain.get(value) if plain else self._resolved.get((value, tuple(implicit)))
        if tag is None:
            if len(self._resolved) + len(self._plain) > 100_000:
                self._resolved.clear()  # a bound, for a process that reads many documents
                self._plain.clear()
            tag = str(super().resolve(kind, value, implicit))
            if plain:
                self._plain[value] = tag
            else:
                self._resolved[(value, tuple(implicit))] = tag
        return tag


def _read_text(path: Path, label: str) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PlaneError.at(label, "", f"file not found (looked for {path.resolve()})",
                            f"create {label} there, or run from the project folder (the one holding Pulumi.yaml) or "
                            "pass --project-dir") from None
    except OSError as exc:
        raise PlaneError.at(label, "", f"cannot read file ({exc.strerror})", "check the path and permissions") from None
    if size > MAX_FILE_BYTES:
        raise PlaneError.at(
            label, "", f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit",
            "a manifest or stack file this large is not hand-written; check you passed the right file",
        )
    raw = path.read_bytes()
    return decode_text(raw, label)


def decode_text(raw: bytes, label: str) -> str:
    if b"\x00" in raw:
        raise PlaneError.at(label, "", "file contains NUL bytes (a binary file, not YAML)", "pass the YAML file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlaneError.at(
            label, "", f"not valid UTF-8 (byte {exc.start}: 0x{raw[exc.start]:02x})",
            "save the file as UTF-8", line=line,
        ) from None


def load_yaml_file(path: Path, label: str | None = None) -> YamlDocument:
    label = label or str(path)
    return load_yaml_text(_read_text(path, label), label)


def load_yaml_text(text: str, label: str) -> YamlDocument:
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise PlaneError.at(label, "", f"character 0x{exc.character:02x} is not allowed in YAML",
                            "remove the control character", line=line) from None
    try:
        try:
            node = loader.get_single_node()
        except _TooDeep as deep:
            raise PlaneError.at(label, "", "YAML nesting is too deep", f"keep nesting under {MAX_DEPTH} levels",
                                line=deep.line) from None
        except RecursionError:
            raise PlaneError.at(label, "", "YAML nesting is too deep", f"keep nesting under {MAX_DEPTH} levels") from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            mark_line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "invalid YAML"
            raise PlaneError.at(label, "", f"YAML syntax error: {problem}", "fix the YAML syntax at that line",
                                line=mark_line) from None
        except yaml.reader.ReaderError as exc:
            line = text[: exc.position].count("\n") + 1
            raise PlaneError.at(label, "", f"character 0x{exc.character:02x} is not allowed in YAML",
                                "remove the control character", line=line) from None
        except yaml.YAMLError as exc:
            raise PlaneError.at(label, "", f"YAML error: {type(exc).__name__}", "fix the YAML syntax") from None
        doc = YamlDocument(label, None, node)
        if node is None:
            return doc
        converter = _Converter(loader, doc)
        doc.data = converter.convert(node, (), 0)
        return doc
    finally:
        loader.dispose()


class _Converter:
    def __init__(self, loader: _Loader, doc: YamlDocument):
        self.loader = loader
        self.doc = doc
        self.count = 0
        self.open_nodes: set[int] = set()

    def _fail(self, node: Node, path: KeyPath, message: str, hint: str) -> PlaneError:
        return PlaneError.at(self.doc.file, format_path(path), message, hint, line=node.start_mark.line + 1)

    def convert(self, node: Node, path: KeyPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(
                node, path, f"document expands to more than {MAX_NODES} values (alias expansion bomb?)",
                "remove the nested anchors/aliases; write the values out",
            )
        if depth > MAX_DEPTH:
            raise self._fail(node, path, "YAML nesting is too deep", f"keep nesting under {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode):
            if node.tag == STR_TAG:
                return node.value  # what the constructor makes of a string, without its bookkeeping
            try:
                return self.loader.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                raise self._fail(node, path, f"invalid scalar: {getattr(exc, 'problem', None) or 'cannot parse'}",
                                 "quote the value") from None
            except ValueError:
                raise self._fail(node, path, "invalid scalar value", "quote the value") from None
        if id(node) in self.open_nodes:
            raise self._fail(node, path, "an alias refers to a node that contains it (recursive YAML)",
                             "remove the recursive anchor/alias")
        if isinstance(node, (SequenceNode, MappingNode)):
            self.open_nodes.add(id(node))
            try:
                if isinstance(node, SequenceNode):
                    return self._sequence(node, path, depth)
                return self._mapping(node, path, depth)
            finally:
                self.open_nodes.discard(id(node))
        raise self._fail(node, path, "unsupported YAML node", "use plain mappings, lists and scalars")

    def _sequence(self, node: SequenceNode, path: KeyPath, depth: int) -> list[Any]:
        items = []
        for i, child in enumerate(node.value):
            # A list of plain strings (a Worker's secrets) is most of a manifest: taken as is.
            if type(child) is ScalarNode and child.tag == STR_TAG and self.count < MAX_NODES and depth < MAX_DEPTH:
                self.count += 1
                items.append(child.value)
            else:
                items.append(self.convert(child, path + (i,), depth + 1))
        return items

    def _mapping(self, node: MappingNode, path: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._fail(key_node, path, "YAML merge keys (<<) are not supported",
                                 "write the keys out explicitly")
            if not isinstance(key_node, ScalarNode):
                raise self._fail(key_node, path, "mapping keys must be plain strings", "use a string key")
            key = self.convert(key_node, path + ("<key>",), depth + 1)
            if not isinstance(key, str):
                # Keys such as `yes`, `1` or `null` would silently become booleans, ints or None.
                key = str(key_node.value)
            if key in result:
                first = next(k for k, _ in node.value if k.value == key)  # a key is its node's text
                raise self._fail(
                    key_node, path + (key,),
                    f"duplicate key '{key}' (first defined at line {first.start_mark.line + 1})",
                    "remove one of the two entries; YAML would otherwise keep only the last",
                )
            result[key] = self.convert(value_node, path + (key,), depth + 1)
        return result
