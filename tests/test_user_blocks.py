"""User-defined blocks: params, defaults, scope, expansion, and how they build."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import netspec
from netspec.errors import NetspecError

HEAD = "name: t\ninput: [3, 16, 16]\n"


def load(text: str, **params: float) -> netspec.CompiledSpec:
    return netspec.load(HEAD + text, params=params or None)


def error_of(text: str) -> NetspecError:
    with pytest.raises(NetspecError) as info:
        load(text)
    return info.value


def test_params_defaults_and_expressions() -> None:
    spec = load(
        """\
params: {width: 8}
blocks:
  conv_bn:
    params:
      out: int
      stride: 1
      bias: false
      mid: {type: int, default: out // 2, min: 1}
    layers:
      - conv: {out: mid, kernel: 1, bias: bias}
      - conv: {out: out, kernel: 3, padding: 1, stride: stride, bias: bias}
      - batchnorm
layers:
  - conv_bn: {out: 2 * width}
  - conv_bn: {name: down, out: 32, stride: 2, bias: true}
"""
    )
    rows = {node.path: node for _, node in spec.rows()}
    assert rows["0"].kind == "conv_bn"
    assert rows["0.0"].out_shape == (8, 16, 16)  # mid = out // 2 = 16 // 2
    assert rows["0.1"].args.bias is False
    assert rows["down"].out_shape == (32, 8, 8)
    assert rows["down.0"].args.bias is True
    assert spec.output_shape == (32, 8, 8)
    # same params as written by hand: conv 3->8 (1x1), conv 8->16 (3x3), bn 16, ...
    assert rows["0"].params == 3 * 8 + 8 * 16 * 9 + 2 * 16


def test_a_block_sees_only_its_own_params_and_its_input_sizes() -> None:
    error = error_of(
        """\
params: {width: 8}
blocks:
  b:
    params: {}
    layers: [{conv: {out: width, kernel: 1}}]
layers: [b]
"""
    )
    assert error.message == "conv: 'out': undefined param 'width'"
    spec = load(
        """\
blocks:
  half:
    params: {out: {type: int, default: in_channels * in_height // 32}}
    layers: [{conv: {out: out, kernel: 1}}]
layers: [{conv: {out: 64, kernel: 1}}, half]
"""
    )
    assert spec.output_shape == (32, 16, 16)  # 64 * 16 // 32


def test_one_layer_block_is_that_layer_several_layers_a_sequence() -> None:
    spec = load(
        """\
blocks:
  single: [{conv: {out: 4, kernel: 1}}]
  pair: [{conv: {out: 4, kernel: 1}}, relu]
layers: [single, pair]
"""
    )
    model = spec.build(seed=0)
    assert isinstance(model[0], torch.nn.Conv2d)
    assert isinstance(model[1], torch.nn.Sequential)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]
    assert [n.kind for _, n in spec.rows()] == ["single", "pair", "conv", "relu"]


def test_blocks_use_other_blocks_and_list_params() -> None:
    spec = load(
        """\
blocks:
  cbr:
    params: {out: int, k: 3}
    layers: [{conv: {out: out, kernel: k, padding: k // 2}}, relu]
  two:
    params: {outs: [4, 8]}
    layers:
      - cbr: {out: "outs[0]"}
      - cbr: {out: "outs[-1]", k: 1}
layers: [two, {two: {outs: [2, 6]}}]
"""
    )
    assert [n.out_shape[0] for d, n in spec.rows() if d == 0] == [8, 6]
    assert spec.rows()[1][1].path == "0.0"


def test_repeat_makes_copies_in_one_sequence() -> None:
    spec = load(
        """\
blocks:
  stack:
    params: {n: int}
    layers: [{repeat: {times: n, layers: [{conv: {out: 4, kernel: 3, padding: 1}}, relu]}}]
layers: [{stack: {n: 3}}]
"""
    )
    model = spec.build(seed=0)
    assert len(model[0]) == 6
    assert spec.total_params == (3 * 4 * 9 + 4) + 2 * (4 * 4 * 9 + 4)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("conv: [relu]", "blocks: 'conv' is a built-in kind; a user block cannot replace it"),
        ("b:\n    params: {name: int}\n    layers: [relu]", "block 'b': 'name' is reserved"),
        (
            "b:\n    params: {in_channels: 3}\n    layers: [relu]",
            "block 'b': 'in_channels' is reserved",
        ),
        ("b:\n    params: {k: 1.5x}\n    layers: [relu]", "block 'b': param 'k' has type '1.5x'"),
        ("b:\n    params: {k: {min: 1}}\n    layers: [relu]", "needs a 'type' or a 'default'"),
        (
            "b:\n    params: {k: {type: int, default: -1}}\n    layers: [relu]",
            "block 'b': default of param 'k' must be at least 0, got -1",
        ),
        ("b:\n    params: {k: int}", "block 'b': missing required field 'layers'"),
        ("b:\n    layers: []", "block 'b': 'layers' list should have at least 1 item"),
    ],
)
def test_bad_definitions(block: str, message: str) -> None:
    error = error_of(f"blocks:\n  {block}\nlayers: [relu]\n")
    assert message in error.message


def test_default_expression_errors_point_at_the_default() -> None:
    error = error_of(
        """\
blocks:
  b:
    params:
      k: {type: int, default: kk + 1}
    layers: [relu]
layers: [b]
"""
    )
    assert error.message == "block 'b': default of param 'k': undefined param 'kk'"
    assert (error.line, error.col) == (6, 31)  # the default, in the definition
    assert error.first.notes[0][1].line == 8  # the use


def test_duplicate_definition_across_files(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text("blocks:\n  b: [relu]\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + "imports: [lib.yaml]\nblocks:\n  b: [relu]\nlayers: [b]\n")
    with pytest.raises(NetspecError) as info:
        netspec.load(spec)
    assert info.value.message == "blocks: 'b' is defined twice"
    assert (info.value.line, info.value.col) == (5, 3)
    assert info.value.first.notes[0][1].source.name.endswith("lib.yaml")


def test_blocks_are_private_to_one_compilation() -> None:
    load("blocks:\n  mine: [relu]\nlayers: [mine]\n")
    error = error_of("layers: [mine]\n")
    assert error.message == "unknown layer kind 'mine'"


def test_runaway_expansion_is_refused() -> None:
    levels = ["  l0: [relu]"] + [
        f"  l{i}: [l{i - 1}, l{i - 1}, l{i - 1}, l{i - 1}]" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9)
    ]
    error = error_of("blocks:\n" + "\n".join(levels) + "\nlayers: [l9]\n")
    assert "more than 100000 modules" in error.message


def test_a_user_block_network_is_scriptable() -> None:
    spec = load(
        """\
blocks:
  cbr:
    params: {out: int, act: true}
    layers: [{conv: {out: out, kernel: 3, padding: 1}}, batchnorm, relu]
layers: [{cbr: {out: 8}}, gap, flatten, {linear: {out: 3}}]
"""
    )
    model = spec.build(seed=0).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(scripted(x), model(x))
