"""Every command of docs/authoring.md's "The torchvision specs" runs as the page shows it.

The commands are read from the page, not copied: a ``$ netspec ...`` line of a ``text``
block must print the lines under it, and each command of a ``sh`` block must succeed —
with ``resnet50.pth`` and ``resnet18.pth`` made here from torchvision's untrained models
(the published files have the same keys and shapes; nothing is downloaded) and a small
``shoes/`` folder of random images. Slow: it builds ResNet-50 at 224 px and fine-tunes
ResNet-18 for three epochs.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from data_support import write_images
from netspec.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_thread")]

PAGE = (ROOT / "docs" / "authoring.md").read_text()
SECTION = PAGE.split("## The torchvision specs\n", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)


def shown_commands() -> list[tuple[list[str], list[str]]]:
    """(arguments, the output lines shown under it) for each ``$ netspec`` line."""
    commands: list[tuple[list[str], list[str]]] = []
    for block in blocks("text"):
        for line in block.splitlines():
            if line.startswith("$ "):
                words = shlex.split(line[2:], comments=True)
                assert words[0] == "netspec", line
                commands.append((words[1:], []))
            else:
                commands[-1][1].append(line)
    return commands


def shell_commands() -> list[list[str]]:
    lines = "\n".join(blocks("sh")).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines if line.strip()]
    assert all(words[0] == "netspec" for words in commands)
    return [words[1:] for words in commands]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the repository's specs, the weights files and images the page uses."""
    from torchvision import models

    (tmp_path / "specs").symlink_to(ROOT / "specs")
    for name in ("resnet50", "resnet18"):
        torch.save(models.get_model(name).state_dict(), tmp_path / f"{name}.pth")
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (9, 3, 40, 48), dtype=torch.uint8, generator=generator)
    labels = torch.arange(9) % 3
    write_images(tmp_path / "shoes", images, labels, classes=("boot", "sandal", "sneaker"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_torchvision_section_runs_as_shown(workspace: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert shown_commands() and shell_commands(), "the section lost its examples"
    for arguments, shown in shown_commands():
        assert main(arguments) == 0, arguments
        printed = capsys.readouterr().out.splitlines()
        assert printed[: len(shown)] == shown, arguments
    for arguments in shell_commands():
        assert main(arguments) == 0, arguments
        assert "error" not in capsys.readouterr().err, arguments
    assert (workspace / "resnet50.ts.pt").is_file()
    assert (workspace / "runs" / "shoes" / "best.pt").is_file()
    assert (workspace / "resnet18.ts.pt").is_file()
