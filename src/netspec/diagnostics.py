"""Diagnostics for machines: the JSON list and the SARIF 2.1.0 log of ``netspec check``.

A person reads ``file:line:col: error: …`` with a quoted line and a caret; CI systems, editors
and GitHub code scanning read the same diagnostics as data. Both forms come from the same
:class:`~netspec.errors.Diagnostic` objects, so a position is the same in every format: the
line and column the text renderer prints, and the end the caret reaches
(:meth:`~netspec.errors.Span.end_col`, exclusive). Columns count characters (Unicode code
points), as the text renderer does; the SARIF log says so (``columnKind``).

This module imports nothing but :mod:`netspec.errors` and the standard library:
``netspec check`` stays free of torch in every format.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from .errors import Diagnostic, NetspecError, Span
from .version import __version__

#: One checked file that failed: the path the user named, and the error it raised.
Failure = tuple[str, NetspecError]
#: A warning about a valid file (a network too large to build): the path, and what to say.
Warning = tuple[str, Diagnostic]

#: The schema a SARIF log names in ``$schema`` (the OASIS standard, errata 01).
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
#: What each family of codes (the first digit after ``NS``) is about: the rule's name and
#: description in SARIF. docs/errors.md lists every code of each family.
FAMILIES: dict[str, tuple[str, str]] = {
    "0": ("NetspecError", "netspec could not finish the command"),
    "1": ("SourceError", "the spec file cannot be read as YAML or JSON data"),
    "2": ("SchemaError", "the spec does not follow the spec language"),
    "3": ("ExpressionError", "an expression in the spec cannot be evaluated"),
    "4": ("ShapeError", "the shapes of the layers do not work out"),
    "5": ("BuildError", "the torch module cannot be built (or its weights do not fit)"),
    "6": ("ExportError", "an artifact or a picture cannot be written or read"),
    "7": ("InputError", "an input, a data file or a device cannot be used"),
    "8": ("TrainingError", "a run directory or a checkpoint does not fit the network"),
    "9": ("UsageError", "the command line is misused"),
}


def _where(span: Span | None, file: str | None) -> dict[str, Any]:
    """File, line, column and the exclusive end of ``span`` (nulls where there is none)."""
    if span is None:
        return {"file": file, "line": None, "column": None, "end_line": None, "end_column": None}
    return {
        "file": span.source.name,
        "line": span.line,
        "column": span.col,
        "end_line": span.line,
        "end_column": span.end_col,
    }


def diagnostic_json(diagnostic: Diagnostic, file: str, severity: str = "error") -> dict[str, Any]:
    """One diagnostic as a JSON object; ``file`` stands in when it points nowhere.

    Its texts are escaped as the text format escapes them: a spec's control characters
    reach no terminal through a tool that prints the report either.
    """
    diagnostic = diagnostic.escaped()
    return {
        "severity": severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
        **_where(diagnostic.span, file),
        "hint": diagnostic.hint,
        "notes": [{"message": note, **_where(span, None)} for note, span in diagnostic.notes],
    }


def diagnostics_json(
    failures: Sequence[Failure], warnings: Sequence[Warning] = ()
) -> list[dict[str, Any]]:
    """Every diagnostic of every failed file, in order, then the warnings: ``netspec check
    --format json``."""
    return [diagnostic_json(d, file, level) for file, d, level in _levelled(failures, warnings)]


def _levelled(
    failures: Sequence[Failure], warnings: Sequence[Warning]
) -> list[tuple[str, Diagnostic, str]]:
    """(file, diagnostic, level) of every error, then of every warning."""
    found = [(file, d, "error") for file, error in failures for d in error.diagnostics]
    return found + [(file, d, "warning") for file, d in warnings]


# ---------------------------------------------------------------------------- SARIF


def sarif_log(
    failures: Sequence[Failure], base: Path | None = None, warnings: Sequence[Warning] = ()
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run of netspec: ``netspec check --format sarif``.

    Each diagnostic is a result whose rule is its code (a warning's level is
    ``warning``); relative paths are relative to ``%SRCROOT%``, which is ``base`` (the
    working directory): what GitHub code scanning resolves against the repository's root
    when ``netspec check`` runs there.
    """
    base = base or Path.cwd()
    found = _levelled(failures, warnings)
    codes = sorted({d.code or "NS000" for _, d, _ in found})
    results = [_result(d, file, codes.index(d.code or "NS000"), level) for file, d, level in found]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "netspec",
                "version": __version__,
                "rules": [_rule(code) for code in codes],
            }
        },
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"uri": base.resolve().as_uri() + "/"}},
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(code: str) -> dict[str, Any]:
    name, about = FAMILIES.get(code[2:3], FAMILIES["0"])
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": f"{code}: {about}"},
        "fullDescription": {
            "text": f"{code}: {about}. The result's message says what is wrong and where; "
            "netspec's error catalogue (docs/errors.md) lists every code with an example."
        },
        "defaultConfiguration": {"level": "error"},
        "help": {"text": f"See {code} in netspec's docs/errors.md."},
    }


def _result(
    diagnostic: Diagnostic, file: str, rule_index: int, level: str = "error"
) -> dict[str, Any]:
    """One diagnostic as a SARIF result: located (GitHub needs a location), notes related."""
    diagnostic = diagnostic.escaped()
    lines = [diagnostic.message]
    related = []
    for note, span in diagnostic.notes:
        lines.append(f"note: {note}" + (f" ({span})" if span else ""))
        if span is not None:
            related.append({"id": len(related), **_location(span, file), "message": {"text": note}})
    if diagnostic.hint:
        lines.append(f"hint: {diagnostic.hint}")
    result: dict[str, Any] = {
        "ruleId": diagnostic.code or "NS000",
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": "\n".join(lines)},
        "locations": [_location(diagnostic.span, file)],
    }
    if related:
        result["relatedLocations"] = related
    return result


def _location(span: Span | None, file: str) -> dict[str, Any]:
    """A SARIF location: the file of ``span`` (else ``file``) and, with a span, its region."""
    physical: dict[str, Any] = {"artifactLocation": _artifact(span.source.name if span else file)}
    if span is not None:
        physical["region"] = {
            "startLine": span.line,
            "startColumn": span.col,
            "endLine": span.line,
            "endColumn": span.end_col,
        }
    return {"physicalLocation": physical}


def _artifact(name: str) -> dict[str, Any]:
    """An artifact location: a relative URI under ``%SRCROOT%``, or an absolute file URI."""
    path = PurePath(name)
    if path.is_absolute():
        return {"uri": Path(name).as_uri()}
    return {"uri": urllib.parse.quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}
