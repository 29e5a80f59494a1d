"""Every example in docs/errors.md produces exactly the message the page shows.

The page is the error catalogue users read; running it here keeps it honest (as Lark tests
its examples). A changed message, line or column fails this test.

Most sections are a spec and what ``netspec check spec.yaml`` prints (a ``text`` block).
A section about another command shows it in a ``console`` block instead: ``$ netspec ...``
(after optional ``NAME=VALUE`` environment settings), then what it prints on stderr. Such a
section may have a spec, written as ``spec.yaml`` first, or name the case of the hostile
corpus (tests/test_hostile.py) that makes its files (a crafted artifact, a run directory)
in a comment ``<!-- corpus: CASE -->``; the corpus runs those.

A ``netspec check`` section runs ``netspec check spec.yaml`` unless it gives its command in
a line of its own, ``Command: `netspec check spec.yaml --variant resnet51` ``; a message
that starts ``netspec COMMAND: error:`` is command-line misuse and exits 2, any other exits 1.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT
from netspec.cli import main
from netspec.data import write_idx
from netspec.errors import NetspecError

CATALOGUE = ROOT / "docs" / "errors.md"
_SECTION = re.compile(
    r"^## (?P<title>.+?)\n(?P<prose>.*?)```(?P<fmt>yaml|json)\n(?P<spec>.*?)\n```\n\n"
    r"```text\n(?P<out>.*?)\n```",
    re.S | re.M,
)
_BLOCK = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)\n```$", re.S | re.M)
_CODES = re.compile(r"^Code: (?P<codes>.+)$", re.M)
_CORPUS = re.compile(r"<!-- corpus: (?P<case>.+?) -->")
_COMMAND = re.compile(r"^Command: `(?P<command>netspec [^`]+)`", re.M)
#: ``Command: `netspec build ...`[, then `netspec predict ...`] (exit status 2)``: a section
#: of a mistake made with another command than ``check``, on files the test makes
#: (:func:`_catalogue_folder`); the commands before the last must succeed.
_STEPS = re.compile(
    r"^Command: (?P<commands>`netspec (?!check ).+?)(?: \(exit status (?P<status>\d)\))?$", re.M
)


@dataclass(frozen=True)
class CommandExample:
    """A section whose example is a command other than ``netspec check spec.yaml``."""

    title: str
    codes: tuple[str, ...]
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    expected: str
    spec: tuple[str, str] | None = None  # (format, text)
    corpus: str | None = None


def _sections() -> list[str]:
    text = CATALOGUE.read_text().split("\n# Safety rules", 1)[0]
    return ["## " + section for section in text.split("\n## ")[1:]]


def _command_example(section: str) -> CommandExample | None:
    blocks = {m["lang"]: m["body"] for m in _BLOCK.finditer(section)}
    if "console" not in blocks:
        return None
    first, _, expected = blocks["console"].partition("\n")
    words = shlex.split(first.removeprefix("$ "))
    env = []
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env.append((name, value))
    assert words[0] == "netspec", first
    spec = next(((fmt, blocks[fmt]) for fmt in ("yaml", "json") if fmt in blocks), None)
    corpus = _CORPUS.search(section)
    codes = _CODES.search(section)
    return CommandExample(
        title=section.split("\n", 1)[0].removeprefix("## "),
        codes=tuple(re.findall(r"NS\d{3}", codes["codes"])) if codes else (),
        argv=tuple(words[1:]),
        env=tuple(env),
        expected=expected,
        spec=spec,
        corpus=corpus["case"] if corpus else None,
    )


def _examples() -> tuple[list[tuple[str, str, str, str]], list[CommandExample]]:
    checks, commands = [], []
    for section in _sections():
        command = _command_example(section)
        if command is not None:
            commands.append(command)
            continue
        match = _SECTION.match(section)
        assert match, f"section {section.splitlines()[0]!r} needs a spec and its output"
        steps = _STEPS.search(match["prose"])
        if steps is not None:
            SEQUENCE_EXAMPLES.append(
                (match["title"], match["spec"], match["out"], steps["commands"],
                 steps["status"] or "1")
            )  # fmt: skip
            continue
        checks.append((match["title"], match["fmt"], match["spec"], match["out"]))
    return checks, commands


#: (title, spec, output, the command lines, the exit status) of each section that runs
#: commands other than ``check`` on files the test makes.
SEQUENCE_EXAMPLES: list[tuple[str, str, str, str, str]] = []
EXAMPLES, COMMAND_EXAMPLES = _examples()
#: The argv (after ``netspec``) of each check section that names its command.
COMMANDS = {
    section.split("\n", 1)[0].removeprefix("## "): shlex.split(m["command"])[1:]
    for section in _sections()
    if (m := _COMMAND.search(section))
    and "```console" not in section
    and not _STEPS.search(section)
}


def command_of(title: str, fmt: str) -> list[str]:
    """The argv (after ``netspec``) a catalogue section runs: ``check spec.yaml`` by default."""
    return COMMANDS.get(title, ["check", f"spec.{fmt}"])


#: Command examples that run here: those the corpus does not make files for.
RUNNABLE = [example for example in COMMAND_EXAMPLES if example.corpus is None]


def record_codes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The codes of every error the CLI renders from now on (the text shows none)."""
    seen: list[str] = []
    render = NetspecError.render

    def recording(self: NetspecError, *args: object, **kwargs: object) -> str:
        seen.extend(d.code for d in self.diagnostics if d.code)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(NetspecError, "render", recording)
    return seen


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


