"""Stage 1 — read a spec file into located nodes: every value knows where it is written.

The reader returns a tree of :class:`Located` nodes, each carrying its own span (file,
line, column), the way Lark's tokens carry their line and column: later stages report a
mistake at the node they hold, without a side table to call back into. Everything that is
not plain data is refused here, before anything else sees it: YAML tags (which in other
loaders construct Python objects), sets, dates, binary blobs, non-string keys, and
documents that are too large, too deep or that expand through aliases into too many nodes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SourceError, SourceText, Span
from .files import read_bounded

#: Refuse files larger than this: specs are small, and a huge file is a mistake or an attack.
MAX_FILE_BYTES = 1 << 20
#: Refuse documents nested deeper than this (lists of lists of ...).
MAX_DEPTH = 48
#: Refuse documents with more nodes than this after alias expansion ("billion laughs").
MAX_NODES = 50_000

#: A step into a located node: a mapping key or a list index.
Step = str | int


class Located:
    """A value of a spec and where it is written: file, line and column.

    A scalar's ``value`` is plain (a number, string, boolean or None); a mapping's is a
    ``dict`` of located values and a list's a ``list`` of located items. :attr:`span` is
    where the value starts; :attr:`key` where the key that introduces it starts (values of
    mappings only); ``name`` is that key, or the item's index in its list. A node that
    netspec made itself (a layer that a block adds) *borrows* the span of the node that
    made it (:meth:`borrow`, as Lark's ``Token.new_borrow_pos``), so it can always be
    pointed at. Positions are kept as numbers and made into spans when asked for: a spec
    has thousands of nodes and only the ones that are reported need a span.
    """

    __slots__ = ("borrowed", "col", "flow", "key_at", "line", "name", "source", "value", "width")

    def __init__(
        self,
        value: Any,
        source: SourceText,
        line: int,
        col: int,
        key_at: tuple[int, int] | None = None,
        name: Step | None = None,
        width: int = 1,
        borrowed: bool = False,
    ) -> None:
        self.value = value
        self.source = source
        self.line = line
        self.col = col
        #: Line and column of the key that introduces this value, if any.
        self.key_at = key_at
        self.name = name
        #: Caret width of :attr:`span` (wider than 1 only for a borrowed span).
        self.width = width
        #: Whether this node was made by netspec rather than written (its span is borrowed).
        self.borrowed = borrowed
        #: Whether this mapping or list is written in flow style (``{a: 1}``, ``[1, 2]``),
        #: where YAML splits plain values at commas.
        self.flow = False

    def __repr__(self) -> str:
        return f"Located({self.plain()!r} at {self.span})"

    @property
    def span(self) -> Span:
        """Where the value starts."""
        return Span(self.source, self.line, self.col, self.width)

    @property
    def key(self) -> Span | None:
        """Where the key that introduces the value starts (None for list items)."""
        return Span(self.source, *self.key_at) if self.key_at is not None else None

    @classmethod
    def borrow(cls, data: Any, span: Span) -> Located:
        """Plain ``data`` as located nodes that all point at ``span``."""
        source, line, col, width = span.source, span.line, span.col, span.length
        key_at = (line, col)

        def located(value: Any) -> Located:
            if isinstance(value, dict):
                value = {k: located(v) for k, v in value.items()}
            elif isinstance(value, (list, tuple)):
                value = [located(item) for item in value]
            return cls(value, source, line, col, key_at, None, width, True)

        return located(data)

    def with_value(self, value: Any) -> Located:
        """Another value at this node's place (an empty mapping for ``- relu``, say)."""
        place = (self.source, self.line, self.col, self.key_at, self.name, self.width)
        other = Located(value, *place, self.borrowed)
        other.flow = self.flow
        return other

    def plain(self) -> Any:
        """The value as plain Python data, positions dropped."""
        if isinstance(self.value, dict):
            return {key: node.plain() for key, node in self.value.items()}
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value

    def get(self, step: Step) -> Located | None:
        """The child at ``step`` (a key of a mapping, an index of a list), or None."""
        value = self.value
        if isinstance(value, dict) and isinstance(step, str):
            return value.get(step)
        if isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            return value[step]
        return None

    def at(self, path: Sequence[Step]) -> Located:
        """The node at ``path`` below this one, or the nearest of its ancestors that exists.

        Falling back to the ancestor keeps every diagnostic located even when it is about
        something the user did not write (a missing field, a default, a union's member).
        """
        node = self
        for step in path:
            child = node.get(step)
            if child is None:
                return node
            node = child
        return node

    def key_span(self, path: Sequence[Step] = ()) -> Span:
        """The key that introduces the node at ``path``, as wide as the last step's text.

        A node without a key (a list item, the document) is pointed at by its value.
        """
        node = self.at(path)
        last = path[-1] if path else self.name
        line, col = node.key_at or (node.line, node.col)
        width = max(1, len(str(last))) if last is not None else 1
        return Span(node.source, line, col, width)

    def spanning(self, length: int) -> Span:
        """This node's span with a caret ``length`` characters wide."""
        return Span(self.source, self.line, self.col, max(1, length))


@dataclass
class Document:
    """One spec file: its located tree, its text (for quoting lines) and its path."""

    root: Located
    source: SourceText
    path: Path | None = None

    @property
    def data(self) -> Any:
        """The whole document as plain data."""
        return self.root.plain()


def read_path(path: str | Path) -> Document:
    """Load a spec file from disk; JSON when the name ends in ``.json``, YAML otherwise.

    Only a regular file is read, and at most :data:`MAX_FILE_BYTES` of it (a FIFO, a
    device or a directory is refused before reading: see :mod:`netspec.files`).
    """
    p = Path(path)
    shown = str(path)

    def too_large(size: int) -> SourceError:
        return SourceError(
            f"spec file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})",
            Span(SourceText(shown, ""), 1, 1),
            code="NS102",
        )

    raw = read_bounded(p, "spec file", SourceError, MAX_FILE_BYTES, too_large, code="NS101")
    doc = read_bytes(raw, name=shown, json_format=p.suffix.lower() == ".json")
    doc.path = p
    return doc


def read_bytes(raw: bytes, *, name: str = "<spec>", json_format: bool = False) -> Document:
    """Decode bytes as UTF-8 text and parse them; binary data is refused where it starts."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise SourceError(
            f"spec file is binary, not text (NUL byte at offset {nul})",
            _byte_span(raw, nul, name),
            code="NS103",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"spec file is not UTF-8 text (invalid byte at offset {exc.start})",
            _byte_span(raw.removeprefix(_BOM), exc.start, name),
            code="NS103",
        ) from None
    return read_text(text, name=name, json_format=json_format)


_BOM = b"\xef\xbb\xbf"


def _byte_span(raw: bytes, offset: int, name: str) -> Span:
    """The line and column of byte ``offset`` of a file that is not text; the line is
    quoted as far as it decodes (a bad byte shows as U+FFFD, a NUL as ``\\x00``)."""
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", "replace")) + 1
    return Span(SourceText(name, raw.decode("utf-8", "replace")), before.count(b"\n") + 1, column)


def read_text(text: str, *, name: str = "<spec>", json_format: bool = False) -> Document:
    """Parse YAML (or JSON) text into a :class:`Document`."""
    source = SourceText(name, text)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise SourceError(
            f"spec is too large (the limit is {MAX_FILE_BYTES} bytes)",
            Span(source, 1, 1),
            code="NS102",
        )
    if not text.strip() or _only_comments(text):
        raise SourceError(
            "spec file is empty",
            Span(source, 1, 1),
            hint="a spec needs at least 'name', 'input' and 'layers'",
            code="NS104",
        )
    _check_flow_depth(text, source)
    if json_format:
        _check_json_syntax(text, source)
    tree = _parse_yaml(text, source, "JSON" if json_format else "YAML")
    # The document itself is located at its first character, whatever comments precede it.
    root = _locate(tree, Located(None, source, 1, 1), depth=0, budget=[MAX_NODES])
    if not isinstance(root.value, dict):
        kind = _describe(root.plain())
        raise SourceError(
            f"a spec must be a mapping with 'name', 'input' and 'layers', not {kind}",
            root.span,
            code="NS110",
        )
    return Document(root, source)


def _check_flow_depth(text: str, source: SourceText) -> None:
    """Refuse deeply nested brackets before the recursive YAML parser sees them.

    The parser would hit Python's recursion limit eventually, but only after seconds of
    work; counting brackets (outside quotes and comments) is linear and immediate.
    """
    depth = 0
    quote = ""
    line, col = 1, 0
    previous = "\n"
    for char in text:
        col += 1
        if char == "\n":
            line, col = line + 1, 0
            if quote == "#":
                quote = ""
        elif quote:
            if char == quote and quote != "#":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#" and previous in " \t\n":
            quote = "#"
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise SourceError(
                    f"spec is nested too deeply (the limit is {MAX_DEPTH} levels)",
                    Span(source, line, col),
                    code="NS102",
                )
        elif char in "]}":
            depth = max(0, depth - 1)
        previous = char


def _only_comments(text: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())


def _check_json_syntax(text: str, source: SourceText) -> None:
    """Report JSON syntax errors as JSON errors (YAML would accept some invalid JSON)."""
    try:
        json.loads(text, object_pairs_hook=_refuse_duplicate_json_keys)
    except json.JSONDecodeError as exc:
        span = Span(source, exc.lineno, exc.colno)
        raise SourceError(f"invalid JSON: {exc.msg}", span, code="NS106") from None
    except _DuplicateKey as exc:
        span = _duplicate_key_span(text, source)
        raise SourceError(f"duplicate key '{exc.args[0]}'", span, code="NS107") from None
    except RecursionError:
        raise SourceError(
            f"spec is nested too deeply (the limit is {MAX_DEPTH} levels)",
            _too_deep_at(text, source),
            code="NS102",
        ) from None


def _duplicate_key_span(text: str, source: SourceText) -> Span:
    """Where the second of two equal keys is written (JSON's parser does not say)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        if mark is not None:
            return Span(source, mark.line + 1, mark.column + 1)
    except Exception:  # any other parser failure: fall back to the document's start
        pass
    return Span(source, 1, 1)


class _DuplicateKey(Exception):
    pass


def _refuse_duplicate_json_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise _DuplicateKey(k)
        seen[k] = v
    return seen


def _parse_yaml(text: str, source: SourceText, fmt: str) -> Any:
    # ruamel's round-trip loader keeps line/column of every node and never constructs
    # arbitrary Python objects: unknown tags come back as tagged data, which we refuse below.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed document"
        code = "NS106" if fmt == "JSON" else "NS105"
        if "duplicate key" in str(problem) or "duplicate key" in str(exc):
            problem = _duplicate_key_problem(exc)
            code = "NS107"
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        hint = _FLOW_HINT if _bracket_in_flow(exc) else None
        notes: list[tuple[str, Span | None]] = []
        context = exc.context_mark
        if exc.context and context is not None and context is not mark:
            context_span = Span(source, context.line + 1, context.column + 1)
            if not source.line(line).strip():
                # The problem was found at the end of the file, where there is nothing to
                # quote: point at what was left open instead.
                raise SourceError(
                    f"invalid {fmt}: {problem} ({exc.context} that starts here)",
                    context_span,
                    code=code,
                ) from None
            notes.append((exc.context, context_span))
        raise SourceError(
            f"invalid {fmt}: {problem}", Span(source, line, col), hint, notes=notes, code=code
        ) from None
    except RecursionError:
        raise SourceError(
            f"spec is nested too deeply (the limit is {MAX_DEPTH} levels)",
            _too_deep_at(text, source),
            code="NS102",
        ) from None
    except ReaderError as exc:  # a character YAML does not allow, at a text offset
        line = source.text.count("\n", 0, exc.position) + 1
        col = exc.position - (source.text.rfind("\n", 0, exc.position) + 1) + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else exc.character
        raise SourceError(
            f"invalid {fmt}: unacceptable character {char}: {exc.reason}",
            Span(source, line, col),
            code="NS106" if fmt == "JSON" else "NS105",
        ) from None
    except YAMLError as exc:
        code = "NS106" if fmt == "JSON" else "NS105"
        message = f"invalid {fmt}: {exc}".splitlines()[0]
        raise SourceError(message, Span(source, 1, 1), code=code) from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        # ruamel.yaml itself fails on some odd scalars (``+_`` reads as a malformed integer
        # and raises IndexError): still a bad document, not a bug of netspec.
        code = "NS106" if fmt == "JSON" else "NS105"
        raise SourceError(
            f"invalid {fmt}: the YAML reader cannot read this document "
            f"({type(exc).__name__}: {exc})".splitlines()[0],
            Span(source, 1, 1),
            "quote values that are text, e.g. '+_'",
            code=code,
        ) from None


def _block_starts(content: str, col: int) -> Iterator[int]:
    """Columns where a line opens block nodes: its content, and after each leading ``- ``."""
    yield col
    while content.startswith("-") and content[1:2] == " ":
        rest = content[1:].lstrip(" ")
        if not rest:
            return
        col += len(content) - len(rest)
        content = rest
        yield col


#: What to do when a bracket inside a flow mapping or list breaks the YAML.
_FLOW_HINT = (
    "inside {...} and [...] YAML reads ',', '[', ']', '{' and '}' itself: quote expressions "
    'and templates that contain them, e.g. {out: "c2[0]"}'
)


def _bracket_in_flow(exc: Any) -> bool:
    """Whether a YAML error is a bracket of an unquoted expression inside ``{...}``/``[...]``
    (``{out: c2[0]}``), not a collection left open."""
    context = str(exc.context or "")
    problem = str(exc.problem or "")
    return "while parsing a flow" in context and any(
        f"but got '{bracket}'" in problem for bracket in "[]{}"
    )


def _duplicate_key_problem(exc: Exception) -> str:
    text = str(exc)
    start = text.find('found duplicate key "')
    if start >= 0:
        rest = text[start + len('found duplicate key "') :]
        return f"duplicate key '{rest.split(chr(34), 1)[0]}'"
    return "duplicate key"


def _too_deep_at(text: str, source: SourceText) -> Span:
    """Where a document too deep for the parser first nests deeper than :data:`MAX_DEPTH`.

    The parser's RecursionError says nothing about where; this estimates the nesting from
    what makes YAML nest — a line indented deeper than the one before, each ``- `` of a
    compact sequence, each open bracket — so the error can point at the line. It runs
    only after the parser gave up; a spec that parses is measured exactly by :func:`_locate`.
    """
    indents: list[int] = []
    brackets = 0
    for number, line in enumerate(text.split("\n"), start=1):
        content = line.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        col = len(line) - len(content)
        if brackets == 0:
            while indents and indents[-1] >= col:
                indents.pop()
            for start in _block_starts(content, col):
                indents.append(start)
                if len(indents) > MAX_DEPTH:
                    return Span(source, number, start + 1)
        for offset, char in enumerate(line):
            brackets += (char in "[{") - (char in "]}")
            if len(indents) + brackets > MAX_DEPTH:
                return Span(source, number, offset + 1)
    return Span(source, 1, 1)


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _locate(node: Any, where: Located, *, depth: int, budget: list[int]) -> Located:
    """Convert a ruamel node to located nodes, refusing the exotic.

    ``where`` is the located shell of ``node`` (its span, key and name, no value yet);
    it is filled in and returned.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    _refuse_exotic(node, where, depth, budget)
    if type(node) is CommentedMap:
        where.value = _locate_mapping(node, where, depth=depth, budget=budget)
        where.flow = bool(node.fa.flow_style())
    elif type(node) is CommentedSeq:
        where.value = _locate_items(node, where, depth=depth, budget=budget)
        where.flow = bool(node.fa.flow_style())
    elif node is None or isinstance(node, bool):
        where.value = node
    elif isinstance(node, int):
        where.value = int(node)  # ruamel's scalar types, as plain Python values
    elif isinstance(node, float):
        where.value = float(node)
    elif isinstance(node, str):
        where.value = str(node)
    else:
        raise SourceError(
            f"unsupported YAML value of type '{type(node).__name__}': use numbers, strings, "
            "lists and mappings",
            where.span,
            code="NS109",
        )
    return where


def _refuse_exotic(node: Any, where: Located, depth: int, budget: list[int]) -> None:
    """Refuse alias bombs, excessive nesting and tags (which other loaders run as code)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise SourceError(
            f"spec has too many nodes (more than {MAX_NODES}, counting alias expansions)",
            where.span,
            code="NS102",
        )
    if depth > MAX_DEPTH:
        raise SourceError(
            f"spec is nested too deeply (the limit is {MAX_DEPTH} levels)",
            where.span,
            code="NS102",
        )
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag is not None:
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise SourceError(
            f"YAML tag '{shown}' is not allowed: specs are plain data",
            where.span,
            hint="remove the tag; netspec never constructs objects from tags",
            code="NS108",
        )


def _locate_mapping(
    node: Any, where: Located, *, depth: int, budget: list[int]
) -> dict[str, Located]:
    source = where.source
    if getattr(node, "merge", None):
        raise SourceError(
            "YAML merge keys ('<<') are not supported: write the keys out",
            _merge_key_at(node, where),
            hint="an anchor can still repeat a whole value, as in 'conv: *c'",
            code="NS111",
        )
    children: dict[str, Located] = {}
    for key in node:
        if not isinstance(key, str):
            raise SourceError(
                f"mapping keys must be strings, not {_describe(_plainish(key))}",
                where.span,
                code="NS109",
            )
        (kl, kc), (vl, vc) = node.lc.key(key), node.lc.value(key)
        child = Located(None, source, vl + 1, vc + 1, (kl + 1, kc + 1), key)
        children[str(key)] = _locate(node[key], child, depth=depth + 1, budget=budget)
    return children


def _locate_items(node: Any, where: Located, *, depth: int, budget: list[int]) -> list[Located]:
    source = where.source
    items: list[Located] = []
    for i, item in enumerate(node):
        il, ic = node.lc.item(i)
        child = Located(None, source, il + 1, ic + 1, name=i)
        items.append(_locate(item, child, depth=depth + 1, budget=budget))
    return items


def _merge_key_at(node: Any, where: Located) -> Span:
    """Where the ``<<`` key of a merging mapping is written (the parser keeps no position)."""
    lines = where.source.text.split("\n")
    first = node.lc.line if node.lc.line is not None else where.line - 1
    for number in range(first, len(lines)):
        found = _MERGE_KEY.search(lines[number])
        if found:
            return Span(where.source, number + 1, found.start(1) + 1, 2)
    return where.span


_MERGE_KEY = re.compile(r"(?:^|[\s{,])(<<)\s*:")


def _plainish(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def from_mapping(data: dict[str, Any], name: str = "<dict>") -> Document:
    """Read a Python dict (the API's third way in) as a Document.

    The dict is dumped as YAML and read back, so its nodes are located in that text and
    diagnostics quote a line the user can recognise.
    """
    import io

    from ruamel.yaml import YAML

    if not isinstance(data, dict):
        raise SourceError(
            f"a spec must be a mapping with 'name', 'input' and 'layers', not {_describe(data)}",
            code="NS110",
        )
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    buffer = io.StringIO()
    try:
        yaml.dump(json.loads(json.dumps(data)), buffer)
    except (TypeError, ValueError) as exc:
        raise SourceError(
            f"spec dict holds a value that is not plain data: {exc}", code="NS109"
        ) from None
    return read_text(buffer.getvalue(), name=name)
