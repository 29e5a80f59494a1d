"""Every example in docs/errors.md produces exactly the message the page shows.

The page is the error catalogue users read; running it here keeps it honest (as Lark tests
its examples). A changed message, line or column fails this test.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT
from netspec.cli import main
from netspec.data import write_idx

CATALOGUE = ROOT / "docs" / "errors.md"
_SECTION = re.compile(
    r"^## (?P<title>.+?)\n(?P<intro>.*?)```(?P<fmt>yaml|json)\n(?P<spec>.*?)\n```\n\n"
    r"```text\n(?P<out>.*?)\n```",
    re.S | re.M,
)
#: ``Command: `netspec build ...`[, then `netspec predict ...`] (exit status 2)``: a section
#: of a mistake made on the command line rather than in the spec.
_COMMAND = re.compile(r"^Command: (?P<commands>.+?)(?: \(exit status (?P<status>\d)\))?$", re.M)


def _sections() -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str, str, str, str]]]:
    """The ``netspec check`` examples, and the command examples (title, spec, output,
    the command line, the exit status)."""
    text = CATALOGUE.read_text()
    checks, commands = [], []
    for m in _SECTION.finditer(text):
        command = _COMMAND.search(m["intro"])
        if command is None:
            checks.append((m["title"], m["fmt"], m["spec"], m["out"]))
        else:
            status = command["status"] or "1"
            commands.append((m["title"], m["spec"], m["out"], command["commands"], status))
    found = len(checks) + len(commands)
    assert found == text.count("\n## "), "every section needs a spec and its output"
    return checks, commands


EXAMPLES, COMMAND_EXAMPLES = _sections()


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
    status = main(["check", f"spec.{fmt}"])
    captured = capsys.readouterr()
    assert status == 1
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
    COMMAND_EXAMPLES,
    ids=[e[0] for e in COMMAND_EXAMPLES],
)
def test_catalogue_command_example(
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
