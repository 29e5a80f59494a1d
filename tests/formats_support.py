"""Run ``netspec check`` on one failing spec in every ``--format`` and compare them.

The error catalogues (docs/errors.md and test_error_catalogue_authoring.py) feed every
case through :func:`check_formats`: the JSON positions must be the text renderer's (line,
column and caret width of every error and note), the SARIF log must validate against the
official SARIF 2.1.0 schema (vendored in tests/data), and all formats exit alike.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from netspec.cli import main

DATA = Path(__file__).parent / "data"
_HEADER = re.compile(
    r"^(?P<file>\S.*?):(?P<line>\d+):(?P<col>\d+): (?P<kind>error|note): (?P<text>.*)$"
)
_CARET = re.compile(r"^ +\| (?P<pad> *)(?P<caret>\^~*)$")


def run_check(*argv: str) -> tuple[int, str, str]:
    """``netspec check ARGV``: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["check", *argv])
    return status, out.getvalue(), err.getvalue()


@cache
def sarif_validator() -> Any:
    """A validator of the official SARIF 2.1.0 JSON Schema (OASIS, errata 01)."""
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema, format_checker=validator.FORMAT_CHECKER)


def text_positions(text: str) -> list[tuple[str, str, int, int, int, str]]:
    """(kind, file, line, column, caret width, message) of each located error and note."""
    found = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _HEADER.match(line)
        if match is None:
            continue
        caret = _CARET.match(lines[index + 2]) if index + 2 < len(lines) else None
        width = len(caret["caret"]) if caret else 1
        # A line wider than the quote is shown as a window ("...") around the caret, whose
        # column then differs from the file's; the header and the JSON still give the file's.
        windowed = lines[index + 1].split(" | ", 1)[-1].startswith("...")
        if caret and not windowed:
            assert len(caret["pad"]) + 1 == int(match["col"]), "the caret is under the column"
        position = (match["file"], int(match["line"]), int(match["col"]), width)
        found.append((match["kind"], *position, match["text"]))
    return found


def json_positions(diagnostics: list[dict[str, Any]]) -> list[tuple[str, str, int, int, int, str]]:
    """The same tuples from ``--format json`` (located entries only, in order)."""
    found = []
    for d in diagnostics:
        entries = [("error", d), *(("note", note) for note in d["notes"])]
        for kind, entry in entries:
            if entry["line"] is None:
                continue
            assert entry["end_line"] == entry["line"]
            width = entry["end_column"] - entry["column"]
            found.append(
                (kind, entry["file"], entry["line"], entry["column"], width, entry["message"])
            )
    return found


def check_formats(*argv: str) -> list[dict[str, Any]]:
    """Check ``argv`` in text, JSON and SARIF; assert they agree; return the JSON list."""
    status, _, text = run_check(*argv)
    json_status, json_out, json_err = run_check(*argv, "--format", "json")
    sarif_status, sarif_out, sarif_err = run_check(*argv, "--format", "sarif")
    assert status == json_status == sarif_status != 0
    assert (json_err, sarif_err) == ("", "")
    diagnostics = json.loads(json_out)
    assert json_positions(diagnostics) == text_positions(text)
    for d in diagnostics:
        assert re.fullmatch(r"NS\d{3}", d["code"]), d
        assert d["severity"] == "error"
        assert d["message"] in text and (d["hint"] is None or f"hint: {d['hint']}" in text)
    log = json.loads(sarif_out)
    errors = [e.message for e in sarif_validator().iter_errors(log)]
    assert errors == [], errors
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [d["code"] for d in diagnostics]
    for result, d in zip(results, diagnostics, strict=True):
        (location,) = result["locations"]
        region = location["physicalLocation"].get("region")
        if d["line"] is None:
            assert region is None
        else:
            expected = (d["line"], d["column"], d["end_line"], d["end_column"])
            assert expected == tuple(
                region[k] for k in ("startLine", "startColumn", "endLine", "endColumn")
            )
        assert result["message"]["text"].startswith(d["message"])
    return diagnostics
