"""Params v2 (issue 9): types, the long form at the spec level, words, lists, and --set."""

from __future__ import annotations

import pytest

import netspec
from netspec.cli import main
from netspec.errors import ExpressionError, SchemaError, UsageError

HEAD = "name: t\ninput: [3, 8, 8]\n"


def load(head: str, layers: str = "layers: [flatten]\n", **kwargs: object) -> netspec.Spec:
    return netspec.load(HEAD + head + layers, **kwargs)  # type: ignore[arg-type]


def test_spec_params_take_every_type_and_the_long_form() -> None:
    spec = load(
        "params:\n"
        "  size: 8\n"
        "  width: 1.0\n"
        "  bn: false\n"
        "  block: {type: str, default: bottleneck, choices: [basic, bottleneck]}\n"
        "  kernel: {type: size, default: [1, 3]}\n"
        "  depths: [3, 4, 6, 3]\n"
        "  rows: [[3, 16, false, relu], [5, 24, true, hardswish]]\n"
        "  acts: [relu, silu]\n"
        "  last: rows[-1][3]\n"
        "  total: sum(depths[:2])\n"
        "  deep: len(depths) > 3 and not bn\n"
    )
    assert spec.params == {
        "size": 8,
        "width": 1.0,
        "bn": False,
        "block": "bottleneck",
        "kernel": (1, 3),
        "depths": (3, 4, 6, 3),
        "rows": ((3, 16, False, "relu"), (5, 24, True, "hardswish")),
        "acts": ("relu", "silu"),
        "last": "hardswish",
        "total": 7,
        "deep": True,
    }


def test_a_spec_param_that_names_an_earlier_one_is_an_expression() -> None:
    # 'size' is also a type name: after a param called 'size' it is that param.
    spec = load("params:\n  size: 8\n  crop: size\n")
    assert spec.params["crop"] == 8


def test_list_items_are_expressions_except_unknown_words() -> None:
    spec = load("params:\n  w: 16\n  rows: [[w, 2 * w, relu]]\n")
    assert spec.params["rows"] == ((16, 32, "relu"),)


@pytest.mark.parametrize(
    ("params", "message", "where"),
    [
        (
            "params:\n  block: {type: str, default: basc, choices: [basic, bottleneck]}\n",
            "params: default of param 'block' must be 'basic' or 'bottleneck', got the string "
            "'basc'",
            (4, 31),
        ),
        (
            "params:\n  n: {type: int, default: 0, min: 1}\n",
            "params: default of param 'n' must be at least 1, got 0",
            (4, 27),
        ),
        (
            "params:\n  n: {type: int, choices: [a]}\n",
            "params: 'n': 'choices' are words, for a param of type str; this one is int",
            (4, 18),
        ),
        (
            "params:\n  n: int\n",
            "params: 'n' has no default, so every network of this spec must give it",
            (4, 3),
        ),
    ],
)
def test_spec_param_declarations_are_checked(
    params: str, message: str, where: tuple[int, int]
) -> None:
    with pytest.raises(SchemaError) as caught:
        load(params)
    assert caught.value.message == message
    assert (caught.value.line, caught.value.col) == where


def test_a_required_spec_param_can_be_given() -> None:
    assert load("params:\n  n: int\n", params={"n": 3}).params == {"n": 3}


def test_spec_param_expressions_keep_their_errors() -> None:
    with pytest.raises(ExpressionError) as caught:
        load("params:\n  r: 2\n  w: 64 // (r - 2)\n")
    assert caught.value.message == "params: 'w': division by zero"


BLOCK = """\
blocks:
  unit:
    params:
      out: int
      kernel: {type: size, default: 3}
      pad: {type: str, default: same, choices: [same, none]}
      rows: {type: list, default: [[8, 1]]}
    layers:
      - conv: {out: "out * rows[0][1]", kernel: kernel, padding: pad}
"""


def test_block_params_take_size_str_and_list() -> None:
    spec = load(
        BLOCK,
        "layers:\n"
        "  - unit: {out: 4, kernel: [1, 3]}\n"
        "  - unit: {out: 4, rows: [[2, 2]], pad: same}\n",
    )
    first, second = spec.root.children
    assert first.args.kernel == (1, 3)
    assert first.out_shape == (4, 8, 8)
    assert second.out_shape == (8, 8, 8)


def test_a_str_field_takes_a_word_unless_it_names_a_string_param() -> None:
    spec = load(
        BLOCK + "params:\n  mode: {type: str, default: same}\n",
        "layers:\n  - unit: {out: 4, pad: mode}\n",
    )
    assert spec.root.children[0].out_shape == (4, 8, 8)
    with pytest.raises(SchemaError) as caught:
        load(BLOCK, "layers:\n  - unit: {out: 4, pad: valid}\n")
    assert caught.value.message == "unit: 'pad' must be 'same' or 'none', got the string 'valid'"


