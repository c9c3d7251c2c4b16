"""Reading a rubric file safely and remembering on which line each value sits.

Rubric files come from people, not programs, so the reader refuses what makes
YAML dangerous or ambiguous before any model sees the data: files over 1 MiB,
bytes that are not UTF-8, aliases (the "billion laughs" expansion bomb, and
anchors/merge keys that make a criterion's real content hard to review),
duplicate keys (YAML silently keeps the last), and nesting deep enough to blow
the parser's recursion.  The composer's node marks give the line of every key,
so a pydantic error location such as ``("criteria", 2, "weight")`` can be
reported as a line number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qm.rubric.errors import RubricError

MAX_BYTES = 1024 * 1024
Loc = tuple[str | int, ...]


class _AliasFound(Exception):
    def __init__(self, line: int, anchor: str) -> None:
        self.line = line
        self.anchor = anchor


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias instead of expanding it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasFound(event.start_mark.line + 1, str(event.anchor))
        return super().compose_node(parent, index)


@dataclass(slots=True)
class Source:
    """Parsed rubric data plus the line of every mapping key and sequence item."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    # sha256 of the file's bytes, and of the other files the rubric reads (``examples_file``) by resolved path
    digest: str = ""
    deps: dict[str, str] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest known prefix of ``loc`` (a missing field points at its parent)."""
        for k in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:k]))
            if line is not None:
                return line
        return None


def format_loc(loc: Loc) -> str:
    """``("criteria", 2, "weight")`` -> ``criteria[2].weight`` (the form the docs use)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise RubricError.one(path, key_node.start_mark.line + 1, format_loc(loc),
                                      "a mapping key must be a plain name",
                                      "write keys as simple words such as 'weight:'")
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise RubricError.one(path, line, format_loc((*loc, key)),
                                      f"duplicate key '{key}' (first defined on line {seen[key]})",
                                      "YAML would silently keep only the last one; remove or rename one")
            seen[key] = line
            lines[(*loc, key)] = line
            _index_lines(value_node, (*loc, key), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index_lines(item, (*loc, i), lines, path)


def read_source(path: Path) -> Source:
    """Read and parse one rubric file, or raise ``RubricError`` naming the file and line."""
    if not path.is_file():
        raise RubricError.one(path, None, "", "file not found",
                              "name a rubric in the rubrics directory or give a path to a .yaml file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RubricError.one(path, None, "", f"cannot read file ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise RubricError.one(path, None, "", f"file is {size:,} bytes, over the 1 MiB limit",
                              "a rubric is a short list of criteria; split it or remove pasted data")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise RubricError.one(path, line, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                              f"{exc.start})", "save the file as UTF-8 in your editor") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _AliasFound as exc:
        raise RubricError.one(path, exc.line, "", f"YAML alias '*{exc.anchor}' is not allowed",
                              "write the value out in full; aliases and merge keys (<<) are refused so a "
                              "rubric cannot hide content or expand into a memory bomb") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise RubricError.one(path, line, "", f"YAML syntax error: {reason}",
                              "check indentation (spaces, not tabs) and quote text containing ': ' or '#'"
                              ) from None
    except yaml.YAMLError as exc:
        raise RubricError.one(path, None, "", f"YAML error: {exc}") from None
    except RecursionError:
        raise RubricError.one(path, None, "", "nesting is too deep",
                              "a rubric needs only a few levels of indentation") from None
    finally:
        loader.dispose()
    if node is None or data is None:
        raise RubricError.one(path, 1, "", "the file is empty",
                              "a rubric needs at least 'name:' and 'criteria:'")
    if not isinstance(data, dict):
        raise RubricError.one(path, node.start_mark.line + 1, "",
                              f"the top level must be a mapping, not a {type(data).__name__}",
                              "start the file with 'name: ...' and 'criteria:'")
    lines: dict[Loc, int] = {}
    try:
        _index_lines(node, (), lines, path)
    except RecursionError:
        raise RubricError.one(path, None, "", "nesting is too deep") from None
    return Source(path=path, data=data, lines=lines, digest=hashlib.sha256(raw).hexdigest())
