"""Stage 3 — evaluate expressions such as ``64 // ratio`` or ``2 if i == 0 else 1``, never ``eval``.

Specs are data, so an expression is parsed with :mod:`ast` and walked by a small interpreter
that knows a whitelist and nothing else:

* values: numbers, strings (``'basic'``), ``true``/``false``, lists (``[3, 4]``), and the
  names in scope (params, loop indices, ``in_channels``...);
* arithmetic ``+ - * / // % **`` and unary ``-``/``+`` on numbers;
* comparisons ``== != < <= > >=`` (chains such as ``0 < i < n``), ``in``/``not in``;
* ``and``/``or``/``not`` on booleans only (no truthiness: ``3 and x`` is an error),
  short-circuit, and the conditional ``a if c else b``, which evaluates only the branch it
  chooses (so ``x[i] if i < n else 0`` is safe);
* subscripts ``x[i]``, ``x[i][j]`` (negative indices too) and slices ``x[a:b]``;
* the functions of :data:`FUNCTIONS`.

There is no attribute access, no other call, no string operation besides comparison, and
every intermediate result is bounded (magnitude, exponent, list length, nesting, string
length), so a hostile spec cannot run code or exhaust memory. A mistake is reported with
its offset and length inside the expression text, so the caret lands under the offending
part. Parsed expressions are cached: a family of networks evaluates the same few hundred
texts thousands of times.

The names an expression may use are a :class:`Scope`, handed explicitly from stage to
stage: the spec's params (after the variant and ``--set``) for the spec's layers; a user
block's arguments and ``in_channels``/``in_height``/``in_width`` for the block's layers.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Number = int | float
#: What a name in scope may stand for: a number, a boolean, a string, or a list (a tuple
#: of such values, nested at most :data:`MAX_NESTING` deep).
Value = Number | bool | str | tuple[Any, ...]

#: Largest magnitude any intermediate result may reach.
MAX_MAGNITUDE = 10**12
#: Longest expression text accepted.
MAX_EXPRESSION_CHARS = 200
#: Largest exponent accepted by ``**``.
MAX_EXPONENT = 64
#: Most items of a list value.
MAX_ITEMS = 64
#: Deepest nesting of lists (a table of rows is 2).
MAX_NESTING = 2
#: Longest string value.
MAX_STRING = 64

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_ORDER: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
}
_EQUALITY: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}
_LITERALS = {"true": True, "false": False}


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible`` (MobileNet, EfficientNet; MNASNet's
    ``_round_to_multiple_of`` is the same formula): round ``value`` to a multiple of
    ``divisor``, at least ``min_value``, never more than 10% below ``value``."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


#: The functions an expression may call, with the number of arguments each takes.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "min": (1, MAX_ITEMS),
    "max": (1, MAX_ITEMS),
    "sum": (1, 1),
    "len": (1, 1),
    "int": (1, 1),
    "round": (1, 1),
    "ceil": (1, 1),
    "floor": (1, 1),
    "abs": (1, 1),
    "make_divisible": (2, 3),
}
_CALLABLE = ", ".join(list(FUNCTIONS)[:-1]) + f" and {list(FUNCTIONS)[-1]}"
_ALLOWED = (
    "expressions may use numbers, 'strings', true/false, [lists], params, + - * / // % **, "
    "comparisons, and/or/not, 'a if c else b', x[i], x[a:b] and the functions " + _CALLABLE
)


@dataclass
class ExpressionProblem(Exception):
    """What is wrong with an expression, and where inside its text (0-based offset)."""

    message: str
    offset: int = 0
    length: int = 1
    hint: str | None = None
    #: The stable code of this kind of problem (NS3xx, listed in docs/errors.md).
    code: str = "NS300"
    #: The name that is not in scope, when that is the problem.
    undefined: str | None = None


def describe(value: Any) -> str:
    """Plain-English type of a value, for messages written for spec authors."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """A number in the language's sense: an int or a float, never a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def get(self, name: str) -> Value | None:
        """The value of ``name``, or None when it is not in scope."""
        return self._values.get(name)

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
    body, lead = _parse(text)
    return _Evaluator(params, lead, text).visit(body)


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> tuple[ast.expr, int]:
    """The syntax tree of ``text`` and the width of its leading blanks (cached per text).

    Callers only read the tree, so one parse serves every evaluation of the same text.
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionProblem(
            f"expression is too long (limit {MAX_EXPRESSION_CHARS} chars)", code="NS305"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = max(0, (exc.offset or 1) - 1)
        raise ExpressionProblem(f"invalid expression '{text}'", offset, code="NS301") from None
    return tree.body, len(text) - len(text.lstrip())


class _Evaluator:
    """Walks one parsed expression; each kind of node has a method in :data:`_VISITORS`."""

    def __init__(self, params: Mapping[str, Value], lead: int, text: str) -> None:
        self.params = params
        self.lead = lead
        self.text = text

    # ------------------------------------------------------------------ reporting

    def problem(
        self, node: ast.AST, message: str, hint: str | None = None, *, code: str
    ) -> ExpressionProblem:
        start = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None)
        if not self.text.isascii():  # ast counts UTF-8 bytes; the caret counts characters
            encoded = self.text.strip().encode()
            start = len(encoded[:start].decode(errors="ignore"))
            end = len(encoded[:end].decode(errors="ignore")) if end is not None else None
        length = max(1, end - start) if end is not None else 1
        return ExpressionProblem(message, start + self.lead, length, hint, code)

    def check(self, node: ast.AST, value: Number) -> Number:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.problem(node, "expression result is not a finite number", code="NS305")
        if abs(value) > MAX_MAGNITUDE:
            raise self.problem(
                node, f"number is too large (limit {MAX_MAGNITUDE:.0e})", code="NS305"
            )
        return value

    # ---------------------------------------------------------------- typed visits

    def visit(self, node: ast.AST) -> Value:
        visitor = _VISITORS.get(type(node))
        if visitor is None:
            raise self.problem(
                node,
                f"'{ast.unparse(node)}' is not allowed in an expression",
                _ALLOWED,
                code="NS304",
            )
        return getattr(self, visitor)(node)  # type: ignore[no-any-return]

    def number(self, node: ast.AST) -> Number:
        """Evaluate ``node`` where arithmetic needs a number, naming what it is otherwise."""
        value = self.visit(node)
        if is_number(value):
            return value  # type: ignore[return-value]
        source = ast.unparse(node)
        if _is_literal(node):
            raise self.problem(node, f"only numbers are allowed, not {source}", code="NS304")
        if isinstance(value, bool):
            raise self.problem(node, f"'{source}' is true or false, not a number", code="NS306")
        if isinstance(value, tuple):
            what = "a list of integers" if _all_ints(value) else "a list"
            raise self.problem(
                node,
                f"'{source}' is {what}, not a number",
                f"pick one item, e.g. {source}[0]",
                code="NS306",
            )
        raise self.problem(node, f"'{source}' is {describe(value)}, not a number", code="NS306")

    def integer(self, node: ast.AST, what: str) -> int:
        value = self.visit(node)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.problem(
                node, f"{what} must be an integer, got {describe(value)}", code="NS306"
            )
        return value

    def boolean(self, node: ast.AST, message: str) -> bool:
        """Evaluate a condition: true or false, never a number or a list read as one."""
        value = self.visit(node)
        if not isinstance(value, bool):
            source = ast.unparse(node)
            raise self.problem(
                node,
                f"{message}; '{source}' is {describe(value)}",
                f"compare it, e.g. {source} > 0" if is_number(value) else None,
                code="NS307",
            )
        return value

    def items(self, node: ast.AST, function: str) -> tuple[Any, ...]:
        value = self.visit(node)
        if not isinstance(value, tuple):
            raise self.problem(
                node,
                f"{function} needs a list, but '{ast.unparse(node)}' is {describe(value)}",
                code="NS308",
            )
        return value

    def numbers(self, node: ast.AST, items: tuple[Any, ...], function: str) -> list[Number]:
        for item in items:
            if not is_number(item):
                raise self.problem(
                    node,
                    f"{function} needs numbers, but '{ast.unparse(node)}' holds {describe(item)}",
                    code="NS308",
                )
        return list(items)

    # -------------------------------------------------------------- node visitors

    def constant(self, node: ast.Constant) -> Value:
        value = node.value
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return self.check(node, value)
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise self.problem(
                    node, f"string is too long (limit {MAX_STRING} characters)", code="NS305"
                )
            return value
        raise self.problem(node, f"only numbers are allowed, not {value!r}", code="NS304")

    def name(self, node: ast.Name) -> Value:
        if node.id in self.params:
            return self.params[node.id]
        if node.id in _LITERALS:
            return _LITERALS[node.id]
        from .errors import did_you_mean

        known = sorted(self.params)
        hint = did_you_mean(node.id, known) or (
            f"defined params: {', '.join(known)}" if known else "the spec defines no params"
        )
        problem = self.problem(node, f"undefined param '{node.id}'", hint, code="NS302")
        problem.undefined = node.id
        raise problem

    def listing(self, node: ast.List) -> tuple[Any, ...]:
        if len(node.elts) > MAX_ITEMS:
            raise self.problem(node, f"list is too long (limit {MAX_ITEMS} items)", code="NS305")
        value = tuple(self.visit(item) for item in node.elts)
        if _depth(value) > MAX_NESTING:
            raise self.problem(node, f"lists nest at most {MAX_NESTING} deep", code="NS305")
        return value

    def unary(self, node: ast.UnaryOp) -> Value:
        if isinstance(node.op, ast.Not):
            return not self.boolean(node.operand, "'not' needs true or false")
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.number(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        raise self.problem(
            node, f"'{ast.unparse(node)}' is not allowed in an expression", _ALLOWED, code="NS304"
        )

    def binary(self, node: ast.BinOp) -> Number:
        if type(node.op) not in _BINARY:
            raise self.problem(
                node,
                f"'{ast.unparse(node)}' is not allowed in an expression",
                _ALLOWED,
                code="NS304",
            )
        left = self.number(node.left)
        right = self.number(node.right)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise self.problem(node, "division by zero", code="NS303")
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise self.problem(node, f"exponent is too large (limit {MAX_EXPONENT})", code="NS305")
        if isinstance(node.op, ast.Pow) and left == 0 and right < 0:
            raise self.problem(node, "division by zero", code="NS303")
        try:
            result = _BINARY[type(node.op)](left, right)
        except (OverflowError, ZeroDivisionError, ValueError) as exc:
            raise self.problem(node, f"arithmetic error: {exc}", code="NS305") from None
        if isinstance(result, complex):
            raise self.problem(node, "result is not a real number", code="NS305")
        return self.check(node, result)

    def logic(self, node: ast.BoolOp) -> bool:
        word = "and" if isinstance(node.op, ast.And) else "or"
        for operand in node.values:
            value = self.boolean(operand, f"'{word}' needs true or false on both sides")
            if value is (word == "or"):
                return value  # short-circuit: 'false and ...', 'true or ...'
        return word == "and"

    def compare(self, node: ast.Compare) -> bool:
        if any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            raise self.problem(
                node,
                f"'{ast.unparse(node)}' is not allowed in an expression",
                "use == or !=",
                code="NS304",
            )
        left_node, left = node.left, self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if not self.compare_one(op, left_node, left, right_node, right):
                return False  # a chain stops at its first false link, as in Python
            left_node, left = right_node, right
        return True

    def compare_one(
        self, op: ast.cmpop, left_node: ast.AST, left: Value, right_node: ast.AST, right: Value
    ) -> bool:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, tuple):
                word = "in" if isinstance(op, ast.In) else "not in"
                raise self.problem(
                    right_node,
                    f"'{word}' looks for an item in a list; "
                    f"'{ast.unparse(right_node)}' is {describe(right)}",
                    code="NS306",
                )
            return (left in right) == isinstance(op, ast.In)
        if type(op) in _ORDER:
            symbol, test = _ORDER[type(op)]
            for side, value in ((left_node, left), (right_node, right)):
                if not is_number(value):
                    raise self.problem(
                        side,
                        f"'{symbol}' compares numbers; '{ast.unparse(side)}' is {describe(value)}",
                        code="NS306",
                    )
            return test(left, right)
        symbol, test = _EQUALITY[type(op)]
        if _family(left) != _family(right):
            raise self.problem(
                right_node,
                f"'{symbol}' compares values of one type; '{ast.unparse(left_node)}' is "
                f"{describe(left)} and '{ast.unparse(right_node)}' is {describe(right)}",
                code="NS306",
            )
        return test(left, right)

    def conditional(self, node: ast.IfExp) -> Value:
        test = self.boolean(node.test, "the condition of 'a if c else b' must be true or false")
        return self.visit(node.body if test else node.orelse)

    def subscript(self, node: ast.Subscript) -> Value:
        """``c2[0]``, ``rows[i][2]``, ``depths[:s]``: items of a list, with bounds checked."""
        items = self.visit(node.value)
        if not isinstance(items, tuple):
            raise self.problem(
                node.value,
                f"'{ast.unparse(node.value)}' is {describe(items)}, not a list",
                code="NS306",
            )
        if isinstance(node.slice, ast.Slice):
            return items[self.slice_bounds(node.slice)]
        index = self.integer(node.slice, "an index")
        if not -len(items) <= index < len(items):
            raise self.problem(
                node.slice,
                f"index {ast.unparse(node.slice)} is out of range: "
                f"'{ast.unparse(node.value)}' has {len(items)} items",
                code="NS306",
            )
        return items[index]  # type: ignore[no-any-return]

    def slice_bounds(self, part: ast.Slice) -> slice:
        if part.step is not None:
            raise self.problem(part.step, "a slice takes no step: write x[a:b]", code="NS304")
        lower = self.integer(part.lower, "a slice bound") if part.lower is not None else None
        upper = self.integer(part.upper, "a slice bound") if part.upper is not None else None
        return slice(lower, upper)

    def call(self, node: ast.Call) -> Number:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS or node.keywords:
            where = node.func if name is not None and not node.keywords else node
            raise self.problem(
                where, f"only {_CALLABLE} may be called in an expression", code="NS304"
            )
        least, most = FUNCTIONS[name]
        if not least <= len(node.args) <= most or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            count = f"{least}" if least == most else f"{least} to {most}"
            plural = "s" if most > 1 else ""
            raise self.problem(
                node, f"{name}() takes {count} argument{plural}, got {len(node.args)}", code="NS308"
            )
        return self.check(node, _CALLS[name](self, node))


def _call_extreme(ev: _Evaluator, node: ast.Call) -> Number:
    function = node.func.id  # type: ignore[attr-defined]
    pick = min if function == "min" else max
    if len(node.args) > 1:
        return pick(ev.number(arg) for arg in node.args)
    (arg,) = node.args
    value = ev.visit(arg)
    if not isinstance(value, tuple):
        raise ev.problem(
            node,
            f"{function}() of one value needs a list; give two or more numbers, or a list "
            f"such as {function}(widths)",
            code="NS308",
        )
    if not value:
        raise ev.problem(arg, f"{function}() of an empty list", code="NS308")
    return pick(ev.numbers(arg, value, f"{function}()"))


def _call_sum(ev: _Evaluator, node: ast.Call) -> Number:
    return sum(ev.numbers(node.args[0], ev.items(node.args[0], "sum()"), "sum()"))


def _call_len(ev: _Evaluator, node: ast.Call) -> Number:
    return len(ev.items(node.args[0], "len()"))


def _rounding(function: Callable[[Number], int]) -> Callable[[_Evaluator, ast.Call], Number]:
    def call(ev: _Evaluator, node: ast.Call) -> Number:
        return function(ev.number(node.args[0]))

    return call


def _call_abs(ev: _Evaluator, node: ast.Call) -> Number:
    return abs(ev.number(node.args[0]))


def _call_make_divisible(ev: _Evaluator, node: ast.Call) -> Number:
    value, divisor, *least = (ev.number(arg) for arg in node.args)
    if divisor <= 0:
        raise ev.problem(node.args[1], "make_divisible() needs a positive divisor", code="NS308")
    return make_divisible(value, divisor, least[0] if least else None)  # type: ignore[arg-type]


_CALLS: dict[str, Callable[[_Evaluator, ast.Call], Number]] = {
    "min": _call_extreme,
    "max": _call_extreme,
    "sum": _call_sum,
    "len": _call_len,
    "int": _rounding(int),
    "round": _rounding(round),  # one argument: Python's round-half-even, as torchvision
    "ceil": _rounding(math.ceil),
    "floor": _rounding(math.floor),
    "abs": _call_abs,
    "make_divisible": _call_make_divisible,
}

#: The method of :class:`_Evaluator` that evaluates each kind of node; any other is refused.
_VISITORS: dict[type[ast.AST], str] = {
    ast.Constant: "constant",
    ast.Name: "name",
    ast.List: "listing",
    ast.UnaryOp: "unary",
    ast.BinOp: "binary",
    ast.BoolOp: "logic",
    ast.Compare: "compare",
    ast.IfExp: "conditional",
    ast.Subscript: "subscript",
    ast.Call: "call",
}


def _is_literal(node: ast.AST) -> bool:
    """Whether ``node`` is a value written out (``'a'``, ``True``, ``[1, 2]``), not a name."""
    return isinstance(node, (ast.Constant, ast.List)) or (
        isinstance(node, ast.Name) and node.id in _LITERALS
    )


def _family(value: Value) -> str:
    """The type ``==`` compares within: numbers (int and float together), booleans..."""
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    return type(value).__name__


def _all_ints(items: tuple[Any, ...]) -> bool:
    return all(isinstance(item, int) and not isinstance(item, bool) for item in items)


def _depth(value: Any) -> int:
    """How deeply lists nest in ``value`` (0 for a scalar)."""
    if not isinstance(value, tuple):
        return 0
    return 1 + max((_depth(item) for item in value), default=0)


class _Literal(_Evaluator):
    """Reads a command-line value: like an expression without names, except that a bare
    word is a string (``--set block=basic``) and a top-level comma list is a list
    (``--set depths=3,4,23,3``)."""

    def name(self, node: ast.Name) -> Value:
        if node.id in _LITERALS:
            return _LITERALS[node.id]
        if len(node.id) > MAX_STRING:
            raise self.problem(
                node, f"string is too long (limit {MAX_STRING} characters)", code="NS305"
            )
        return node.id


def parse_value(text: str) -> Value:
    """A value written on the command line: a number (arithmetic allowed, as ``2*4``),
    ``true``/``false``, a word, or a list — ``[3,4,23,3]``, nested ``[[1,2],[3,4]]``, or
    commas without brackets ``3,4,23,3``. Raises :class:`ExpressionProblem`."""
    body, lead = _parse(text)
    reader = _Literal({}, lead, text)
    if isinstance(body, ast.Tuple):
        return reader.listing(ast.List(elts=body.elts, ctx=ast.Load(), col_offset=0))
    return reader.visit(body)
