"""Stage 3 — evaluate parameter arithmetic such as ``64 // ratio`` without ``eval``.

Specs are data, so an expression is parsed with :mod:`ast` and walked by a tiny interpreter
that knows numbers, parameter names, ``+ - * / // % **``, unary minus and ``min``/``max``,
and ``name[i]`` to pick one integer of a list-valued block param (``c2[0]``). There is no
attribute access, no calls except those two, and every intermediate result is bounded, so a
hostile spec cannot run code or exhaust memory.

Arithmetic is on numbers only. A user block's params may also be booleans or lists of
integers; a bare name evaluates to such a value (so ``bias: use_bias`` passes a boolean
through), but using one in arithmetic is an error that says what the name holds.

The names an expression may use are a :class:`Scope`, handed explicitly from stage to
stage: the spec's params (after ``--set``) for the spec's layers; a user block's
arguments and ``in_channels``/``in_height``/``in_width`` for the block's layers.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Number = int | float
#: What a name in scope may stand for: a number, or (block params) a boolean or integer list.
Value = Number | bool | tuple[int, ...]

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
    #: The stable code of this kind of problem (NS3xx, listed in docs/errors.md).
    code: str = "NS300"


class Scope:
    """The names an expression may use, and their values.

    A scope is made once per set of names (a spec's params, one use of a user block) and
    never changes; :meth:`extended` makes a nested one that adds names (a loop index, say)
    and keeps the outer ones.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Value] | None = None) -> None:
        self._values: dict[str, Value] = dict(values or {})

    def __repr__(self) -> str:
        return f"Scope({self._values!r})"

    def evaluate(self, text: str) -> Value:
        """Evaluate ``text`` with these names; raise :class:`ExpressionProblem`."""
        return evaluate(text, self._values)

    def extended(self, values: Mapping[str, Value]) -> Scope:
        """A scope with ``values`` added to (or replacing) these names."""
        return Scope({**self._values, **values})

    def as_dict(self) -> dict[str, Value]:
        """The names and their values, in the order they were defined."""
        return dict(self._values)


#: The scope of a mapping that takes no expressions (a spec's header, its recipe).
NO_NAMES = Scope()


def evaluate(text: str, params: Mapping[str, Value]) -> Value:
    """Evaluate ``text`` with ``params`` in scope; raise :class:`ExpressionProblem`."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionProblem(
            f"expression is too long (limit {MAX_EXPRESSION_CHARS} chars)", code="NS305"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = max(0, (exc.offset or 1) - 1)
        raise ExpressionProblem(f"invalid expression '{text}'", offset, code="NS301") from None
    lead = len(text) - len(text.lstrip())
    return _Evaluator(params, lead).visit(tree.body)


class _Evaluator:
    def __init__(self, params: Mapping[str, Value], lead: int) -> None:
        self.params = params
        self.lead = lead

    def problem(
        self, node: ast.AST, message: str, hint: str | None = None, *, code: str
    ) -> ExpressionProblem:
        start = getattr(node, "col_offset", 0) + self.lead
        end = getattr(node, "end_col_offset", None)
        length = max(1, (end + self.lead - start) if end is not None else 1)
        return ExpressionProblem(message, start, length, hint, code)

    def check(self, node: ast.AST, value: Number) -> Number:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.problem(node, "expression result is not a finite number", code="NS305")
        if abs(value) > MAX_MAGNITUDE:
            raise self.problem(
                node, f"number is too large (limit {MAX_MAGNITUDE:.0e})", code="NS305"
            )
        return value

    def number(self, node: ast.AST) -> Number:
        """Evaluate ``node`` where arithmetic needs a number, naming what it is otherwise."""
        value = self.visit(node)
        if isinstance(value, bool):
            raise self.problem(
                node, f"'{ast.unparse(node)}' is true or false, not a number", code="NS306"
            )
        if isinstance(value, tuple):
            raise self.problem(
                node,
                f"'{ast.unparse(node)}' is a list of integers, not a number",
                f"pick one item, e.g. {ast.unparse(node)}[0]",
                code="NS306",
            )
        return value

    def visit(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.problem(
                    node, f"only numbers are allowed, not {node.value!r}", code="NS304"
                )
            return self.check(node, node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.params:
                from .errors import did_you_mean

                known = sorted(self.params)
                hint = did_you_mean(node.id, known) or (
                    f"defined params: {', '.join(known)}" if known else "the spec defines no params"
                )
                raise self.problem(node, f"undefined param '{node.id}'", hint, code="NS302")
            return self.params[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.number(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left = self.number(node.left)
            right = self.number(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                raise self.problem(node, "division by zero", code="NS303")
            if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
                raise self.problem(
                    node, f"exponent is too large (limit {MAX_EXPONENT})", code="NS305"
                )
            if isinstance(node.op, ast.Pow) and left == 0 and right < 0:
                raise self.problem(node, "division by zero", code="NS303")
            try:
                result = _BINARY[type(node.op)](left, right)
            except (OverflowError, ZeroDivisionError, ValueError) as exc:
                raise self.problem(node, f"arithmetic error: {exc}", code="NS305") from None
            if isinstance(result, complex):
                raise self.problem(node, "result is not a real number", code="NS305")
            return self.check(node, result)
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in _FUNCTIONS or node.keywords or not node.args:
                raise self.problem(
                    node, "only min(...) and max(...) may be called in an expression", code="NS304"
                )
            return self.check(node, _FUNCTIONS[name](self.number(a) for a in node.args))
        raise self.problem(
            node,
            f"'{ast.unparse(node)}' is not allowed in an expression",
            "expressions may use numbers, params, + - * / // % **, min() and max()",
            code="NS304",
        )

    def subscript(self, node: ast.Subscript) -> int:
        """``c2[0]``: one item of a list-valued param, with the index checked."""
        items = self.visit(node.value)
        if not isinstance(items, tuple):
            raise self.problem(
                node.value, f"'{ast.unparse(node.value)}' is not a list", code="NS306"
            )
        index = self.number(node.slice)
        if isinstance(index, float) or not -len(items) <= index < len(items):
            raise self.problem(
                node.slice,
                f"index {ast.unparse(node.slice)} is out of range: "
                f"'{ast.unparse(node.value)}' has {len(items)} items",
                code="NS306",
            )
        return items[int(index)]


def parse_literal(text: str) -> Number:
    """Parse a command-line value such as ``8`` or ``0.5`` (an expression without params)."""
    value = evaluate(text, {})
    assert not isinstance(value, tuple)
    return value
