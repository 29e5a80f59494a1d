"""Error catalogue, authoring part: user blocks, includes and merges.

Each case is a small spec written to a temporary folder, the exact message, and the
line/column the error points at (and, where the issue asks for it, the notes that point
at the other place involved: the definition, the use site, the other branch). Every case
also goes through ``netspec check --format text|json|sarif`` (tests/formats_support.py)
and must carry a code of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec
from formats_support import check_formats
from netspec.errors import NetspecError


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder / next(iter(files))


def fail(folder: Path, files: dict[str, str]) -> NetspecError:
    """Load the first file, expecting an error; check it in every ``--format`` too."""
    path = write(folder, files)
    with pytest.raises(NetspecError) as info:
        netspec.load(path)
    diagnostics = check_formats(str(path))
    assert [d["message"] for d in diagnostics] == [d.message for d in info.value.diagnostics]
    unspecific = [d["message"] for d in diagnostics if d["code"].endswith("00")]
    assert unspecific == [], "give these messages a code at their raise site (docs/errors.md)"
    return info.value


def where(span) -> tuple[str, int, int]:
    return (Path(span.source.name).name, span.line, span.col)


CONV_BN = """\
name: t
input: [3, 32, 32]
blocks:
  conv_bn:
    params:
      out: int
      stride: 1
    layers:
      - conv: {out: out, kernel: 3, padding: 1, stride: stride}
      - batchnorm
layers:
"""


def test_unknown_user_block(tmp_path: Path) -> None:
    error = fail(tmp_path, {"spec.yaml": CONV_BN + "  - conv_nb: {out: 16}\n"})
    assert error.stage == "schema"
    assert error.message == "unknown layer kind 'conv_nb'"
    assert (error.line, error.col) == (12, 5)
    assert error.first.hint == "did you mean 'conv_bn'?"


def test_unknown_kind_suggests_builtins_too(tmp_path: Path) -> None:
    error = fail(tmp_path, {"spec.yaml": CONV_BN + "  - batchnrom\n"})
    assert error.message == "unknown layer kind 'batchnrom'"
    assert error.first.hint == "did you mean 'batchnorm'?"


def test_wrong_parameter_type_for_a_user_block(tmp_path: Path) -> None:
    error = fail(tmp_path, {"spec.yaml": CONV_BN + "  - conv_bn: {out: 16, stride: 1.5}\n"})
    assert error.message == ("conv_bn: 'stride' must be an integer, got the number 1.5")
    assert (error.line, error.col) == (12, 32)
    note, span = error.first.notes[0]
    assert note == "'stride' is declared here as int"
    assert (span.line, span.col) == (7, 7)


def test_missing_and_unknown_parameters_of_a_user_block(tmp_path: Path) -> None:
    error = fail(tmp_path, {"spec.yaml": CONV_BN + "  - conv_bn: {outs: 16}\n"})
    assert error.message == "conv_bn: unknown key 'outs'"
    assert (error.line, error.col) == (12, 15)
    assert error.first.hint == "did you mean 'out'?"


def test_recursion(tmp_path: Path) -> None:
    text = """\
name: t
input: [3, 32, 32]
blocks:
  a:
    params: {out: int}
    layers:
      - conv: {out: out, kernel: 1}
      - b: {out: out}
  b:
    params: {out: int}
    layers:
      - relu
      - a: {out: out}
layers:
  - a: {out: 8}
"""
    error = fail(tmp_path, {"spec.yaml": text})
    assert error.message == "block 'a' uses itself: a -> b -> a"
    assert (error.line, error.col) == (13, 9)
    notes = [(note, span.line, span.col) for note, span in error.first.notes]
    assert notes == [
        ("block 'a' is defined here", 4, 3),
        ("in block 'b', used here", 8, 9),
        ("in block 'a', used here", 15, 5),
    ]


def test_direct_recursion(tmp_path: Path) -> None:
    text = "name: t\ninput: [4]\nblocks:\n  loop: [relu, loop]\nlayers:\n  - loop\n"
    error = fail(tmp_path, {"spec.yaml": text})
    assert error.message == "block 'loop' uses itself: loop -> loop"
    assert (error.line, error.col) == (4, 16)


def test_include_cycle(tmp_path: Path) -> None:
    error = fail(
        tmp_path,
        {
            "spec.yaml": "name: t\ninput: [4]\nimports: [lib/a.yaml]\nlayers: [relu]\n",
            "lib/a.yaml": "imports: [b.yaml]\nblocks:\n  x: [relu]\n",
            "lib/b.yaml": "blocks:\n  y: [relu]\nimports:\n  - ./a.yaml\n",
        },
    )
    assert error.message == "import cycle: lib/a.yaml -> lib/b.yaml -> lib/a.yaml".replace(
        "lib/", str(tmp_path / "lib") + "/"
    )
    assert where(error.span) == ("b.yaml", 4, 5)
    notes = [(note.split(" ")[0], *where(span)) for note, span in error.first.notes]
    assert notes == [("imported", "a.yaml", 1, 11), ("imported", "spec.yaml", 3, 11)]


def test_missing_include(tmp_path: Path) -> None:
    error = fail(
        tmp_path,
        {"spec.yaml": "name: t\ninput: [4]\nimports:\n  - blocks/nothere.yaml\nlayers: [relu]\n"},
    )
    assert error.message == "imported file not found: 'blocks/nothere.yaml'"
    assert (error.line, error.col) == (4, 5)
    assert error.first.hint == (
        "imports are relative to the importing file; "
        f"looked for {tmp_path / 'blocks' / 'nothere.yaml'}"
    )


def test_merge_of_mismatched_shapes(tmp_path: Path) -> None:
    text = """\
