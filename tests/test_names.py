"""Module names: any name PyTorch accepts (and netspec can refer to), ints, templates."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec.schema import MODULE_ATTRIBUTES, name_problem


def load(layers: str, head: str = "") -> netspec.Spec:
    return netspec.load(f"name: t\ninput: [3, 8, 8]\n{head}layers:\n{layers}")


def error(layers: str, head: str = "") -> netspec.NetspecError:
    with pytest.raises(netspec.NetspecError) as caught:
        load(layers, head)
    return caught.value


def test_the_attribute_list_is_torchs() -> None:
    """The front end never imports torch, so the list is a constant: it must not drift."""
    assert {n for n in dir(torch.nn.Sequential()) if not n.startswith("__")} == MODULE_ATTRIBUTES


def test_torchvision_names_are_names() -> None:
    """RegNet's 'block1-0', numbered children, quoted or not, and YAML integers."""
    spec = load(
        "  - conv: {name: block1-0, out: 4, kernel: 1}\n"
        "  - relu: {name: '1'}\n"
        "  - conv: {name: 2, out: 4, kernel: 1}\n"
    )
    assert [n.path for _, n in spec.rows()] == ["block1-0", "1", "2"]
    assert list(spec.build().state_dict()) == [
        "block1-0.weight",
        "block1-0.bias",
        "2.weight",
        "2.bias",
    ]


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("''", "conv: 'name' must not be empty", None),
        (
            "a.b",
            "conv: 'name' must not contain '.', got 'a.b'",
            "put the layer in a group named 'a'",
        ),
        ("'a b'", "conv: 'name' must not contain spaces or control characters, got 'a b'", "'_'"),
        ("input", "conv: 'input' cannot be a name: it means the list's input in 'from'", None),
        (
            "forward",
            "conv: 'forward' cannot be a name: every torch module has an attribute 'forward'",
            None,
        ),
        (
            "training",
            "conv: 'training' cannot be a name: every torch module has an attribute 'training'",
            None,
        ),
        (
            "append",
            "conv: 'append' cannot be a name: every torch module has an attribute 'append'",
            None,
        ),
        (
            "_netspec_x",
            "conv: '_netspec_x' cannot be a name: names starting with '_netspec' are netspec's own",
            None,
        ),
        ("x" * 129, "conv: 'name' must be at most 128 characters, got 129", None),
    ],
)
def test_names_pytorch_or_netspec_cannot_use(name: str, message: str, hint: str | None) -> None:
    exc = error(f"  - conv: {{name: {name}, out: 4, kernel: 1}}\n")
    assert exc.message == message
    assert exc.span is not None and (exc.span.line, exc.span.col) == (4, 18)
    if hint is not None:
        assert hint in (exc.first.hint or "")


def test_name_problem_accepts_what_add_module_accepts() -> None:
    for name in ("0", "block1-0", "Mixed_7b", "denselayer12", "é", "x" * 128):
        assert name_problem(name) is None
        torch.nn.Module().add_module(name, torch.nn.Identity())


def test_unnamed_module_layers_are_numbered_among_present_module_layers() -> None:
    spec = load(
        "  - conv: {out: 4, kernel: 1}\n"
        "  - relu: {functional: true}\n"  # no module, no position
        "  - batchnorm: {if: false}\n"  # absent
        "  - conv: {out: 4, kernel: 1}\n"
        "  - relu\n"
    )
    assert [n.path for _, n in spec.rows()] == ["0", "(relu)", "1", "2"]
    model = spec.build()
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]


def test_templates_in_names() -> None:
    spec = load(
        "  - repeat:\n"
        "      times: 3\n"
        "      splice: true\n"
        '      layers: [conv: {name: "block{i + 1}", out: 4, kernel: 1}]\n'
        '  - relu: {name: "{{literal}}"}\n'
    )
    assert [n.path for _, n in spec.rows()] == ["block1", "block2", "block3", "{literal}"]


@pytest.mark.parametrize(
    ("name", "message", "col"),
    [
        ('"block{i"', "conv: the template 'block{i' in 'name' has an unclosed '{'", 35),
        ('"block}"', "conv: the template 'block}' in 'name' has an unmatched '}'", 35),
        ('"b{j}"', "conv: 'name': undefined param 'j'", 32),
        (
            '"b{i / 2}"',
            "conv: 'name': the template part '{i / 2}' is the number 0; a name is made of "
            "integers and words",
            32,
        ),
    ],
)
def test_template_errors_point_into_the_text(name: str, message: str, col: int) -> None:
    exc = error(
        "  - repeat:\n"
        "      times: 1\n"
        "      splice: true\n"
        f"      layers: [conv: {{name: {name}, out: 4, kernel: 1}}]\n"
    )
    assert exc.message == message
    assert (exc.span.line, exc.span.col) == (7, col)
