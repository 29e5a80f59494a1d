"""The whitelisted expression evaluator: arithmetic yes, code no, numbers bounded."""

from __future__ import annotations

import pytest

from netspec.expressions import ExpressionProblem, evaluate


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("64 // ratio", 8),
        ("512 * 7 * 7 // ratio", 3136),
        ("2 ** 3", 8),
        ("-(3 - 5)", 2),
        ("max(1, ratio // 16)", 1),
        ("min(4, 9) % 3", 1),
        ("0.5 * 3", 1.5),
        ("  7  ", 7),
    ],
)
def test_arithmetic(text: str, value: float) -> None:
    assert evaluate(text, {"ratio": 8}) == value


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ("ratio.real", "'ratio.real' is not allowed in an expression", 0),
        ("__import__('os')", "only min(...) and max(...) may be called in an expression", 0),
        ("[1, 2]", "'[1, 2]' is not allowed in an expression", 0),
        ("'a' * 3", "only numbers are allowed, not 'a'", 0),
        ("True + 1", "only numbers are allowed, not True", 0),
        ("lambda: 1", "'lambda: 1' is not allowed in an expression", 0),
        ("1 if ratio else 2", "'1 if ratio else 2' is not allowed in an expression", 0),
        ("4 // (ratio - 8)", "division by zero", 0),
        ("9 ** 99", "exponent is too large (limit 64)", 0),
        ("10 ** 13", "number is too large (limit 1e+12)", 0),
        ("2 * widht", "undefined param 'widht'", 4),
        ("64 //", "invalid expression '64 //'", 0),
        ("x" * 300, "expression is too long (limit 200 chars)", 0),
    ],
)
def test_refused(text: str, message: str, offset: int) -> None:
    with pytest.raises(ExpressionProblem) as caught:
        evaluate(text, {"ratio": 8})
    assert (caught.value.message, caught.value.offset) == (message, offset)


def test_undefined_param_suggests() -> None:
    with pytest.raises(ExpressionProblem) as caught:
        evaluate("ratoi", {"ratio": 8})
    assert caught.value.hint == "did you mean 'ratio'?"
