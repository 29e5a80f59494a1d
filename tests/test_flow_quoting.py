"""YAML cuts unquoted expressions at commas inside {...} and [...]: netspec says so (issue 9)."""

from __future__ import annotations

import pytest

import netspec
from netspec.errors import SchemaError, SourceError
from netspec.source import read_text

HEAD = "name: t\ninput: [3, 8, 8]\nparams: {k: 3, w: 1.0}\nlayers:\n"


def test_source_records_flow_style() -> None:
    doc = read_text("a: {b: [1, 2]}\nc:\n  - 1\nd:\n  e: 1\n")
    a, c, d = (doc.root.get(key) for key in "acd")
    assert doc.root.flow is False
    assert (a.flow, a.get("b").flow, c.flow, d.flow) == (True, True, False, False)


def test_a_cut_in_a_flow_list_under_a_block_mapping() -> None:
    with pytest.raises(SchemaError) as caught:
        netspec.load(HEAD + "  - conv:\n      out: 3\n      kernel: [max(1, k), 3]\n")
    error = caught.value
    assert error.message == "conv: 'kernel' is cut short at a comma: 'max(1' has an unclosed '('"
    assert (error.line, error.col) == (7, 16)
    assert error.first.hint == (
        'inside [...] YAML splits values at commas; quote the expression: "max(1, k)"'
    )


def test_a_cut_in_a_block_argument() -> None:
    text = HEAD.replace(
        "layers:", "blocks:\n  b:\n    params: {out: int}\n    layers: [relu]\nlayers:"
    )
    with pytest.raises(SchemaError) as caught:
        netspec.load(text + "  - b: {out: make_divisible(8 * w, 8)}\n")
    assert caught.value.message.startswith("b: 'out' is cut short at a comma")


@pytest.mark.parametrize(
    "layer",
    [
        '  - conv: {out: "max(3, k)", kernel: 3}\n',  # quoted: nothing was cut
        "  - conv:\n      out: max(3, k)\n      kernel: 3\n",  # block style keeps commas
        "  - conv: {out: 'max(k, 3)', kernel: [1, 3]}\n",
    ],
)
def test_quoted_and_block_values_are_not_cuts(layer: str) -> None:
    assert netspec.load(HEAD + layer).root.children[0].out_shape[0] == 3


def test_a_collection_left_open_gets_no_quoting_hint() -> None:
    with pytest.raises(SourceError) as caught:
        netspec.load(HEAD + "  - conv: {out: 6, kernel: 5\n  - relu\n")
    assert caught.value.first.hint is None