@pytest.mark.parametrize("example", RUNNABLE, ids=[e.title for e in RUNNABLE])
def test_catalogue_command_example(
    example: CommandExample,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in example.env:
        monkeypatch.setenv(name, value)
    if example.spec is not None:
        fmt, text = example.spec
        (tmp_path / f"spec.{fmt}").write_text(text + "\n")
    codes = record_codes(monkeypatch)
    status = main(list(example.argv))
    captured = capsys.readouterr()
    assert status in (1, 2)
    assert captured.out == ""
    assert captured.err == example.expected + "\n"
    assert example.codes and sorted(set(codes)) == sorted(example.codes)


def _catalogue_folder(folder: Path) -> None:
    """What the command sections name: ``data/``, a Fashion-MNIST-style dataset whose 20
    training images are black (a calibration that clips everything) and whose 20 test
    images are seeded noise, labelled 0-9, with the brightest pixel of an image of class k
    at column k of row 0; ``tiny.png``, 8x3 pixels."""
    data = folder / "data"
    data.mkdir()
    labels = (torch.arange(20) % 10).to(torch.uint8)
    noise = torch.randint(
        1, 200, (20, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    noise[torch.arange(20), 0, labels.long()] = 255
    write_idx(data / "train-images-idx3-ubyte", torch.zeros(20, 28, 28, dtype=torch.uint8))
    write_idx(data / "train-labels-idx1-ubyte", labels)
    write_idx(data / "t10k-images-idx3-ubyte", noise)
    write_idx(data / "t10k-labels-idx1-ubyte", labels)
    Image.fromarray(np.zeros((3, 8), np.uint8)).save(folder / "tiny.png")


@pytest.mark.parametrize(
    ("title", "spec", "expected", "commands", "status"),
    SEQUENCE_EXAMPLES,
    ids=[e[0] for e in SEQUENCE_EXAMPLES],
)
def test_catalogue_command_sequence(
    title: str,
    spec: str,
    expected: str,
    commands: str,
    status: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The commands before the last succeed; the last fails with exactly the page's text
    and nothing is left behind but what the earlier commands wrote."""
    lines = [shlex.split(c) for c in re.findall(r"`([^`]+)`", commands)]
    assert lines and all(line[0] == "netspec" for line in lines), commands
    if "onnx" in lines[-1] and importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("pip install .[onnx]")
    monkeypatch.chdir(tmp_path)
    _catalogue_folder(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec + "\n")
    for line in lines[:-1]:
        assert main(line[1:]) == 0, line
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    assert main(lines[-1][1:]) == int(status)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == expected + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
