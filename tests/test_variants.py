"""Families in one file (issue 9): variants:, --variant, --list-variants, --all-variants."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec
from netspec.cli import main
from netspec.errors import SchemaError, UsageError

FAMILY = """\
name: tiny
input: [3, size, size]
params:
  size: 16
  block: {type: str, default: wide, choices: [narrow, wide]}
  depths: [1, 2]
  classes: 10
variants:
  tiny_a: {block: narrow, depths: [1, 1]}
  tiny_b: {}
  tiny_c: {size: 8, depths: [2, 2]}
layers:
  - conv: {out: "8 * len(depths) * (2 if block == 'wide' else 1)", kernel: 3, padding: 1}
  - relu
  - gap
  - flatten
  - linear: {out: classes}
"""


@pytest.fixture
def family(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(FAMILY)
    return path


def test_a_variant_sets_params_and_names_the_network(family: Path) -> None:
    spec = netspec.load(family, variant="tiny_a")
    assert (spec.name, spec.family, spec.variant) == ("tiny_a", "tiny", "tiny_a")
    assert spec.params["block"] == "narrow"
    assert spec.params["depths"] == (1, 1)
    assert spec.root.children[0].out_shape == (16, 16, 16)


def test_without_a_variant_the_defaults_are_the_network(family: Path) -> None:
    spec = netspec.load(family)
    assert (spec.name, spec.family, spec.variant) == ("tiny", None, None)
    assert spec.root.children[0].out_shape == (32, 16, 16)


def test_set_applies_over_the_variant(family: Path) -> None:
    spec = netspec.load(family, variant="tiny_c", params={"size": 4})
    assert spec.input_shape == (3, 4, 4)
    assert spec.params["depths"] == (2, 2)


def test_variants_lists_the_values_each_sets(family: Path) -> None:
    assert netspec.variants(family) == {
        "tiny_a": {"block": "narrow", "depths": (1, 1)},
        "tiny_b": {},
        "tiny_c": {"size": 8, "depths": (2, 2)},
    }
    assert netspec.variants(Path(__file__).parent.parent / "specs" / "lenet.yaml") == {}


def test_unknown_variant_is_misuse_with_a_suggestion(family: Path) -> None:
    with pytest.raises(UsageError) as caught:
        netspec.load(family, variant="tiny_aa")
    assert caught.value.message == (
        f"unknown variant 'tiny_aa'; {family} defines tiny_a, tiny_b, tiny_c"
    )
    assert caught.value.first.hint == "did you mean 'tiny_a'?"


def test_variant_of_a_spec_without_variants(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "plain.yaml"
    path.write_text("name: p\ninput: [4]\nlayers: [flatten]\n")
    assert main(["summary", str(path), "--variant", "big"]) == 2
    assert capsys.readouterr().err == (
        f"netspec summary: error: --variant big: {path} defines no variants\n"
        "hint: a spec lists its variants under 'variants:'; without them, leave out --variant\n"
    )


@pytest.mark.parametrize(
    ("variants", "message", "where", "hint"),
    [
        (
            "  v1: {depht: [1, 1]}\n",
            "variants: 'v1' sets 'depht', which is not a param",
            (9, 8),
            "did you mean 'depths'?",
        ),
        (
            "  v1: {depths: 2}\n",
            "variants: 'v1': 'depths' must be a list of integers, got the integer 2",
            (9, 16),
            None,
        ),
        (
            "  v1: {depths: [1, x]}\n",
            "variants: 'v1': 'depths[1]' must be an integer, got the string 'x'",
            (9, 20),
            None,
        ),
        (
            "  v1: {block: wid}\n",
            "variants: 'v1': 'block' must be 'narrow' or 'wide', got the string 'wid'",
            (9, 15),
            "did you mean 'wide'?",
        ),
        (
            "  -v1: {}\n",
            "variants: '-v1' is not a valid variant name",
            (9, 3),
            "a variant name becomes a file name: letters, digits, '_', '-' and '.', not "
            "starting with '-' or '.'",
        ),
        (
            "  v1: 3\n",
            "variants: 'v1' must be a mapping of params to values, such as {depths: [2, 2, 2, 2]}",
            (9, 7),
            None,
        ),
    ],
)
def test_mistakes_in_variants_are_located(
    variants: str, message: str, where: tuple[int, int], hint: str | None
) -> None:
    head = FAMILY.split("variants:")[0]
    with pytest.raises(SchemaError) as caught:
        netspec.load(head + "variants:\n" + variants + "layers: [flatten]\n")
    error = caught.value
    assert (error.message, (error.line, error.col), error.first.hint) == (message, where, hint)


def test_every_variant_is_checked_even_when_another_is_chosen() -> None:
    text = FAMILY.replace("tiny_c: {size: 8,", "tiny_c: {size: x,")
    with pytest.raises(SchemaError) as caught:
        netspec.load(text, variant="tiny_a")
    assert (
        caught.value.message == "variants: 'tiny_c': 'size' must be an integer, got the string 'x'"
    )


def test_list_variants(family: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(family), "--list-variants"]) == 0
    assert capsys.readouterr().out == (
        f"{family}: 3 variants (defaults: block=wide depths=[1, 2] size=16)\n"
        "tiny_a  block=narrow depths=[1, 1]    618 params  110.752K MACs\n"
        "tiny_b                              1,226 params  221.504K MACs\n"
        "tiny_c  size=8 depths=[2, 2]        1,226 params   55.616K MACs\n"
    )


def test_list_variants_shows_tables_by_their_row_count(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rows.yaml"
    path.write_text(
        FAMILY.replace("  classes: 10\n", "  classes: 10\n  rows: [[8, relu]]\n").replace(
            "  tiny_c: {", "  tiny_c: {rows: [[8, relu], [8, silu]], "
        )
    )
    assert main(["check", str(path), "--list-variants"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(defaults: block=wide depths=[1, 2] rows=[1 row] size=16)")
    assert lines[3].startswith("tiny_c  rows=[2 rows] size=8 depths=[2, 2]  ")


def test_all_variants_checks_each_and_notes_which_failed(family: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(family), "--all-variants"]) == 0
    assert capsys.readouterr().out.splitlines()[2] == (
        f"{family}: ok: tiny_c, input (3, 8, 8) -> output (10), 1,226 parameters, 5 modules"
    )
    family.write_text(FAMILY.replace("padding: 1}", "padding: 0}").replace("size: 8,", "size: 2,"))
    assert main(["check", str(family), "--all-variants"]) == 1
    err = capsys.readouterr().err
    assert "error: conv: kernel 3x3 with padding 0x0 does not fit the input (3, 2, 2)" in err
    assert "note: with --variant tiny_c\nhint: use a smaller kernel" in err
    assert "tiny_a" not in err


def test_variant_flags_exclude_each_other(family: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(family), "--list-variants", "--variant", "tiny_a"]) == 2
    assert capsys.readouterr().err == (
        "netspec check: error: --list-variants and --variant exclude each other: "
        "--list-variants covers every variant\n"
    )


def test_artifact_metadata_records_family_and_variant(family: Path) -> None:
    from netspec.export import metadata

    meta = metadata(netspec.load(family, variant="tiny_c"))
    assert (meta["name"], meta["family"], meta["variant"]) == ("tiny_c", "tiny", "tiny_c")
    assert "family" not in metadata(netspec.load(family))


def test_an_artifact_of_a_variant_with_word_and_list_params_reads_back(
    family: Path, tmp_path: Path
) -> None:
    """The artifact's metadata keeps every param type of the language (a word, a list),
    and reading the artifact back accepts them."""
    from netspec.artifacts import inspect_artifact

    out = tmp_path / "tiny_a.ts.pt"
    assert main(["build", str(family), "--variant", "tiny_a", "-o", str(out)]) == 0
    _, meta, _ = inspect_artifact(out)
    assert (meta["params"]["block"], meta["params"]["depths"]) == ("narrow", [1, 1])


def test_a_family_with_word_and_list_params_builds_and_predicts(
    family: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The artifact's metadata records params of every type (a word, a list, rows of
    lists) and reading the artifact back accepts them: build and predict work."""
    import numpy as np
    from PIL import Image

    from netspec.formats.metadata import check_metadata

    artifact = tmp_path / "tiny_a.ts.pt"
    assert main(["build", str(family), "--variant", "tiny_a", "-o", str(artifact)]) == 0
    picture = tmp_path / "x.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(picture)
    capsys.readouterr()
    assert main(["predict", str(artifact), str(picture)]) == 0
    assert capsys.readouterr().out.startswith(f"{picture}: class ")
    params = {"settings": [[1, 16, 1, 1], [6, 24, 2, 2]], "se": True, "act": "relu"}
    rows = {"format": "torchscript", "name": "m", "input_shape": [3, 8, 8], "params": params}
    assert check_metadata(rows, "m.ts.pt", "torchscript") == rows
