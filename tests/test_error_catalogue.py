"""Every example in docs/errors.md produces exactly the message the page shows.

The page is the error catalogue users read; running it here keeps it honest (as Lark tests
its examples). A changed message, line or column fails this test. A section runs
``netspec check spec.yaml`` unless it gives its command in a line of its own,
``Command: `netspec check spec.yaml --variant resnet51` ``; a message that starts
``netspec COMMAND: error:`` is command-line misuse and exits 2, any other exits 1.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from conftest import ROOT
from netspec.cli import main

CATALOGUE = ROOT / "docs" / "errors.md"
_SECTION = re.compile(
    r"^## (?P<title>.+?)\n(?P<prose>.*?)```(?P<fmt>yaml|json)\n(?P<spec>.*?)\n```\n\n"
    r"```text\n(?P<out>.*?)\n```",
    re.S | re.M,
)
_COMMAND = re.compile(r"^Command: `(?P<command>netspec [^`]+)`", re.M)


def _examples() -> tuple[list[tuple[str, str, str, str]], dict[str, list[str]]]:
    """(title, format, spec, output) of each section, and the command of each section that
    names one (its argv after ``netspec``)."""
    text = CATALOGUE.read_text()
    found, commands = [], {}
    for m in _SECTION.finditer(text):
        found.append((m["title"], m["fmt"], m["spec"], m["out"]))
        command = _COMMAND.search(m["prose"])
        if command:
            commands[m["title"]] = shlex.split(command["command"])[1:]
    assert len(found) == text.count("\n## "), "every section needs a spec and its output"
    return found, commands


EXAMPLES, COMMANDS = _examples()


def command_of(title: str, fmt: str) -> list[str]:
    """The argv (after ``netspec``) a catalogue section runs: ``check spec.yaml`` by default."""
    return COMMANDS.get(title, ["check", f"spec.{fmt}"])


@pytest.mark.parametrize(
    ("title", "fmt", "spec", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES]
)
def test_catalogue_example(
    title: str,
    fmt: str,
    spec: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"spec.{fmt}").write_text(spec + "\n")
    argv = command_of(title, fmt)
    status = main(argv)
    captured = capsys.readouterr()
    assert status == (2 if expected.startswith(f"netspec {argv[0]}: error:") else 1)
    assert captured.out == ""
    assert captured.err == expected + "\n"


def test_catalogue_covers_the_issue_list() -> None:
    titles = {e[0] for e in EXAMPLES}
    required = {
        "YAML syntax error",
        "JSON syntax error",
        "Unknown layer kind",
        "Unknown key",
        "Wrong type",
        "Missing required field",
        "Bad expression",
        "Undefined param",
        "Division by zero",
        "Feature map shrinks to nothing",
        "Stated in-channels do not match",
        "Stated in-features do not match",
        "Inception branches cannot be concatenated",
        "Missing input shape",
        "Malformed input shape",
        "Not a mapping",
        "YAML tags are refused",
    }
    assert required <= titles
