"""``concat`` and ``add``: shapes, projection shortcuts, names, and the built module."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import netspec
from netspec.errors import NetspecError

HEAD = "name: t\ninput: [4, 8, 8]\n"


def load(text: str) -> netspec.CompiledSpec:
    return netspec.load(HEAD + text)


def scripted_equal(model: torch.nn.Module, x: torch.Tensor) -> None:
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))


def test_concat_joins_channels_with_identity_branches_in_place() -> None:
    spec = load(
        """\
layers:
  - concat:
      - []
      - [{conv: {name: a, out: 3, kernel: 1}}, relu]
      - [{maxpool: {kernel: 3, stride: 1, padding: 1}}]
"""
    )
    assert spec.output_shape == (4 + 3 + 4, 8, 8)
    node = spec.root.children[0]
    assert [[c.name for c in b] for b in node.branches] == [[], ["a", "1_1"], ["2_0"]]
    model = spec.build(seed=0)
    merge = model[0]
    assert [name for name, _ in merge.named_children()] == ["a", "1_1", "2_0"]
    x = torch.randn(2, 4, 8, 8)
    expected = torch.cat((x, F.relu(merge.a(x)), F.max_pool2d(x, 3, stride=1, padding=1)), dim=1)
    torch.testing.assert_close(model(x), expected)
    scripted_equal(model, x)


def test_concat_of_flat_features() -> None:
    spec = netspec.load(
        "name: t\ninput: [6]\nlayers:\n"
        "  - concat: [[{linear: {out: 2}}], [], [{linear: {out: 3}}]]\n"
    )
    assert spec.output_shape == (11,)
    assert spec.root.children[0].receptive_field is None


@pytest.mark.parametrize(
    ("projection", "params"),
    [("conv", 4 * 8 + 8), ("conv_bn", 4 * 8 + 2 * 8)],
)
def test_add_with_projection_fits_the_identity(projection: str, params: int) -> None:
    spec = load(
        f"""\
layers:
  - add:
      projection: {projection}
      branches:
        - [{{conv: {{out: 8, kernel: 3, padding: 1, stride: 2}}}}]
        - []
"""
    )
    node = spec.root.children[0]
    shortcut = node.branches[1]
    assert [c.kind for c in shortcut] == ["conv"] + (
        ["batchnorm"] if projection == "conv_bn" else []
    )
    assert shortcut[0].args.stride == (2, 2)
    assert shortcut[0].args.bias is (projection == "conv")
    assert sum(c.params for c in shortcut) == params
    assert spec.output_shape == (8, 4, 4)
    model = spec.build(seed=0)
    x = torch.randn(2, 4, 8, 8)
    merge = model[0]
    main, short = merge[0], merge[1]
    expected = main(x) + (short(x) if projection == "conv" else merge[2](short(x)))
    torch.testing.assert_close(model(x), expected)
    scripted_equal(model, x)


def test_add_keeps_the_identity_where_shapes_agree() -> None:
    spec = load(
        """\
layers:
  - add:
      projection: conv
      branches: [[{conv: {out: 4, kernel: 3, padding: 1}}], []]
"""
    )
    assert spec.root.children[0].branches[1] == []
    model = spec.build(seed=0)
    x = torch.randn(1, 4, 8, 8)
    torch.testing.assert_close(model(x), model[0][0](x) + x)


def test_odd_sizes_find_the_fitting_stride() -> None:
    spec = netspec.load(
        """\
name: t
input: [4, 7, 7]
layers:
  - add:
      projection: conv
      branches: [[{conv: {out: 8, kernel: 3, padding: 1, stride: 2}}], []]
"""
    )
    assert spec.output_shape == (8, 4, 4)
    assert spec.build(seed=0)(torch.randn(1, 4, 7, 7)).shape == (1, 8, 4, 4)


def test_projection_that_cannot_fit_is_reported() -> None:
    with pytest.raises(NetspecError) as info:
        load(
            """\
layers:
  - add:
      projection: conv
      branches: [[{conv: {out: 4, kernel: 3, padding: 2}}], []]
"""
        )
    assert info.value.message == (
        "add: branch 2 (identity, line 6) gives (4, 8, 8) but branch 1 (line 6) gives "
        "(4, 10, 10); add needs equal shapes"
    )
    assert info.value.first.hint == "no 1x1 convolution maps one of these shapes to the other"


def test_branch_names_must_differ_across_branches() -> None:
    with pytest.raises(NetspecError) as info:
        load(
            """\
layers:
  - concat:
      - [{conv: {name: p, out: 3, kernel: 1}}]
      - [{conv: {name: p, out: 3, kernel: 1}}]
"""
        )
    assert info.value.message == "duplicate module name 'p' in the branches of one merge"
    assert (info.value.line, info.value.col) == (6, 11)
    assert info.value.first.notes[0][1].line == 5


def test_merge_needs_two_branches() -> None:
    with pytest.raises(NetspecError) as info:
        load("layers:\n  - concat: [[relu]]\n")
    assert (
        info.value.message
        == "concat: 'branches' list should have at least 2 items after validation, not 1"
    )


def test_receptive_field_takes_the_widest_branch() -> None:
    spec = load(
        """\
layers:
  - concat:
      - [{conv: {out: 2, kernel: 1}}]
      - [{conv: {out: 2, kernel: 5, padding: 2}}]
  - conv: {out: 2, kernel: 3, stride: 2}
"""
    )
    first, second = spec.root.children
    assert first.receptive_field == (5, 5)
    assert second.receptive_field == (7, 7)
    assert second.rf[1] == (2, 2)
