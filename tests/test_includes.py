"""``imports:`` — block definitions from other files, relative to the importing file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import netspec
from netspec.errors import NetspecError

SPEC = "name: t\ninput: [3, 8, 8]\n"


def tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_imports_are_relative_to_the_importing_file(tmp_path: Path, monkeypatch) -> None:
    tree(
        tmp_path,
        {
            "specs/net.yaml": SPEC + "imports: [lib/stem.yaml]\nlayers: [stem]\n",
            "specs/lib/stem.yaml": "imports: [../common/act.yaml]\nblocks:\n"
            "  stem: [{conv: {out: 4, kernel: 3}}, act]\n",
            "specs/common/act.yaml": "blocks:\n  act: [relu]\n",
        },
    )
    monkeypatch.chdir(tmp_path.parent)  # the working directory plays no part
    spec = netspec.load(tmp_path / "specs/net.yaml")
    assert spec.output_shape == (4, 6, 6)
    assert [n.kind for _, n in spec.rows()] == ["stem", "conv", "act"]


def test_diamond_imports_load_each_file_once(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "net.yaml": SPEC + "imports: [a.yaml, b.yaml]\nlayers: [a, b]\n",
            "a.yaml": "imports: [base.yaml]\nblocks:\n  a: [base]\n",
            "b.yaml": "imports: [base.yaml]\nblocks:\n  b: [base]\n",
            "base.yaml": "blocks:\n  base: [relu]\n",
        },
    )
    assert netspec.load(tmp_path / "net.yaml").output_shape == (3, 8, 8)


def test_imported_blocks_are_used_in_their_own_file(tmp_path: Path) -> None:
    """An error inside an imported block is located in that file, with the use noted."""
    tree(
        tmp_path,
        {
            "net.yaml": SPEC + "imports: [lib.yaml]\nlayers:\n  - flatten\n  - cb: {out: 4}\n",
            "lib.yaml": "blocks:\n  cb:\n    params: {out: int}\n    layers:\n"
            "      - conv: {out: out, kernel: 3}\n",
        },
    )
    with pytest.raises(NetspecError) as info:
        netspec.load(tmp_path / "net.yaml")
    error = info.value
    assert error.message.startswith("conv: needs a (C, H, W) input but gets the flat shape (192)")
    assert (Path(error.span.source.name).name, error.line, error.col) == ("lib.yaml", 5, 9)
    ((note, span),) = error.first.notes
    assert note == "in block 'cb', used here"
    assert (Path(span.source.name).name, span.line) == ("net.yaml", 6)


def test_absolute_and_non_spec_paths_are_refused(tmp_path: Path) -> None:
    absolute = str(tmp_path / "x.yaml")
    for entry, message in [
        (absolute, f"imports: '{absolute}' is an absolute path"),
        ("notes.txt", "imports: 'notes.txt' is not a .yaml, .yml or .json file"),
    ]:
        (tmp_path / "net.yaml").write_text(SPEC + f"imports: ['{entry}']\nlayers: [relu]\n")
        with pytest.raises(NetspecError) as info:
            netspec.load(tmp_path / "net.yaml")
        assert info.value.message == message
        assert info.value.line == 3


def test_text_specs_import_relative_to_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    tree(tmp_path, {"lib.yaml": "blocks:\n  act: [relu]\n"})
    monkeypatch.chdir(tmp_path)
    assert netspec.load(SPEC + "imports: [lib.yaml]\nlayers: [act]\n").output_shape == (3, 8, 8)
    assert os.getcwd() == str(tmp_path)