def test_a_str_field_takes_an_expression_that_is_not_a_word() -> None:
    # MobileNetV3's table rows hold each block's activation: `act: rows[i][4]`.
    spec = load(
        BLOCK + "params:\n  modes: [none, same]\n",
        "layers:\n"
        "  - repeat:\n"
        "      times: 1\n"
        '      layers: [unit: {out: 4, pad: "modes[i + 1]"}]\n'
        "  - unit: {out: 4, pad: \"'none' if 2 > 3 else 'same'\"}\n",
    )
    assert [node.out_shape for node in spec.root.children] == [(4, 8, 8), (4, 8, 8)]
    with pytest.raises(SchemaError) as caught:
        load(BLOCK, 'layers:\n  - unit: {out: 4, pad: "modes[0]"}\n')
    assert caught.value.message == "unit: 'pad': undefined param 'modes'"
    with pytest.raises(SchemaError) as caught:
        load(BLOCK, "layers:\n  - unit: {out: 4, pad: 2 + 1}\n")
    assert caught.value.message == "unit: 'pad' must be 'same' or 'none', got the integer 3"


def test_block_list_param_short_form() -> None:
    spec = load(
        "blocks:\n  b:\n    params: {acts: [relu, silu], sizes: [4, 8]}\n"
        "    layers: [conv: {out: 'sizes[1] if acts[0] == \"relu\" else 1', kernel: 1}]\n",
        "layers: [b]\n",
    )
    assert spec.root.children[0].out_shape == (8, 8, 8)


# ------------------------------------------------------------------------------ --set

SPEC = """\
name: family
input: [3, 8, 8]
params:
  ratio: 1
  width: 1.0
  bn: false
  block: {type: str, default: bottleneck, choices: [basic, bottleneck]}
  depths: [3, 4, 6, 3]
  rows: [[1, relu]]
layers: [flatten]
"""


@pytest.mark.parametrize(
    ("setting", "name", "value"),
    [
        ("ratio=2*4", "ratio", 8),
        ("width=2", "width", 2.0),
        ("bn=true", "bn", True),
        ("block=basic", "block", "basic"),
        ("depths=[3,4,23,3]", "depths", (3, 4, 23, 3)),
        ("depths=3,4,23,3", "depths", (3, 4, 23, 3)),
        ("rows=[[1,relu],[2,silu]]", "rows", ((1, "relu"), (2, "silu"))),
    ],
)
def test_set_reads_values_by_type(tmp_path, capsys, setting: str, name: str, value: object) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    assert main(["summary", str(path), "--json", "--set", setting]) == 0
    capsys.readouterr()
    from netspec.commands._common import parse_overrides

    assert netspec.load(path, params=parse_overrides([setting])).params[name] == value


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "depths=3",
            "--set depths=3: 'depths' is a list of integers, e.g. --set 'depths=[3,4,6,3]'",
        ),
        ("depths=[3,x]", "--set depths=[3,x]: 'depths[1]' must be an integer, got the string 'x'"),
        ("bn=1", "--set bn=1: 'bn' is true or false, e.g. --set bn=false"),
        ("ratio=1.5", "--set ratio=1.5: 'ratio' must be an integer, got the number 1.5"),
        ("ratio=eight", "--set ratio: value 'eight' is not a number (undefined param 'eight')"),
        (
            "block=basc",
            "--set block=basc: 'block' must be 'basic' or 'bottleneck', got the string 'basc'\n"
            "hint: did you mean 'basic'?",
        ),
        ("rows=[[[1]]]", "--set rows: value '[[[1]]]' is not a value (lists nest at most 2 deep)"),
    ],
)
def test_set_values_of_the_wrong_type_are_usage_errors(
    tmp_path, capsys, setting: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    assert main(["check", str(path), "--set", setting]) == 2
    assert capsys.readouterr().err == f"netspec check: error: {message}\n"


def test_api_params_are_checked_like_set() -> None:
    with pytest.raises(UsageError) as caught:
        netspec.load(SPEC, params={"depths": 3})
    assert caught.value.message == (
        "--set depths=3: 'depths' is a list of integers, e.g. --set 'depths=[3,4,6,3]'"
    )
    assert netspec.load(SPEC, params={"depths": [1, 2]}).params["depths"] == (1, 2)


def test_block_param_defaults_may_be_conditions_over_the_input() -> None:
    spec = netspec.load(
        "name: g\ninput: [8, 8, 8]\nblocks:\n  mb:\n    params:\n      out: int\n"
        "      stride: 1\n      expand: 1.0\n"
        '      expanded: {type: int, default: "make_divisible(in_channels * expand, 8)"}\n'
        "      residual: {type: bool, default: stride == 1 and in_channels == out}\n"
        "    layers:\n      - conv: {out: expanded, kernel: 1, bias: residual}\n"
        '      - conv: {out: out, kernel: 3, padding: 1, stride: stride, bias: "not residual"}\n'
        "layers:\n  - mb: {out: 8}\n  - mb: {out: 16, stride: 2, expand: 6}\n"
    )
    first, second = spec.root.children
    assert [c.params for c in first.children] == [72, 576]  # residual: bias, then none
    assert [c.out_shape for c in second.children] == [(48, 8, 8), (16, 4, 4)]
    assert [c.params for c in second.children] == [384, 6928]
