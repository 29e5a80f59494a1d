"""Glob-like patterns over parameter and module names: ``features.*``, ``layer*.conv1``.

``*`` stands for any text, dots included; every other character stands for itself. That
is all — no character classes, no regular expressions — so a pattern means what it looks
like, and matching costs one left-to-right scan: the literal pieces between the stars are
found in order with ``str.find`` (the leftmost place of each piece is always a good one
when only ``*`` is special), never by backtracking, however the pattern and the names
are written. ``freeze:`` patterns select what does not train; ``--init-map`` patterns
rename the tensors of a weights file, the text each ``*`` matched carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Longest pattern accepted (a module path is rarely longer than 100 characters).
MAX_PATTERN = 200
#: Most stars in one pattern.
MAX_STARS = 8


class PatternError(ValueError):
    """A pattern that is not one (too long, too many stars, empty)."""


@dataclass(frozen=True)
class Glob:
    """A compiled pattern: its literal pieces, which the stars join."""

    text: str
    pieces: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Glob:
        if not text:
            raise PatternError("pattern '' is empty")
        if len(text) > MAX_PATTERN:
            raise PatternError(f"pattern '{text[:20]}...' is longer than {MAX_PATTERN} characters")
        pieces = tuple(text.split("*"))
        if len(pieces) - 1 > MAX_STARS:
            raise PatternError(f"pattern '{text}' has more than {MAX_STARS} '*'")
        return cls(text, pieces)

    @property
    def stars(self) -> int:
        return len(self.pieces) - 1

    def captures(self, name: str) -> tuple[str, ...] | None:
        """What each ``*`` matched in ``name`` (leftmost placement), or None if no match."""
        first, *middle, last = self.pieces if len(self.pieces) > 1 else (self.pieces[0], "")
        if len(self.pieces) == 1:
            return () if name == first else None
        if not name.startswith(first) or len(name) < len(first) + len(last):
            return None
        end = len(name) - len(last)
        if not name.endswith(last):
            return None
        position, captured = len(first), []
        for piece in middle:
            found = name.find(piece, position, end)
            if found < 0:
                return None
            captured.append(name[position:found])
            position = found + len(piece)
        captured.append(name[position:end])
        return tuple(captured)

    def matches(self, name: str) -> bool:
        return self.captures(name) is not None

    def fill(self, captured: tuple[str, ...]) -> str:
        """The pattern with its stars replaced by ``captured``, in order."""
        parts = [self.pieces[0]]
        for text, piece in zip(captured, self.pieces[1:], strict=True):
            parts += [text, piece]
        return "".join(parts)


def module_prefixes(name: str) -> list[str]:
    """``a.b.weight`` → ``["a", "a.b", "a.b.weight"]``: the paths a name lies under."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def selected(name: str, patterns: list[tuple[Glob, bool]]) -> bool:
    """Whether ``name`` is selected by ``patterns`` — (glob, True) selects, (glob, False)
    (written ``!pattern``) exempts; the last pattern that matches the name, or any module
    path above it, decides."""
    decision = False
    for glob, include in patterns:
        if any(glob.matches(prefix) for prefix in module_prefixes(name)):
            decision = include
    return decision


def parse_selection(texts: list[str]) -> list[tuple[Glob, bool]]:
    """``["*", "!fc"]`` → globs with include/exclude flags (see :func:`selected`)."""
    return [
        (Glob.parse(text[1:]), False) if text.startswith("!") else (Glob.parse(text), True)
        for text in texts
    ]


@dataclass(frozen=True)
class Rename:
    """``FILE=MODEL``: tensors of a weights file named like FILE get the MODEL name."""

    source: Glob
    target: Glob

    @classmethod
    def parse(cls, text: str) -> Rename:
        source, sep, target = text.partition("=")
        if not sep or not source or not target:
            raise PatternError(f"'{text}' is not FILE_PATTERN=MODEL_PATTERN, e.g. 'fc.*=head.*'")
        rename = cls(Glob.parse(source.strip()), Glob.parse(target.strip()))
        if rename.source.stars != rename.target.stars:
            raise PatternError(
                f"'{text}': both sides need the same number of '*' (the text each matched "
                f"is carried over)"
            )
        return rename

    def apply(self, name: str) -> str | None:
        captured = self.source.captures(name)
        return None if captured is None else self.target.fill(captured)
