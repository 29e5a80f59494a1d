"""The whitelisted expression evaluator: arithmetic yes, code no, numbers bounded."""

from __future__ import annotations

import pytest

from netspec.expressions import ExpressionProblem, evaluate

CALLABLE = "min, max, sum, len, int, round, ceil, floor, abs and make_divisible"


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
        # Version 2 of the language calls ten functions and has list literals (issue 9).
        ("__import__('os')", f"only {CALLABLE} may be called in an expression", 0),
        ("'a' * 3", "only numbers are allowed, not 'a'", 0),
        ("True + 1", "only numbers are allowed, not True", 0),
        ("lambda: 1", "'lambda: 1' is not allowed in an expression", 0),
        # A condition must be true or false: no truthiness (issue 9).
        (
            "1 if ratio else 2",
            "the condition of 'a if c else b' must be true or false; 'ratio' is the integer 8",
            5,
        ),
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


# --------------------------------------------------------------- version 2 (issue 9)

SCOPE = {
    "i": 0,
    "s": 2,
    "n": 4,
    "width": 1.0,
    "se": True,
    "block": "basic",
    "depths": (3, 4, 6, 3),
    "rows": ((3, 16, False, "relu"), (5, 40, True, "hardswish")),
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[1, 2]", (1, 2)),
        ("[[1, 2], [3]]", ((1, 2), (3,))),
        ("'basic'", "basic"),
        ('"x"', "x"),
        ("true", True),
        ("False", False),
        ("2 if i == 0 and s > 0 else 1", 2),
        ("2 if i > 0 else 1", 1),
        ("0 <= i < n", True),
        ("0 < i < n", False),
        ("i != 0 or se", True),
        ("not se", False),
        ("block == 'basic'", True),
        ("block != 'bottleneck'", True),
        ("3 in depths", True),
        ("5 not in depths", True),
        ("depths[-1]", 3),
        ("depths[1:3]", (4, 6)),
        ("depths[:s]", (3, 4)),
        ("rows[-1][3]", "hardswish"),
        ("rows[i][2]", False),
        ("sum(depths[:s]) + i", 7),
        ("len(depths)", 4),
        ("max(depths)", 6),
        ("min(4, 2, 9)", 2),
        ("int(7.9)", 7),
        ("int(-7.9)", -7),
        ("round(2.5)", 2),  # Python's round half to even, as torchvision computes
        ("round(3.5)", 4),
        ("ceil(2.1)", 3),
        ("floor(2.9)", 2),
        ("abs(-3)", 3),
        ("make_divisible(32 * width, 8)", 32),
        ("make_divisible(16 * 0.75, 8)", 16),  # never more than 10% below the value
        ("make_divisible(20, 8)", 24),
        ("make_divisible(3, 8, 16)", 16),
        ("1 == 1.0", True),
        ("[1, 2] == [1, 2]", True),
    ],
)
def test_version_2_values(text: str, value: object) -> None:
    assert evaluate(text, SCOPE) == value


def test_make_divisible_is_torchvisions() -> None:
    torchvision_utils = pytest.importorskip("torchvision.models._utils")
    for v in (3.0, 12.5, 16 * 0.75, 24 * 1.1, 40 * 1.4, 96 * 0.35, 1280 * 0.5, 5.0):
        for divisor in (4, 8, 16):
            expected = torchvision_utils._make_divisible(v, divisor)
            assert evaluate(f"make_divisible({v}, {divisor})", {}) == expected


def test_only_the_chosen_branch_is_evaluated() -> None:
    assert evaluate("depths[9] if i > 0 else 0", SCOPE) == 0
    assert evaluate("i > 0 and depths[9] > 0", SCOPE) is False
    assert evaluate("i == 0 or depths[9] > 0", SCOPE) is True
    assert evaluate("1 < i < depths[9]", SCOPE) is False


