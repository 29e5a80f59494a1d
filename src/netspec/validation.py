"""Validate located data with a pydantic model, expressions evaluated in an explicit scope.

This is the one path every mapping of a spec takes — the header, the recipe, a block
definition, a param declaration, every layer, written or made by a block:

1. **Expressions** (stage 3). A field whose type carries an
   :class:`~netspec.schema.Expression` marker takes arithmetic over the names of a
   :class:`~netspec.expressions.Scope` (``out: 64 // ratio``). :func:`validate` walks the
   located mapping along the model's field types and evaluates each such string where it
   is written, so a mistake is reported under the name it is about, with a caret under
   the offending part. A field typed ``Any`` (a list of layers, a block's params) receives
   the located nodes themselves, for the stage that reads them next.
2. **Schema** (stage 2). pydantic validates the plain values that result.
3. **Diagnostics.** Every problem becomes a :class:`~netspec.errors.Diagnostic` at the
   node it is about, in netspec's words, in the order of the model's fields.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import Diagnostic, ExpressionError, SchemaError, Span, did_you_mean
from .expressions import NO_NAMES, ExpressionProblem, Scope
from .schema import Expression, describe
from .source import Located, Step

if TYPE_CHECKING:
    from pydantic import TypeAdapter

Loc = tuple[Step, ...]
T = TypeVar("T")


class _Problem(NamedTuple):
    """An expression that failed, with the field it is in and where its text is."""

    loc: Loc
    span: Span
    problem: ExpressionProblem


def validate(
    model: type[BaseModel], node: Located, owner: str, scope: Scope = NO_NAMES
) -> BaseModel:
    """Validate the mapping at ``node``; raise :class:`SchemaError` with every problem.

    ``owner`` names the mapping in messages ("conv", "train"), so the user reads
    ``conv: 'out' must be ...``.
    """
    if isinstance(node.value, dict):
        _refuse_cut_values(node, owner)
    data, problems = _prepare_fields(model, node, scope)
    errors: list[Any] = []
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if not _explained(e, problems)]
    else:
        if not problems:
            return result
    ranks = _ranks(model)
    ranked = [(_rank(ranks, p.loc), _expression_diagnostic(owner, p)) for p in problems]
    ranked += _pydantic_diagnostics(errors, node, owner, model)
    ranked.sort(key=lambda pair: pair[0])
    raise SchemaError(diagnostics=[diagnostic for _, diagnostic in ranked])


def validate_value(
    annotation: Any, adapter: TypeAdapter[Any], node: Located, scope: Scope, lead: str
) -> Any:
    """Validate one value (a param's default) of type ``annotation``; report its first problem.

    ``adapter`` validates ``annotation`` (made once by the caller); ``lead`` starts the
    message ("block 'b': default of param 'out'").
    """
    problems: list[_Problem] = []
    value = _prepare(_plan(annotation), node, scope, (), problems)
    if problems:
        first = problems[0]
        problem = first.problem
        raise SchemaError(f"{lead}: {problem.message}", first.span, problem.hint, code=problem.code)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = _written(node, error)
        message = f"{lead} {_value_message(error, where)}"
        raise SchemaError(message, where.span, code=_value_code(error["type"])) from None


class ValueProblem(Exception):
    """What is wrong with a plain value, in netspec's words ("must be an integer, got ...");
    ``item`` is the index of the offending item of a list, if one is to blame; ``code`` is
    NS203 (the wrong type) or NS204 (out of range)."""

    def __init__(self, message: str, item: int | None = None, code: str = "NS203") -> None:
        super().__init__(message)
        self.message = message
        self.item = item
        self.code = code


def validate_plain(adapter: TypeAdapter[Any], value: Any) -> Any:
    """Validate a value written without expressions (a variant's, a ``--set`` one) with
    ``adapter``; raise :class:`ValueProblem` in netspec's words."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        item = (error.get("ctx") or {}).get("item")
        raise ValueProblem(_value_message(error, None), item, _value_code(error["type"])) from None


def evaluate_at(
    node: Located, scope: Scope, owner: str, unavailable: Mapping[str, str] | None = None
) -> Any:
    """The value of the number or expression written at ``node`` (a spec param's default,
    a size of the input); a bad expression is an :class:`ExpressionError` located in it.

    ``unavailable`` are names that exist but cannot be used here, each with the hint that
    says why (a param defined later): better than being told the name does not exist.
    """
    if not isinstance(node.value, str):
        return node.value
    try:
        return scope.evaluate(node.value)
    except ExpressionProblem as problem:
        span = expression_span(node.span, problem.offset, problem.length)
        hint = (unavailable or {}).get(problem.undefined or "", problem.hint)
        raise ExpressionError(
            f"{owner}: {problem.message}", span, hint, code=problem.code
        ) from None


def expression_span(span: Span, offset: int, length: int) -> Span:
    """The span of the part of an expression at ``span`` that a problem is about.

    ``offset`` counts from the start of the expression text, so a quoted value's opening
    quote is skipped to put the caret under the offending name.
    """
    quoted = span.source.line(span.line)[span.col - 1 : span.col] in ("'", '"')
    return Span(span.source, span.line, span.col + offset + int(quoted), length)


# ------------------------------------------------------------------- flow-style cuts


def _refuse_cut_values(node: Located, owner: str) -> None:
    """Report an expression that YAML cut at a comma inside ``{...}`` or ``[...]``.

    ``{out: make_divisible(32 * width, 8), kernel: 3}`` is valid YAML that means
    ``out: 'make_divisible(32 * width'`` and a key ``'8)'``: no YAML error, and the real
    mistake would show only as an unknown key. A plain value of a flow collection that
    leaves a bracket open right before a comma is that cut.
    """
    for key, child in node.value.items():
        if isinstance(child.value, str) and not node.flow:
            continue  # a block-style value runs to the end of its line, commas and all
        for field, value in _flow_values(key, child):
            opener = _unclosed(value.value)
            if opener is not None and _before_comma(value):
                raise SchemaError(
                    f"{owner}: '{field}' is cut short at a comma: '{value.value}' has an "
                    f"unclosed '{opener}'",
                    value.spanning(len(value.value)),
                    _cut_hint(value, key if value is child else None),
                    code="NS227",
                )


def _flow_values(key: str, node: Located) -> list[tuple[str, Located]]:
    """The plain strings at ``node`` and in the flow lists below it, with their field."""
    if isinstance(node.value, str):
        return [(key, node)]
    if isinstance(node.value, list) and node.flow:
        return [found for item in node.value for found in _flow_values(key, item)]
    return []


def _unclosed(text: str) -> str | None:
    """The first bracket ``(`` or ``[`` that ``text`` leaves open, if any."""
    if "(" not in text and "[" not in text:
        return None
    stack: list[str] = []
    for char in text:
        if char in "([":
            stack.append(char)
        elif char in ")]" and stack:
            stack.pop()
    return stack[0] if stack else None


def _before_comma(node: Located) -> bool:
    """Whether the value is written unquoted and YAML's comma follows it."""
    line = node.source.line(node.line)
    start = node.col - 1
    if line[start : start + 1] in ("'", '"'):
        return False
    return line[start + len(node.value) :].lstrip().startswith(",")


def _cut_hint(node: Located, key: str | None) -> str:
    """How to write the expression: quoted, as the line has it up to its closing bracket."""
    line = node.source.line(node.line)
    start, depth = node.col - 1, 0
    for end in range(start, len(line)):
        depth += (line[end] in "([") - (line[end] in ")]")
        if depth == 0 and line[end] in ")]":
            whole = f'"{line[start : end + 1]}"'
            break
    else:
        whole = "the whole expression"
    where = "{...}" if key is not None else "[...]"
    example = f"{key}: {whole}" if key is not None else whole
    return f"inside {where} YAML splits values at commas; quote the expression: {example}"


# ------------------------------------------------------------------------- expressions


def _prepare_fields(
    model: type[BaseModel], node: Located, scope: Scope
) -> tuple[Any, list[_Problem]]:
    """The data pydantic validates: expressions evaluated, located nodes where ``Any``."""
    if not isinstance(node.value, dict):
        return node.plain(), []
    plans = _plans_by_key(model)
    problems: list[_Problem] = []
    data: dict[str, Any] = {}
    for key, child in node.value.items():
        data[key] = _prepare(plans.get(key, _PLAIN), child, scope, (key,), problems)
    return data, problems


def _per_model(compute: Callable[[type[BaseModel]], T]) -> Callable[[type[BaseModel]], T]:
    """Cache ``compute`` per model class, without keeping the per-compilation models of
    user blocks alive."""
    cache: weakref.WeakKeyDictionary[type[BaseModel], T] = weakref.WeakKeyDictionary()

    def cached(model: type[BaseModel]) -> T:
        if model not in cache:
            cache[model] = compute(model)
        return cache[model]

    return cached


class _Plan(NamedTuple):
    """How one value is prepared for pydantic, read once from its field's type."""

    #: The value takes expressions of this kind.
    marker: Expression | None = None
    #: The value is typed ``Any``: pydantic gets the located node itself.
    located: bool = False
    #: ``list[X]``: each item is prepared by X's plan.
    items: _Plan | None = None
    #: ``dict[str, X]``: each value is prepared by X's plan.
    values: _Plan | None = None


#: A value that is handed to pydantic as plain data.
_PLAIN = _Plan()


def _plan(annotation: Any, metadata: Sequence[Any] = ()) -> _Plan:
    """The plan of a value of type ``annotation`` (with pydantic's field ``metadata``)."""
    marker, inner = _unwrap(annotation)
    marker = next((m for m in metadata if isinstance(m, Expression)), marker)
    if marker is not None:
        return _Plan(marker=marker)
    if inner is Any:
        return _Plan(located=True)
    origin, args = get_origin(inner), get_args(inner)
    if origin is list:
        return _Plan(items=_plan(args[0] if args else Any))
    if origin is dict:
        return _Plan(values=_plan(args[1] if args else Any))
    return _PLAIN


@_per_model
def _plans_by_key(model: type[BaseModel]) -> dict[str, _Plan]:
    """The plan of each key a mapping may use for a field: its alias, and its name where
    the model allows that."""
    by_name = bool(model.model_config.get("populate_by_name"))
    plans: dict[str, _Plan] = {}
    for name, info in model.model_fields.items():
        plans[info.alias or name] = plan = _plan(info.annotation, info.metadata)
        if by_name or info.alias is None:
            plans[name] = plan
    return plans


@_per_model
def _ranks(model: type[BaseModel]) -> dict[str, int]:
    """The position of each field, by every key it is reported under (alias and name)."""
    ranks: dict[str, int] = {}
    for position, (name, info) in enumerate(model.model_fields.items()):
        ranks[name] = ranks[info.alias or name] = position
    return ranks


def _rank(ranks: dict[str, int], loc: Loc) -> tuple[int, int]:
    """Sort key of a diagnostic: pydantic's order (its fields, then unknown keys), with an
    expression's problem among them at its field and item."""
    position = ranks.get(str(loc[0]), len(ranks)) if loc else len(ranks)
    item = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else -1
    return position, item


def _prepare(plan: _Plan, node: Located, scope: Scope, loc: Loc, out: list[_Problem]) -> Any:
    """One value for pydantic, prepared as its ``plan`` says (expressions evaluated)."""
    value = node.value
    if plan.located:
        return node
    if isinstance(value, list):
        if plan.marker is not None:
            return _evaluate(plan.marker, node, scope, loc, out)
        if plan.items is not None:
            return [_prepare(plan.items, v, scope, (*loc, i), out) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        if plan.values is not None:
            return {k: _prepare(plan.values, v, scope, (*loc, k), out) for k, v in value.items()}
    elif isinstance(value, str) and plan.marker is not None:
        return _evaluate(plan.marker, node, scope, loc, out)
    else:
        return value  # a number, a boolean or null: nothing to evaluate
    return node.plain()


def _unwrap(annotation: Any) -> tuple[Expression | None, Any]:
    """The expression marker of ``annotation`` (if any) and the type under it.

    ``Annotated`` layers are peeled and ``X | None`` is read as ``X``.
    """
    marker = None
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *metadata = get_args(annotation)
            marker = next((m for m in metadata if isinstance(m, Expression)), marker)
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return marker, annotation
            annotation = members[0]
        else:
            return marker, annotation


def _evaluate(
    marker: Expression, node: Located, scope: Scope, loc: Loc, out: list[_Problem]
) -> Any:
    """Evaluate the expressions of one marked string or list (see :class:`Expression`)."""
    value = node.value
    if marker.holds == "list":
        return _table(node, scope, loc, out)
    if isinstance(value, list):
        if marker.holds == "numbers":
            return [_one(item, scope, loc, out) for item in value]
        return node.plain()
    if marker.holds == "str":
        if not value.isidentifier():
            return _one(node, scope, loc, out)  # not a word: an expression (rows[i][4])
        named = scope.get(value)
        return named if isinstance(named, str) else value
    if marker.holds == "bool":
        if value.isidentifier() and value not in scope:
            return value  # a lone unknown word ('yes'): the validator says what is expected
        return _one(node, scope, loc, out)
    return value if value in marker.words else _one(node, scope, loc, out)


def _table(node: Located, scope: Scope, loc: Loc, out: list[_Problem], item: bool = False) -> Any:
    """A list value: one expression, or items that are expressions except bare words that
    are not names in scope (``relu`` in a table row is the word 'relu')."""
    value = node.value
    if isinstance(value, list):
        return [_table(child, scope, loc, out, item=True) for child in value]
    if item and isinstance(value, str) and value.isidentifier() and value not in scope:
        return value
    return _one(node, scope, loc, out)


def _one(node: Located, scope: Scope, loc: Loc, out: list[_Problem]) -> Any:
    if not isinstance(node.value, str):
        return node.plain()
    try:
        return scope.evaluate(node.value)
    except ExpressionProblem as problem:
        out.append(
            _Problem(loc, expression_span(node.span, problem.offset, problem.length), problem)
        )
        return node.value


def _expression_diagnostic(owner: str, p: _Problem) -> Diagnostic:
    field = ".".join(str(step) for step in p.loc)
    message = f"{owner}: '{field}': {p.problem.message}"
    return Diagnostic(message, p.span, p.problem.hint or None, code=p.problem.code)


def _explained(error: Any, problems: list[_Problem]) -> bool:
    """Whether a pydantic error is about a value whose expression already failed."""
    loc = tuple(error["loc"])
    return any(loc[: len(p.loc)] == p.loc for p in problems)


# ---------------------------------------------------------------------------- pydantic


def _pydantic_diagnostics(
    errors: list[Any], base: Located, owner: str, model: type[BaseModel]
) -> list[tuple[tuple[int, int], Diagnostic]]:
    """Each pydantic error as a located diagnostic written for spec authors."""
    ranked: list[tuple[tuple[int, int], Diagnostic]] = []
    # A misspelt key shows up twice: as an unknown key and as a missing field. Report it
    # once, as the unknown key with its 'did you mean', which is what the user must fix.
    fields = [info.alias or name for name, info in model.model_fields.items()]
    unknown = [str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden" and e["loc"]]
    explained = {did_you_mean(key, fields) for key in unknown}
    ranks = _ranks(model)
    for error in errors:
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "missing" and loc and f"did you mean '{loc[-1]}'?" in explained:
            continue
        field = ".".join(str(p) for p in loc) if loc else owner
        rank = _rank(ranks, loc)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            hint = did_you_mean(key, fields) or (
                f"{owner} accepts: {', '.join(fields)}" if fields else None
            )
            message = f"{owner}: unknown key '{key}'"
            diagnostic = Diagnostic(message, base.key_span(loc), hint, code="NS201")
        elif kind == "missing":
            message = f"{owner}: missing required field '{field}'"
            diagnostic = Diagnostic(message, base.key_span(), code="NS202")
        else:
            where = _written(base.at(loc), error)
            message = f"{owner}: '{field}' {_value_message(error, where)}"
            diagnostic = Diagnostic(message, where.span, code=_value_code(kind))
        ranked.append((rank, diagnostic))
    return ranked


#: pydantic's (and netspec's) error types for a value of the right type out of its range.
_OUT_OF_RANGE = frozenset(
    {
        "too_small",
        "too_large",
        "netspec_range",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "string_too_short",
        "string_too_long",
        "too_short",
        "too_long",
    }
)


def _value_code(kind: str) -> str:
    """The code of a value that does not fit: the error's own when a netspec validator named
    one as its type (``PydanticCustomError("NS232", ...)``), else NS204 for a value out of
    its range and NS203 for any other."""
    if len(kind) == 5 and kind.startswith("NS") and kind[2:].isdigit():
        return kind
    return "NS204" if kind in _OUT_OF_RANGE else "NS203"


def _written(node: Located, error: Any) -> Located:
    """The node an error is about: the list item a validator names, else ``node``."""
    item = (error.get("ctx") or {}).get("item")
    child = node.get(item) if isinstance(item, int) else None
    return child or node


def _value_message(error: Any, written: Located | None) -> str:
    """What is wrong with a value, in netspec's words ("must be an integer, got ...")."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = describe(error.get("input"))
    if kind in _PYDANTIC_PLAIN:
        return f"must be {_PYDANTIC_PLAIN[kind]}, got {got}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the allowed values')}, got {got}"
    message = error["msg"]
    if not kind.startswith("netspec_"):
        return message[:1].lower() + message[1:]
    text = written.value if written is not None else None
    if ctx.get("fraction") and isinstance(text, str) and "/" in text:
        # Only an expression can divide; a literal 1.5 needs no advice about '//'.
        message += " (use // for integer division)"
    return message


_PYDANTIC_PLAIN = {
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def first_problem(exc: ValidationError) -> str:
    """pydantic's first error about a file netspec reads (a checkpoint, run.json, artifact
    metadata), in netspec's words: ``'rng' is missing``, ``'epoch': input should be ...``."""
    error = exc.errors()[0]
    # pydantic names the member of a union it tried (``tuple[constrained-int, ...]``,
    # ``constrained-int``): a type, not a place in the file, so it is left out.
    parts = [str(p) for p in error["loc"] if not _is_union_member(p)]
    where = ".".join(parts) or "the file"
    if error["type"] == "missing":
        return f"'{where}' is missing"
    message = str(error["ctx"]["error"]) if error["type"] == "value_error" else str(error["msg"])
    return f"'{where}': {message[:1].lower()}{message[1:]}"


def _is_union_member(part: object) -> bool:
    """Whether a part of a pydantic error location names a union's member type."""
    return isinstance(part, str) and ("[" in part or part.startswith("constrained-"))
