"""Shell completion: ``netspec completion bash`` sourced in a real bash completes words.

The script is run the way bash runs it on Tab: ``COMP_WORDS``/``COMP_CWORD`` set, the
completion function called, ``COMPREPLY`` read. ``netspec`` on its PATH is a shim that
runs this checkout, so the names it reads from a spec come from the code under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from netspec.cli import main
from netspec.completion import spec_names

BASH = shutil.which("bash")
VARIANTS = """\
name: v
input: [3, 32, 32]
params: {width: 8, depth: 2}
variants:
  small: {width: 4}
  wide: {width: 32}
layers: [flatten]
"""


def netspec_script(shell: str) -> str:
    """``netspec completion SHELL`` of this checkout."""
    return subprocess.run(
        [sys.executable, "-m", "netspec", "completion", shell],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def complete(netspec_on_path: dict[str, str]):
    """``complete("netspec", "bu")`` → the words bash offers for the last one."""
    if BASH is None:
        pytest.skip("bash is not installed")
    script = netspec_script("bash")

    def run(*words: str) -> list[str]:
        program = (
            script
            + 'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _netspec\n'
            + 'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        done = subprocess.run(
            [BASH, "--norc", "-c", program, "bash", *words],
            env=netspec_on_path,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return [line for line in done.stdout.splitlines() if line]

    return run


def test_bash_completes_subcommands(complete) -> None:
    assert complete("netspec", "bu") == ["build"]
    assert "check" in complete("netspec", "")


def test_bash_completes_set_with_the_params_of_the_spec(complete) -> None:
    assert complete("netspec", "build", "specs/vgg11.yaml", "--set", "r") == ["ratio="]
    assert complete("netspec", "check", "specs/vgg11.yaml", "--set", "") == [
        "ratio=",
        "hidden=",
        "classes=",
    ]


def test_bash_completes_flags_choices_and_spec_files(complete) -> None:
    assert complete("netspec", "check", "--fo") == ["--format"]
    assert complete("netspec", "check", "x.yaml", "--format", "") == ["text", "json", "sarif"]
    assert complete("netspec", "build", "specs/vgg11.yaml", "--format", "o") == ["onnx"]
    assert complete("netspec", "check", "specs/le") == ["specs/lenet.yaml"]
    assert complete("netspec", "completion", "") == ["bash", "zsh", "fish"]


def test_bash_completes_variants_from_the_spec(complete, tmp_path: Path) -> None:
    spec = tmp_path / "v.netspec.yaml"
    spec.write_text(VARIANTS)
    assert complete("netspec", "build", str(spec), "--variant", "") == ["small", "wide"]


def test_names_are_read_from_the_source_without_validation(tmp_path: Path) -> None:
    spec = tmp_path / "v.yaml"
    spec.write_text(VARIANTS)
    assert spec_names(str(spec), "variants") == ["small", "wide"]
    assert spec_names(str(spec), "params") == ["width", "depth"]
    assert spec_names(str(tmp_path / "missing.yaml"), "params") == []
    spec.write_text("name: [unclosed\n")
    assert spec_names(str(spec), "params") == []


def test_completion_helpers_print_names(capsys, tmp_path: Path) -> None:
    spec = tmp_path / "v.yaml"
    spec.write_text(VARIANTS)
    assert main(["completion", "--variants", str(spec)]) == 0
    assert capsys.readouterr().out == "small\nwide\n"
    assert main(["completion", "--params", str(ROOT / "specs" / "vgg11.yaml")]) == 0
    assert capsys.readouterr().out == "ratio\nhidden\nclasses\n"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_script_names_every_subcommand(shell: str, capsys, tmp_path: Path) -> None:
    from netspec.commands import COMMANDS

    assert main(["completion", shell]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in COMMANDS)
    program = shutil.which(shell)
    if program is None:
        return  # the script is written; syntax is checked where the shell is installed
    path = tmp_path / f"netspec.{shell}"
    path.write_text(text)
    check = [program, "--no-execute", str(path)] if shell == "fish" else [program, "-n", str(path)]
    subprocess.run(check, check=True)


def test_completion_needs_a_shell_or_a_spec(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["completion"])
    assert info.value.code == 2
    assert "one of the arguments" in capsys.readouterr().err


def test_fish_completes_subcommands_and_params(
    tmp_path: Path, netspec_on_path: dict[str, str]
) -> None:
    fish = shutil.which("fish")
    if fish is None:
        pytest.skip("fish is not installed")
    script = tmp_path / "netspec.fish"
    script.write_text(netspec_script("fish"))
    asked = (
        f"source {script}; complete -C 'netspec bu'; "
        "complete -C 'netspec build specs/vgg11.yaml --set r'"
    )
    done = subprocess.run(
        [fish, "-c", asked], env=netspec_on_path, cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.split() == ["build", "ratio="]