@pytest.mark.parametrize(
    ("text", "message", "offset", "length"),
    [
        (
            "n and se",
            "'and' needs true or false on both sides; 'n' is the integer 4",
            0,
            1,
        ),
        ("depths or se", "'or' needs true or false on both sides; 'depths' is a list", 0, 6),
        ("not block", "'not' needs true or false; 'block' is the string 'basic'", 4, 5),
        ("block < 3", "'<' compares numbers; 'block' is the string 'basic'", 0, 5),
        (
            "block == 1",
            "'==' compares values of one type; 'block' is the string 'basic' and '1' is the "
            "integer 1",
            9,
            1,
        ),
        (
            "se == 1",
            "'==' compares values of one type; 'se' is a boolean (true) and '1' is the integer 1",
            6,
            1,
        ),
        ("i in n", "'in' looks for an item in a list; 'n' is the integer 4", 5, 1),
        ("s is 2", "'s is 2' is not allowed in an expression", 0, 6),
        ("depths[4]", "index 4 is out of range: 'depths' has 4 items", 7, 1),
        ("rows[0][-5]", "index -5 is out of range: 'rows[0]' has 4 items", 8, 2),
        ("depths[0.5]", "an index must be an integer, got the number 0.5", 7, 3),
        ("depths[::2]", "a slice takes no step: write x[a:b]", 9, 1),
        ("n[0]", "'n' is the integer 4, not a list", 0, 1),
        ("block + 1", "'block' is the string 'basic', not a number", 0, 5),
        ("depths * 2", "'depths' is a list of integers, not a number", 0, 6),
        ("len(n)", "len() needs a list, but 'n' is the integer 4", 4, 1),
        ("sum(rows)", "sum() needs numbers, but 'rows' holds a list", 4, 4),
        (
            "max(n)",
            "max() of one value needs a list; give two or more numbers, or a list "
            "such as max(widths)",
            0,
            6,
        ),
        ("round(2.5, 1)", "round() takes 1 argument, got 2", 0, 13),
        ("make_divisible(8)", "make_divisible() takes 2 to 3 arguments, got 1", 0, 17),
        ("make_divisible(8, 0)", "make_divisible() needs a positive divisor", 18, 1),
        ("max(n, key=n)", f"only {CALLABLE} may be called in an expression", 0, 13),
        ("print(n)", f"only {CALLABLE} may be called in an expression", 0, 5),
        ("[[[1]]]", "lists nest at most 2 deep", 0, 7),
        ("[" + "1, " * 65 + "1]", "list is too long (limit 64 items)", 0, 198),
        ("'" + "x" * 65 + "'", "string is too long (limit 64 characters)", 0, 67),
        ("(1, 2)", "'(1, 2)' is not allowed in an expression", 0, 6),
        ("{1: 2}", "'{1: 2}' is not allowed in an expression", 0, 6),
        ("~n", "'~n' is not allowed in an expression", 0, 2),
        ("  n and 1", "'and' needs true or false on both sides; 'n' is the integer 4", 2, 1),
        ("'é' + n", "only numbers are allowed, not 'é'", 0, 3),
    ],
)
def test_version_2_errors_are_located(text: str, message: str, offset: int, length: int) -> None:
    with pytest.raises(ExpressionProblem) as caught:
        evaluate(text, SCOPE)
    problem = caught.value
    assert (problem.message, problem.offset, problem.length) == (message, offset, length)


def test_condition_hint_suggests_a_comparison() -> None:
    with pytest.raises(ExpressionProblem) as caught:
        evaluate("1 if n else 2", SCOPE)
    assert caught.value.hint == "compare it, e.g. n > 0"


def test_parsed_expressions_are_cached() -> None:
    from netspec.expressions import _parse

    _parse.cache_clear()
    for i in range(5):
        evaluate("2 * i + 1", {"i": i})
    assert _parse.cache_info().hits == 4


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", 8),
        ("2*4", 8),
        ("-0.5", -0.5),
        ("true", True),
        ("basic", "basic"),
        ("[3,4,23,3]", (3, 4, 23, 3)),
        ("3,4,23,3", (3, 4, 23, 3)),
        ("[[1,2],[3,relu]]", ((1, 2), (3, "relu"))),
    ],
)
def test_command_line_values(text: str, value: object) -> None:
    from netspec.expressions import parse_value

    assert parse_value(text) == value
