"""Errors are data: every user mistake becomes a diagnostic that points into the spec file.

Each compiler stage raises its own subclass of :class:`NetspecError`, so callers can tell
*where* in the pipeline a spec failed, while the CLI renders all of them the same way —
``file:line:col: error: message``, the offending source line and a caret — like a compiler.
The message text, line and column are part of netspec's API and are tested.

How the CLI ends on an error is data too: each class states its exit status
(:attr:`NetspecError.exit_status`) and what introduces a message that has no place in a
spec to point at (:attr:`NetspecError.prefix`). ``netspec.cli.main`` is the one place that
renders an error and exits; no command catches errors to print them itself.

Every diagnostic has a stable code (``NS203``) that tools can filter on: the raise site
names it (``SchemaError(message, span, code="NS203")``); a diagnostic raised without one
takes its class's :attr:`NetspecError.default_code` (``NS200`` for a schema error), so a
new message always has a code of its stage. ``docs/errors.md`` lists the codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

#: What introduces an error without a location: the program (``netspec: error: …``), the
#: command as argparse does for misuse (``netspec build: error: …``), or nothing
#: (``error: …``, the one-line style of training's data, weights and run-directory errors).
Prefix = Literal["program", "command", "none"]


@dataclass(frozen=True)
class SourceText:
    """The text of one spec file, kept so that diagnostics can quote the offending line."""

    name: str
    text: str

    def line(self, number: int) -> str:
        """Return 1-based line ``number`` without its newline ('' when out of range)."""
        lines = self.text.splitlines()
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return ""


@dataclass(frozen=True)
class Span:
    """A 1-based line/column position in a spec file; ``length`` is the caret width."""

    source: SourceText
    line: int
    col: int
    length: int = 1

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"

    def width(self) -> int:
        """How many characters the caret covers: ``length``, cut at the end of the line.

        The text renderer draws this many; the JSON and SARIF reports give the same end.
        """
        shown = self.source.line(self.line).rstrip("\n")
        return max(1, min(self.length, max(1, len(shown) - self.col + 1)))

    @property
    def end_col(self) -> int:
        """The column just past the caret (exclusive), on :attr:`line`."""
        return self.col + self.width()


@dataclass
class Diagnostic:
    """One user mistake: what is wrong, where, and optionally how to fix it."""

    message: str
    span: Span | None = None
    hint: str | None = None
    notes: list[tuple[str, Span | None]] = field(default_factory=list)
    #: The stable code of this kind of mistake (``NS203``); None until the error that
    #: carries the diagnostic is made, which gives it its class's default code.
    code: str | None = None

    def escaped(self) -> Diagnostic:
        """This diagnostic with its texts :func:`printable`: what every output format shows."""
        notes = [(printable(note), span) for note, span in self.notes]
        hint = printable(self.hint) if self.hint else self.hint
        return replace(self, message=printable(self.message), hint=hint, notes=notes)

    def render(self, program: str = "netspec") -> str:
        """Format like a compiler: location, message, quoted line with a caret, hints.

        Without a location (a missing file, say) ``program`` stands in its place, or
        nothing when it is empty. Everything printed is :func:`printable`: a spec cannot
        send control sequences to the user's terminal through a message or a quoted line.
        """
        parts = []
        where = printable(str(self.span)) if self.span else program
        message = _shortened(printable(self.message))
        parts.append(f"{where}: error: {message}" if where else f"error: {message}")
        if self.span is not None:
            parts.extend(_quote(self.span))
        for note, note_span in self.notes:
            where = f"{printable(str(note_span))}: " if note_span else ""
            parts.append(f"{where}note: {_shortened(printable(note))}")
            if note_span is not None:
                parts.extend(_quote(note_span))
        if self.hint:
            parts.append(f"hint: {_shortened(printable(self.hint))}")
        return "\n".join(parts)


#: Characters never printed as they are: C0 controls but newline and tab, DEL, C1 controls
#: (ESC sequences retitle or clear a terminal, BEL rings it) and the bidirectional overrides
#: that make text display in another order than it is written.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Widest part of a source line quoted under a message; a longer line is shown as a window
#: around the caret (a 900 KB line must not print 900 KB).
QUOTE_WIDTH = 120
#: Longest message, hint or note printed whole; longer ones lose their middle.
MESSAGE_WIDTH = 1000


def printable(text: str) -> str:
    """``text`` with terminal control characters written as escapes (ESC as ``\\x1b``)."""
    return CONTROL_CHARACTERS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shortened(text: str, width: int = MESSAGE_WIDTH) -> str:
    if len(text) <= width:
        return text
    keep = (width - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


def _quote(span: Span) -> list[str]:
    """The line ``span`` is on and a caret under its columns, escaped and at most
    :data:`QUOTE_WIDTH` wide (tabs are shown as single spaces so the caret stays aligned)."""
    text = span.source.line(span.line).rstrip("\n")
    if not text.strip():
        return []
    before = printable(text[: span.col - 1].replace("\t", " "))
    before += " " * max(0, span.col - 1 - len(text))  # a column past the line's end
    marked = printable(text[span.col - 1 : span.col - 1 + span.width()].replace("\t", " "))
    shown = printable(text.replace("\t", " "))
    start = len(before)
    width = max(1, min(len(marked), len(shown) - start))
    if len(shown) > QUOTE_WIDTH:
        first = max(0, min(start - QUOTE_WIDTH // 3, len(shown) - QUOTE_WIDTH))
        last = first + QUOTE_WIDTH
        lead = "..." if first else ""
        shown = lead + shown[first:last] + ("..." if last < len(shown) else "")
        width = max(1, min(width, last - start))
        start = start - first + len(lead)
    gutter = f"{span.line:>5} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * start + "^" + "~" * (width - 1)
    return [gutter + shown, caret]


class NetspecError(Exception):
    """Base of every error netspec reports about a user's spec or input.

    It carries one or more diagnostics so that a stage can report every mistake it found
    in one pass (all misspelt keys, say) instead of making the user fix them one by one.
    """

    stage = "spec"
    #: The exit status of the CLI when this error ends a command: 1 for a bad spec, input,
    #: file or machine; 2 for command-line misuse (argparse's convention).
    exit_status: ClassVar[int] = 1
    #: What introduces the message when the error has no location (see :data:`Prefix`).
    prefix: ClassVar[Prefix] = "program"
    #: The code of a diagnostic raised without one: the stage's ``NS_00`` (see docs/errors.md).
    default_code: ClassVar[str] = "NS000"

    def __init__(
        self,
        message: str | None = None,
        span: Span | None = None,
        hint: str | None = None,
        *,
        diagnostics: list[Diagnostic] | None = None,
        notes: list[tuple[str, Span | None]] | None = None,
        code: str | None = None,
    ) -> None:
        if diagnostics is None:
            if message is None:
                raise ValueError("a NetspecError needs a message or diagnostics")
            diagnostics = [Diagnostic(message, span, hint, list(notes or []), code)]
        self.diagnostics = [
            d if d.code else replace(d, code=self.default_code) for d in diagnostics
        ]
        super().__init__(self.render())

    @property
    def first(self) -> Diagnostic:
        """The first diagnostic; tests and single-error callers look at this one."""
        return self.diagnostics[0]

    @property
    def message(self) -> str:
        return self.first.message

    @property
    def span(self) -> Span | None:
        return self.first.span

    @property
    def code(self) -> str | None:
        """The first diagnostic's code (``NS203``)."""
        return self.first.code

    @property
    def line(self) -> int | None:
        return self.first.span.line if self.first.span else None

    @property
    def col(self) -> int | None:
        return self.first.span.col if self.first.span else None

    def render(self, program: str = "netspec", command: str | None = None) -> str:
        """All diagnostics in compiler form, separated by blank lines.

        ``command`` is the subcommand that failed (``build``); errors whose :attr:`prefix` is
        "command" name it after the program.
        """
        origin = {
            "program": program,
            "command": f"{program} {command}" if command else program,
            "none": "",
        }[self.prefix]
        return "\n\n".join(d.render(origin) for d in self.diagnostics)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by diagnostics (and attributes), not by the rendered text.

        Rank 0 of a torchrun job hands its error to the other ranks this way, so that every
        process stops with the same message instead of waiting for rank 0 forever.
        """
        return (_rebuild, (type(self), self.diagnostics), dict(self.__dict__))


def _rebuild(kind: type[NetspecError], diagnostics: list[Diagnostic]) -> NetspecError:
    error = kind.__new__(kind)
    NetspecError.__init__(error, diagnostics=diagnostics)
    return error


class SourceError(NetspecError):
    """The file cannot be read as a YAML/JSON mapping (missing, binary, syntax, tags...)."""

    stage = "source"
    default_code = "NS100"


class SchemaError(NetspecError):
    """The document is well-formed but does not follow the spec language."""

    stage = "schema"
    default_code = "NS200"


class ExpressionError(NetspecError):
    """A parameter expression is malformed, refers to an unknown name, or overflows."""

    stage = "expressions"
    default_code = "NS300"


class ShapeError(NetspecError):
    """Shapes do not work out: a feature map shrinks away, channels disagree, and so on."""

    stage = "shapes"
    default_code = "NS400"


class BuildError(NetspecError):
    """Building the torch module failed for a reason the spec author can fix."""

    stage = "build"
    default_code = "NS500"


class ExportError(NetspecError):
    """An artifact could not be written or did not verify against the eager model."""

    stage = "export"
    default_code = "NS600"


class ArtifactError(NetspecError):
    """A file given as an artifact is missing, unreadable, or not one netspec wrote."""

    stage = "artifact"
    default_code = "NS610"


class InputError(NetspecError):
    """An input to ``predict`` cannot be used: missing, not an image, the wrong size."""

    stage = "input"
    default_code = "NS700"


class WriteError(NetspecError):
    """An output cannot be written: not a regular file, an input of the command, a folder
    that cannot be written (``cannot write X: <why>``)."""

    stage = "write"
    default_code = "NS630"


class UsageError(NetspecError):
    """Command-line misuse (bad ``--set``, unknown parameter): exit status 2."""

    stage = "usage"
    exit_status = 2
    prefix = "command"
    default_code = "NS900"


class DeviceError(NetspecError):
    """A device that is not one, or that this machine does not have (``--device``)."""

    stage = "device"
    default_code = "NS720"

    def __init__(self, request: str, reason: str) -> None:
        #: What the user wrote (``cuda:7``) and what is wrong with it, for callers that
        #: word the message their own way (training names the ``--device`` flag).
        self.request = request
        self.reason = reason
        super().__init__(f"device '{request}': {reason}")


class DataError(NetspecError):
    """A data file (IDX, a dataset folder) is missing or unreadable: one line, ``error: …``."""

    stage = "data"
    prefix = "none"
    default_code = "NS710"


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
