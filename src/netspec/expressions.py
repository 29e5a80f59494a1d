"""Stage 3 — evaluate parameter arithmetic such as ``64 // ratio`` without ``eval``.

Specs are data, so an expression is parsed with :mod:`ast` and walked by a tiny interpreter
that knows numbers, parameter names, ``+ - * / // % **``, unary minus and ``min``/``max``.
There is no attribute access, no subscripting, no calls except those two, and every
intermediate result is bounded, so a hostile spec cannot run code or exhaust memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Number = int | float

#: Largest magnitude any intermediate result may reach.
MAX_MAGNITUDE = 10**12
#: Longest expression text accepted.
MAX_EXPRESSION_CHARS = 200
#: Largest exponent accepted by ``**``.
MAX_EXPONENT = 64

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {"min": min, "max": max}


@dataclass
class ExpressionProblem(Exception):
    """What is wrong with an expression, and where inside its text (0-based offset)."""

    message: str
    offset: int = 0
    length: int = 1
    hint: str | None = None


def evaluate(text: str, params: Mapping[str, Number]) -> Number:
    """Evaluate ``text`` with ``params`` in scope; raise :class:`ExpressionProblem`."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionProblem(f"expression is too long (limit {MAX_EXPRESSION_CHARS} chars)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = max(0, (exc.offset or 1) - 1)
        raise ExpressionProblem(f"invalid expression '{text}'", offset) from None
    lead = len(text) - len(text.lstrip())
    return _Evaluator(params, lead).visit(tree.body)


class _Evaluator:
    def __init__(self, params: Mapping[str, Number], lead: int) -> None:
        self.params = params
        self.lead = lead

    def problem(self, node: ast.AST, message: str, hint: str | None = None) -> ExpressionProblem:
        start = getattr(node, "col_offset", 0) + self.lead
        end = getattr(node, "end_col_offset", None)
        length = max(1, (end + self.lead - start) if end is not None else 1)
        return ExpressionProblem(message, start, length, hint)

    def check(self, node: ast.AST, value: Number) -> Number:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.problem(node, "expression result is not a finite number")
        if abs(value) > MAX_MAGNITUDE:
            raise self.problem(node, f"number is too large (limit {MAX_MAGNITUDE:.0e})")
        return value

    def visit(self, node: ast.AST) -> Number:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.problem(node, f"only numbers are allowed, not {node.value!r}")
            return self.check(node, node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.params:
                from .errors import did_you_mean

                known = sorted(self.params)
                hint = did_you_mean(node.id, known) or (
                    f"defined params: {', '.join(known)}" if known else "the spec defines no params"
                )
                raise self.problem(node, f"undefined param '{node.id}'", hint)
            return self.params[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.visit(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left = self.visit(node.left)
            right = self.visit(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                raise self.problem(node, "division by zero")
            if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
                raise self.problem(node, f"exponent is too large (limit {MAX_EXPONENT})")
            if isinstance(node.op, ast.Pow) and left == 0 and right < 0:
                raise self.problem(node, "division by zero")
            try:
                result = _BINARY[type(node.op)](left, right)
            except (OverflowError, ZeroDivisionError, ValueError) as exc:
                raise self.problem(node, f"arithmetic error: {exc}") from None
            if isinstance(result, complex):
                raise self.problem(node, "result is not a real number")
            return self.check(node, result)
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in _FUNCTIONS or node.keywords or not node.args:
                raise self.problem(
                    node, "only min(...) and max(...) may be called in an expression"
                )
            return self.check(node, _FUNCTIONS[name](self.visit(a) for a in node.args))
        raise self.problem(
            node,
            f"'{ast.unparse(node)}' is not allowed in an expression",
            "expressions may use numbers, params, + - * / // % **, min() and max()",
        )


def parse_literal(text: str) -> Number:
    """Parse a command-line value such as ``8`` or ``0.5`` (an expression without params)."""
    return evaluate(text, {})
