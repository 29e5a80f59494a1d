"""Layer lists as dataflow: templates, spliced repeats, names, ``from``, ``if`` and ``output``.

A layer list (a spec's ``layers``, a group's, a block's body, a repeat's copies) is a small
program: each present layer makes one value, reads the previous one by default or the
values its ``from`` names (``input`` is the list's input), and the list's output is its
last present layer or the one ``output:`` names. This module holds what that needs and no
shape rule: expanding the copies of spliced repeats (each with its index in scope),
template names (``"denselayer{i + 1}"``), the name rule, resolving ``from`` and finding what
is wrong with the wiring — an unknown name, a later layer (and the cycle it would make), a
value nobody reads — in words that point at the spec. :mod:`netspec.compiler` drives it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import Diagnostic, ExpressionError, SchemaError, Span, did_you_mean
from .expressions import ExpressionProblem, Scope
from .schema import LIST_INPUT, describe, is_identifier, name_problem
from .source import Located
from .validation import expression_span

#: A hint shared by the messages about reading what a layer cannot read.
READS_ONLY_ABOVE = "a layer reads only 'input' and the layers above it in its list"


# ------------------------------------------------------------------------------ templates


def expand_template(node: Located, scope: Scope, owner: str, key: str) -> str:
    """The text of a ``name`` or ``from`` value with each ``{expression}`` replaced.

    ``{{`` and ``}}`` are literal braces. An expression must give an integer or a word;
    its mistakes are reported inside the text, like any expression's.
    """
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise SchemaError(
            f"{owner}: '{key}' must be a name, got {describe(node.plain())}",
            node.span,
            code="NS203",
        )
    if "{" not in value and "}" not in value:
        return value
    quoted = node.span.source.line(node.line)[node.col - 1 : node.col] in ("'", '"')
    parts: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if value.startswith(("{{", "}}"), i):
            parts.append(char)
            i += 2
        elif char == "}":
            raise _template_error(owner, key, value, node, quoted, i, "an unmatched '}'")
        elif char == "{":
            end = value.find("}", i)
            if end < 0:
                raise _template_error(owner, key, value, node, quoted, i, "an unclosed '{'")
            parts.append(_part(value[i + 1 : end], i + 1, node, scope, owner, key))
            i = end + 1
        else:
            parts.append(char)
            i += 1
    return "".join(parts)


def _template_error(
    owner: str, key: str, text: str, node: Located, quoted: bool, at: int, what: str
) -> SchemaError:
    span = Span(node.source, node.line, node.col + at + int(quoted), 1)
    return SchemaError(
        f"{owner}: the template '{text}' in '{key}' has {what}",
        span,
        'write {expression} for a value, e.g. "block{i + 1}"; {{ and }} for literal braces',
        code="NS224",
    )


def _part(text: str, offset: int, node: Located, scope: Scope, owner: str, key: str) -> str:
    """One ``{expression}`` of a template, evaluated."""
    try:
        value = scope.evaluate(text)
    except ExpressionProblem as problem:
        span = expression_span(node.span, offset + problem.offset, problem.length)
        raise ExpressionError(
            f"{owner}: '{key}': {problem.message}", span, problem.hint, code=problem.code
        ) from None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        span = expression_span(node.span, offset, max(1, len(text)))
        raise SchemaError(
            f"{owner}: '{key}': the template part '{{{text}}}' is {describe(value)}; "
            "a name is made of integers and words",
            span,
            code="NS224",
        )
    return str(value)


def check_name(name: str, node: Located, owner: str) -> None:
    """Refuse a module name that PyTorch or netspec cannot use (see ``name_problem``)."""
    problem = name_problem(name)
    if problem is not None:
        message, hint = problem
        raise SchemaError(
            f"{owner}: {message}", node.spanning(len(str(node.value))), hint, code="NS221"
        )


# ------------------------------------------------------------------------------ expansion


class Copy(NamedTuple):
    """Which copy of a repeat a layer was made for (for messages about duplicates)."""

    #: Where the repeat is written.
    repeat: Span
    index: str
    number: int


class Loop(NamedTuple):
    """A repeat whose index is in scope."""

    index: str
    span: Span


class Item(NamedTuple):
    """One layer of a list once spliced repeats are expanded, with the names it sees."""

    layer: Located
    scope: Scope
    loops: tuple[Loop, ...] = ()
    copy: Copy | None = None


def check_index(index: str, span: Span, scope: Scope, loops: Sequence[Loop]) -> None:
    """A repeat's index must be a fresh name: not an outer loop's index, not a param.

    ``span`` is where the index is written (or the repeat, for the default ``i``)."""
    if not is_identifier(index):
        raise SchemaError(
            f"repeat: 'index' must be a name such as 'i' (letters, digits, _), got '{index}'",
            span,
            code="NS223",
        )
    outer = next((loop for loop in loops if loop.index == index), None)
    if outer is not None:
        raise SchemaError(
            f"repeat: the index '{index}' is already the index of the repeat at line "
            f"{outer.span.line}; name this one differently, e.g. 'index: "
            f"{_fresh(index, scope, loops)}'",
            span,
            code="NS223",
        )
    if index in scope.as_dict():
        raise SchemaError(
            f"repeat: the index '{index}' would hide the param '{index}'",
            span,
            f"name the index differently, e.g. 'index: {_fresh(index, scope, loops)}'",
            code="NS223",
        )


def _fresh(index: str, scope: Scope, loops: Sequence[Loop]) -> str:
    taken = set(scope.as_dict()) | {loop.index for loop in loops}
    for name in ("i", "j", "k", "n", "m"):
        if name not in taken:
            return name
    return next(f"{index}{n}" for n in range(2, 100) if f"{index}{n}" not in taken)


def copies(layers: Sequence[Located], item: Item, times: int, index: str, span: Span) -> list[Item]:
    """The layers of ``times`` copies, copy ``n`` seeing ``index = n``."""
    loops = (*item.loops, Loop(index, span))
    return [
        Item(layer, item.scope.extended({index: number}), loops, Copy(span, index, number))
        for number in range(times)
        for layer in layers
    ]


# ------------------------------------------------------------------------------ wiring


@dataclass(slots=True)
class Entry:
    """One layer of a list after the schema stage: enough to wire it and to report on it."""

    item: Item
    kind: str
    #: Where the layer is reported: its kind as written.
    span: Span
    present: bool
    #: The layer's explicit name (template expanded), and where it is written.
    name: str | None = None
    name_node: Located | None = None
    #: ``from``, expanded: (label, where it is written); None: the previous layer.
    reads: list[tuple[str, Located]] | None = None
    reads_node: Located | None = None
    #: Runs as a function (no module, no position).
    functional: bool = False
    #: What the list calls it: its name, its position (an unnamed module layer) or None.
    label: str | None = None
    #: The compiler's own data about the layer (its block and validated arguments).
    data: Any = None

    def shown(self) -> str:
        """How messages call this layer."""
        label = self.label if self.label is not None else self.name
        return f"'{label}'" if label is not None else f"this {self.kind}"


@dataclass(frozen=True)
class SwitchedOff:
    """What an absent layer with several inputs stands for: no value at all."""

    entry: Entry


@dataclass
class Values:
    """The values of one list as the compiler makes them: who reads what."""

    #: Value index of each label; an absent layer's label stands for what it reads.
    labels: dict[str, int | SwitchedOff] = field(default_factory=lambda: {LIST_INPUT: 0})
    #: How often each value is read (value 0 is the list's input).
    readers: list[int] = field(default_factory=lambda: [0])
    #: The present layer that made each value (None for the input).
    makers: list[Entry | None] = field(default_factory=lambda: [None])


def number_layers(entries: list[Entry], prefix: str) -> list[Diagnostic]:
    """Give unnamed present module layers their positions; report duplicate names.

    Positions count present module layers only (``nn.Sequential(*modules)`` numbering).
    Two present layers may not share a label; absent ones lend theirs to a present one.
    """
    problems: list[Diagnostic] = []
    seen: dict[str, Entry] = {}
    position = 0
    for entry in entries:
        if not entry.present:
            continue
        if entry.name is None and not entry.functional:
            entry.label = f"{prefix}{position}"
        else:
            entry.label = entry.name
        if not entry.functional:
            position += 1
        if entry.label is None:
            continue
        first = seen.get(entry.label)
        if first is not None:
            problems.append(_duplicate(entry, first))
        else:
            seen[entry.label] = entry
    return problems


def _duplicate(entry: Entry, first: Entry) -> Diagnostic:
    copy, other = entry.item.copy, first.item.copy
    same_layer = entry.item.layer is first.item.layer
    if same_layer and copy is not None and other is not None and entry.name_node is not None:
        where = entry.name_node
        return Diagnostic(
            f"{entry.kind}: duplicate module name '{entry.label}': copies {other.number} and "
            f"{copy.number} of the repeat at line {copy.repeat.line} both make it",
            where.spanning(len(str(where.value))),
            f'put the copy index in the name, e.g. name: "{entry.label}{{{copy.index}}}"',
            code="NS207",
        )
    return Diagnostic(
        f"duplicate module name '{entry.label}' in the same sequence",
        entry.span,
        notes=[("first used here", first.span)],
        code="NS207",
    )


class Wiring:
    """Resolves the ``from`` of each layer of one list, in order, and checks the result."""

    def __init__(self, entries: list[Entry], owner: str, outer: Wiring | None = None) -> None:
        self.entries = entries
        self.values = Values()
        #: The value the next layer reads by default.
        self.previous: int | SwitchedOff = 0
        #: The value of the last present layer (0, the input, before any).
        self.last_made = 0
        self.owner = owner
        #: The list around the one being compiled (for hints about names out of reach).
        self.outer = outer
        #: The nodes made so far (for hints about names inside them).
        self.nodes: list[Any] = []

    def reads(self, index: int) -> list[int]:
        """The values the layer ``entries[index]`` reads (checked: earlier, switched on)."""
        entry = self.entries[index]
        if entry.reads is None:
            previous = self.previous
            if isinstance(previous, int):
                return [previous]
            return [self._value(previous, entry, entry.span)]
        return [self._resolve(label, node, index) for label, node in entry.reads]

    def skip(self, index: int, reads: list[int]) -> None:
        """An absent layer: whoever reads it reads what it reads."""
        entry = self.entries[index]
        stand_in: int | SwitchedOff = reads[0] if len(reads) == 1 else SwitchedOff(entry)
        if entry.name is not None:
            current = self.values.labels.get(entry.name)
            if current is None or isinstance(current, SwitchedOff) or not self._made(current):
                self.values.labels[entry.name] = stand_in
        self.previous = stand_in

    def _made(self, value: int) -> bool:
        return self.values.makers[value] is not None

    def made(self, index: int, reads: list[int], node: Any) -> int:
        """A present layer made a new value (compiled as ``node``); returns its index."""
        self.nodes.append(node)
        entry = self.entries[index]
        for value in reads:
            self.values.readers[value] += 1
        value = len(self.values.readers)
        self.values.readers.append(0)
        self.values.makers.append(entry)
        if entry.label is not None:
            self.values.labels[entry.label] = value
        self.previous = value
        self.last_made = value
        return value

    def output(self, node: Located | None, scope: Scope, kind: str) -> int:
        """The list's output: the value ``output:`` names, else the last present layer's."""
        if node is None:
            # The output skips absent layers: after a switched-off merge (MBConv's residual
            # ``add`` with ``if: residual``) it is the last present layer's value.
            previous = self.previous
            if isinstance(previous, SwitchedOff) and self.last_made:
                previous = self.last_made
            value = self._value(previous, None, None)
        else:
            label = expand_template(node, scope, kind, "output")
            found = self.values.labels.get(label)
            if found is None:
                known = [name for name in self.values.labels if name != LIST_INPUT]
                raise SchemaError(
                    f"{kind}: 'output' names '{label}', which is not a layer of this list",
                    node.spanning(len(str(node.value))),
                    did_you_mean(label, known) or _known(known),
                    code="NS226",
                )
            value = self._value(found, None, node.span)
        self.values.readers[value] += 1
        return value

    def check_unused(self, output_node: Located | None) -> None:
        """Every value a present layer makes must be read by a later layer or be the output."""
        for value, entry in enumerate(self.values.makers):
            if entry is None or self.values.readers[value]:
                continue
            notes = self._unused_notes(entry, output_node)
            raise SchemaError(
                f"{entry.kind}: the output of {entry.shown()} is never used",
                entry.span,
                f"read {entry.shown()} in a later layer's 'from', or remove it"
                if entry.label is not None
                else "read it in a later layer's 'from', or remove it",
                notes=notes,
                code="NS218",
            )

    def _unused_notes(
        self, entry: Entry, output_node: Located | None
    ) -> list[tuple[str, Span | None]]:
        later = self.entries[self.entries.index(entry) + 1 :]
        following = next((e for e in later if e.present), None)
        if following is not None and following.reads_node is not None:
            names = ", ".join(f"'{label}'" for label, _ in following.reads or [])
            node = following.reads_node
            return [(f"the next layer reads {names} instead", node.spanning(_width(node)))]
        if output_node is not None:
            span = output_node.spanning(len(str(output_node.value)))
            return [(f"the list's output is '{output_node.value}'", span)]
        return []

    # -------------------------------------------------------------------- resolving

    def _value(self, found: int | SwitchedOff, entry: Entry | None, where: Span | None) -> int:
        """The value a reader gets; an absent merge has none to give."""
        if isinstance(found, SwitchedOff):
            off = found.entry
            reader = entry.kind if entry is not None else self.owner
            raise SchemaError(
                f"{reader}: {off.shown()} is switched off by its 'if' (line {off.span.line}) "
                f"and has {len(off.reads or [])} inputs, so it cannot stand for one value",
                where or off.span,
                "read one of its inputs instead, or switch it on",
                code="NS220",
            )
        return found

    def _resolve(self, label: str, node: Located, index: int) -> int:
        entry = self.entries[index]
        found = self.values.labels.get(label)
        if found is not None:
            return self._value(found, entry, node.spanning(_width(node)))
        raise self._unreadable(label, node, index)

    def _unreadable(self, label: str, node: Located, index: int) -> SchemaError:
        entry = self.entries[index]
        span = node.spanning(len(label)) if not isinstance(node.value, list) else node.span
        if label == entry.name or label == entry.label:
            return SchemaError(
                f"{entry.kind}: {entry.shown()} reads itself", span, READS_ONLY_ABOVE, code="NS217"
            )
        later = self._later(label, index)
        if later is not None:
            message = (
                f"{entry.kind}: {entry.shown()} reads '{label}', which comes after it "
                f"(line {self.entries[later].span.line})"
            )
            cycle = self._path(later, index)
            if cycle is not None:
                names = " -> ".join(self._label(i) for i in [index, *cycle])
                message += f"; '{label}' reads {entry.shown()}, so this would be a cycle: {names}"
            return SchemaError(message, span, READS_ONLY_ABOVE, code="NS217")
        known = [name for name in self.values.labels]
        return SchemaError(
            f"{entry.kind}: unknown input '{label}' in 'from'",
            span,
            did_you_mean(label, known) or self._out_of_reach(label) or _known(known),
            code="NS216",
        )

    def _out_of_reach(self, label: str) -> str | None:
        """Where an unknown name is after all: inside an earlier layer, or around this list."""
        for node in self.nodes:
            inner = next((n for _, n in node.walk() if n.name == label), None)
            if inner is not None:
                return (
                    f"'{label}' is inside '{node.name or node.kind}' (line {inner.span.line}); "
                    f"{READS_ONLY_ABOVE.replace('its list', 'its own list')}"
                )
        outer = self.outer
        while outer is not None:
            found = next((e for e in outer.entries if label in (e.name, e.label)), None)
            if found is not None:
                return (
                    f"'{label}' is in the enclosing list (line {found.span.line}); "
                    f"{READS_ONLY_ABOVE.replace('its list', 'its own list')}"
                )
            outer = outer.outer
        return None

    def _later(self, label: str, index: int) -> int | None:
        for later in range(index + 1, len(self.entries)):
            entry = self.entries[later]
            if label in (entry.name, entry.label):
                return later
        return None

    def _label(self, index: int) -> str:
        entry = self.entries[index]
        return entry.label or entry.name or entry.kind

    def _path(self, start: int, goal: int) -> list[int] | None:
        """Layers from ``start`` (reading what they read) back to ``goal``, if any."""
        stack: list[tuple[int, list[int]]] = [(start, [start])]
        visited: set[int] = set()
        while stack:
            at, path = stack.pop()
            if at == goal:
                return path
            if at in visited or at < 0:
                continue
            visited.add(at)
            for read in self._static_reads(at):
                stack.append((read, [*path, read]))
        return None

    def _static_reads(self, index: int) -> list[int]:
        """The layers ``entries[index]`` reads, by position in the list (no values yet)."""
        entry = self.entries[index]
        if entry.reads is None:
            return [index - 1]
        found = []
        for label, _ in entry.reads:
            target = next(
                (i for i, e in enumerate(self.entries) if label in (e.name, e.label)), None
            )
            if target is not None:
                found.append(target)
        return found


def _width(node: Located) -> int:
    value = node.value
    return len(str(value)) if not isinstance(value, (list, dict)) else 1


def _known(known: list[str]) -> str:
    return "this list has " + ", ".join(f"'{name}'" for name in known)


def reads_of(
    node: Located, scope: Scope, owner: str, expand: Callable[..., str] = expand_template
) -> list[tuple[str, Located]]:
    """The labels a ``from`` value names: one, or a list of them, templates expanded."""
    items = node.value if isinstance(node.value, list) else [node]
    if isinstance(node.value, list) and not items:
        raise SchemaError(
            f"{owner}: 'from' is an empty list", node.span, "name at least one input", code="NS219"
        )
    return [(expand(item, scope, owner, "from"), item) for item in items]
