"""Errors are data: stage, message, line and column, through the Python API."""

from __future__ import annotations

import pytest

import netspec
from netspec.errors import (
    ExpressionError,
    NetspecError,
    SchemaError,
    ShapeError,
    SourceError,
    UsageError,
)

HEAD = "name: t\ninput: [1, 28, 28]\n"


@pytest.mark.parametrize(
    ("body", "error_type", "message", "line", "col"),
    [
        (
            "layers:\n  - convv: {out: 3, kernel: 3}\n",
            SchemaError,
            "unknown layer kind 'convv'",
            4,
            5,
        ),
        (
            "layers:\n  - conv: {out: 3, kernel: 3, strid: 2}\n",
            SchemaError,
            "conv: unknown key 'strid'",
            4,
            31,
        ),
        (
            "layers:\n  - conv: {out: 3}\n",
            SchemaError,
            "conv: missing required field 'kernel'",
            4,
            5,
        ),
        (
            "layers:\n  - conv: {out: -3, kernel: 3}\n",
            SchemaError,
            "conv: 'out' must be at least 1, got -3",
            4,
            17,
        ),
        (
            "params: {w: 4}\nlayers:\n  - conv: {out: w // 0, kernel: 3}\n",
            SchemaError,
            "conv: 'out': division by zero",
            5,
            17,
        ),
        (
            "params: {w: 4}\nlayers:\n  - conv: {out: 'w.real', kernel: 3}\n",
            SchemaError,
            "conv: 'out': 'w.real' is not allowed in an expression",
            5,
            18,
        ),
        (
            "params: {w: 2 ** 50}\nlayers: [flatten]\n",
            ExpressionError,
            "params: 'w': number is too large (limit 1e+12)",
            3,
            13,
        ),
        (
            "layers:\n  - maxpool: {kernel: 40}\n",
            ShapeError,
            "maxpool: window 40x40 does not fit the input (1, 28, 28) from the input at line 2: "
            "the output would be 0x0",
            4,
            23,
        ),
        (
            "layers:\n  - gap\n  - flatten\n  - gap\n",
            ShapeError,
            "gap: needs a (C, H, W) input but gets the flat shape (1) from 'flatten' at line 5",
            6,
            5,
        ),
        (
            "layers:\n  - conv: {out: 4, kernel: 3, groups: 3}\n",
            ShapeError,
            "conv: groups=3 must divide both the input channels (1) and 'out' (4)",
            4,
            39,
        ),
    ],
)
def test_error_message_line_and_column(
    body: str, error_type: type[NetspecError], message: str, line: int, col: int
) -> None:
    with pytest.raises(error_type) as caught:
        netspec.load(HEAD + body)
    err = caught.value
    assert (err.message, err.line, err.col) == (message, line, col)


def test_all_schema_errors_of_a_sequence_are_reported_together() -> None:
    with pytest.raises(SchemaError) as caught:
        netspec.load(HEAD + "layers:\n  - conv: {out: 3}\n  - relux\n  - linear: {outt: 3}\n")
    assert [(d.span.line, d.message) for d in caught.value.diagnostics] == [
        (4, "conv: missing required field 'kernel'"),
        (5, "unknown layer kind 'relux'"),
        (6, "linear: unknown key 'outt'"),
    ]


def test_render_quotes_the_line_with_a_caret() -> None:
    with pytest.raises(SchemaError) as caught:
        netspec.load(HEAD + "layers:\n  - maxpoool: {kernel: 2}\n")
    assert caught.value.render() == (
        "<string>:4:5: error: unknown layer kind 'maxpoool'\n"
        "    4 |   - maxpoool: {kernel: 2}\n"
        "      |     ^~~~~~~~\n"
        "hint: did you mean 'maxpool'?"
    )


def test_unknown_override_is_usage_error_with_suggestion() -> None:
    with pytest.raises(UsageError) as caught:
        netspec.load(HEAD + "params: {ratio: 1}\nlayers: [flatten]\n", params={"ratoi": 2})
    assert caught.value.message == "unknown param 'ratoi' in --set"
    assert caught.value.first.hint == "did you mean 'ratio'?"


def test_missing_file_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceError) as caught:
        netspec.load(tmp_path / "nope.yaml")
    assert caught.value.message == f"spec file not found: {tmp_path / 'nope.yaml'}"