name: t
input: [3, 32, 32]
layers:
  - add:
      branches:
        - - conv: {out: 16, kernel: 3, padding: 1, stride: 2}
          - batchnorm
        - []
"""
    error = fail(tmp_path, {"spec.yaml": text})
    assert error.stage == "shapes"
    assert error.message == (
        "add: branch 2 (identity, line 8) gives (3, 32, 32) but branch 1 (line 6) gives "
        "(16, 16, 16); add needs equal shapes"
    )
    assert (error.line, error.col) == (8, 11)
    assert error.first.hint == (
        "add 'projection: conv' (or conv_bn) to fit the identity with a 1x1 convolution"
    )
    ((note, span),) = error.first.notes
    assert (note, span.line, span.col) == ("branch 1 is here", 6, 11)


def test_concat_mismatch_inside_a_user_block(tmp_path: Path) -> None:
    text = """\
name: t
input: [3, 32, 32]
blocks:
  two_paths:
    params: {out: int, stride: 1}
    layers:
      - concat:
          - - conv: {out: out, kernel: 3, padding: 1, stride: stride}
          - - conv: {out: out, kernel: 1}
layers:
  - two_paths: {out: 8, stride: 2}
"""
    error = fail(tmp_path, {"spec.yaml": text})
    assert error.message == (
        "concat: branch 2 (line 9) gives (8, 32, 32) but branch 1 (line 8) gives "
        "(8, 16, 16); concat joins channels, so height and width must match"
    )
    assert (error.line, error.col) == (9, 13)
    notes = [(note, span.line, span.col) for note, span in error.first.notes]
    assert notes == [("branch 1 is here", 8, 13), ("in block 'two_paths', used here", 11, 5)]


def test_error_in_a_block_body_points_at_definition_and_use(tmp_path: Path) -> None:
    text = CONV_BN.replace("out: out, kernel: 3", "out: out * widht, kernel: 3")
    error = fail(tmp_path, {"spec.yaml": text + "  - relu\n  - conv_bn: {out: 8}\n"})
    assert error.stage == "schema"
    assert error.message == "conv: 'out': undefined param 'widht'"
    assert (error.line, error.col) == (9, 27)
    ((note, span),) = error.first.notes
    assert (note, span.line, span.col) == ("in block 'conv_bn', used here", 13, 5)


def test_error_in_an_imported_file_is_located_there(tmp_path: Path) -> None:
    error = fail(
        tmp_path,
        {
            "spec.yaml": "name: t\ninput: [4]\nimports: [lib.yaml]\nlayers: [relu]\n",
            "lib.yaml": "blocks:\n  x:\n    params: {out: integer}\n    layers: [relu]\n",
        },
    )
    assert error.message == "block 'x': param 'out' has type 'integer', which is not a param type"
    assert where(error.span) == ("lib.yaml", 3, 19)
    ((note, span),) = error.first.notes
    assert note == f"imported from {error.first.notes[0][1].source.name} here"
    assert where(span) == ("spec.yaml", 3, 11)


def test_imported_file_must_only_hold_blocks(tmp_path: Path) -> None:
    error = fail(
        tmp_path,
        {
            "spec.yaml": "name: t\ninput: [4]\nimports: [other.yaml]\nlayers: [relu]\n",
            "other.yaml": "name: other\ninput: [4]\nlayers: [relu]\n",
        },
    )
    assert error.message == "imported file: unknown key 'name'"
    assert where(error.span) == ("other.yaml", 1, 1)
