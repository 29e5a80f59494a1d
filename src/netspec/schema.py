"""Stage 2 — the spec language as pydantic models, and pydantic errors as diagnostics.

A spec is a mapping with ``name``, ``input`` (C, H, W of one sample, or (F,) for flat data),
optional ``params`` (named numbers, overridable from the command line), optional ``train``
(the recipe), optional ``imports`` and ``blocks`` (user-defined blocks, see
:mod:`netspec.userblocks`) and ``layers``. A layer is written ``- kind`` or
``- kind: {field: value}``; the kind picks the block's own pydantic model from the registry,
so validation reports one error per field of the chosen block, with a 'did you mean' for
misspelt keys.

Numeric fields accept expressions over params (``out: 64 // ratio``); the field validators
evaluate them through :mod:`netspec.expressions` using the params in the validation context,
so a constraint such as ``>= 1`` applies to the *value* of the expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from .errors import Diagnostic, SchemaError, Span, did_you_mean
from .expressions import ExpressionProblem, evaluate
from .source import Document, PathKey

#: Upper bound of any size (channels, features, kernel): keeps hostile specs from
#: compiling into models that cannot be allocated.
MAX_SIZE = 1 << 20

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """Evaluate an expression string against the params in the validation context."""
    if not isinstance(value, str):
        return value
    params = (info.context or {}).get("params", {})
    try:
        return evaluate(value, params)
    except ExpressionProblem as problem:
        raise PydanticCustomError(
            "expression",
            "{message}",
            {
                "message": problem.message,
                "offset": problem.offset,
                "length": problem.length,
                "hint": problem.hint or "",
            },
        ) from None


def _integer(minimum: int, maximum: int) -> Callable[[Any, ValidationInfo], int]:
    def check(value: Any, info: ValidationInfo) -> int:
        written = value
        value = _resolve(value, info)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            # Only an expression can divide; a literal 1.5 needs no advice about '//'.
            divided = isinstance(written, str) and "/" in written and isinstance(value, float)
            hint = " (use // for integer division)" if divided else ""
            raise PydanticCustomError(
                "netspec_int", "must be an integer, got {got}" + hint, {"got": describe(value)}
            )
        if value < minimum:
            raise PydanticCustomError(
                "too_small",
                "must be at least {minimum}, got {value}",
                {"minimum": minimum, "value": value},
            )
        if value > maximum:
            raise PydanticCustomError(
                "too_large",
                "must be at most {maximum}, got {value}",
                {"maximum": maximum, "value": value},
            )
        return value

    return check


def _number(minimum: float, maximum: float) -> Callable[[Any, ValidationInfo], float]:
    def check(value: Any, info: ValidationInfo) -> float:
        value = _resolve(value, info)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PydanticCustomError(
                "netspec_number", "must be a number, got {got}", {"got": describe(value)}
            )
        if not minimum <= value <= maximum:
            raise PydanticCustomError(
                "netspec_range", f"must be between {minimum:g} and {maximum:g}, got {value:g}"
            )
        return float(value)

    return check


def _pair(minimum: int) -> Callable[[Any, ValidationInfo], tuple[int, int]]:
    single = _integer(minimum, MAX_SIZE)

    def check(value: Any, info: ValidationInfo) -> tuple[int, int]:
        # A block param of type 'ints' may stand for the whole pair ('kernel: ks').
        value = _resolve(value, info)
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise PydanticCustomError(
                    "netspec_pair",
                    "must be one integer or a list of two [height, width], got {n} items",
                    {"n": len(value)},
                )
            return (single(value[0], info), single(value[1], info))
        n = single(value, info)
        return (n, n)

    return check


def _ints(minimum: int, maximum: int) -> Callable[[Any, ValidationInfo], tuple[int, ...]]:
    single = _integer(minimum, maximum)

    def check(value: Any, info: ValidationInfo) -> tuple[int, ...]:
        value = _resolve(value, info)
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LIST:
            raise PydanticCustomError(
                "ints_type",
                "must be a list of 1 to {limit} integers such as [96, 128], got {got}",
                {"limit": MAX_LIST, "got": describe(value)},
            )
        return tuple(single(item, info) for item in value)

    return check


def _strict_bool(value: Any, info: ValidationInfo) -> bool:
    # Inside a user block, 'bias: use_bias' names a boolean param; anything else that is
    # not a boolean keeps the plain message (no 'undefined param' for 'yes' or 'on').
    params = (info.context or {}).get("params", {})
    if isinstance(value, str) and isinstance(params.get(value.strip()), bool):
        value = params[value.strip()]
    if not isinstance(value, bool):
        raise PydanticCustomError(
            "netspec_bool", "must be true or false, got {got}", {"got": describe(value)}
        )
    return value


_EXPR_SCHEMA = {"type": "string", "description": "arithmetic over params, e.g. '64 // ratio'"}
#: Longest list a list-valued block param may hold.
MAX_LIST = 64


def _int_schema(minimum: int, maximum: int) -> dict[str, Any]:
    return {"anyOf": [{"type": "integer", "minimum": minimum, "maximum": maximum}, _EXPR_SCHEMA]}


def IntField(minimum: int = 0, maximum: int = MAX_SIZE) -> Any:
    """An integer field that also accepts an expression over params."""
    return Annotated[
        int,
        BeforeValidator(_integer(minimum, maximum)),
        WithJsonSchema(_int_schema(minimum, maximum)),
    ]


def FloatField(minimum: float, maximum: float) -> Any:
    """A real-valued field that also accepts an expression over params."""
    schema = {"anyOf": [{"type": "number", "minimum": minimum, "maximum": maximum}, _EXPR_SCHEMA]}
    return Annotated[float, BeforeValidator(_number(minimum, maximum)), WithJsonSchema(schema)]


def PairField(minimum: int = 1) -> Any:
    """A size given as one integer (square) or as [height, width]."""
    one = _int_schema(minimum, MAX_SIZE)
    schema = {"anyOf": [one, {"type": "array", "items": one, "minItems": 2, "maxItems": 2}]}
    return Annotated[tuple[int, int], BeforeValidator(_pair(minimum)), WithJsonSchema(schema)]


def IntsField(minimum: int = 0, maximum: int = MAX_SIZE) -> Any:
    """A list of integers (a list-valued block param such as Inception's ``c2: [96, 128]``)."""
    schema = {
        "anyOf": [
            {"type": "array", "items": _int_schema(minimum, maximum), "minItems": 1},
            _EXPR_SCHEMA,
        ]
    }
    return Annotated[
        tuple[int, ...], BeforeValidator(_ints(minimum, maximum)), WithJsonSchema(schema)
    ]


PositiveInt = IntField(1)
NonNegativeInt = IntField(0)
Size2 = PairField(1)
Padding2 = PairField(0)
StrictBool = Annotated[
    bool,
    BeforeValidator(_strict_bool),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "description": "a boolean param of the enclosing block"},
            ]
        }
    ),
]
Probability = FloatField(0.0, 1.0)

#: Where the JSON Schema of the spec language keeps the definition of one layer.
LAYER_REF = "#/$defs/layer"
#: A list of layers (``layers:`` of a spec, a group, a block; one branch of a merge).
#: Validated layer by layer by the compiler; the JSON Schema points editors at the layer
#: definition so that nested layers complete like top-level ones.
LayerList = Annotated[list[Any], WithJsonSchema({"type": "array", "items": {"$ref": LAYER_REF}})]


def _module_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise PydanticCustomError(
            "netspec_name",
            "must be a Python identifier such as 'conv' or 'vgg_block_1', got {got}",
            {"got": describe(value)},
        )
    return value


ModuleName = Annotated[
    str | None,
    BeforeValidator(_module_name),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": _IDENTIFIER.pattern}, {"type": "null"}]}
    ),
]


class LayerArgs(BaseModel):
    """Fields shared by every block: an optional module name, and nothing unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: ModuleName = Field(
        None,
        description="attribute name of this module in its parent (default: its position)",
        examples=["features"],
    )


class SpecHeader(BaseModel):
    """The top-level keys of a spec, validated before its layers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="name of the network", min_length=1, max_length=200)
    description: str | None = Field(None, description="free text shown by 'summary'")
    input: list[Any] = Field(description="shape of one sample: [C, H, W] or [F]")
    params: dict[str, Any] = Field(default_factory=dict, description="named numbers")
    train: dict[str, Any] | None = Field(None, description="the training recipe")
    classes: list[str] | None = Field(None, description="class names, in label order")
    imports: list[str] = Field(
        default_factory=list,
        description="files whose blocks this spec uses, relative to this file",
        examples=[["lib/resnet_blocks.yaml"]],
    )
    blocks: dict[str, Any] = Field(
        default_factory=dict,
        description="user-defined blocks: name -> {params, layers}, used like built-in kinds",
    )
    layers: LayerList = Field(
        description="the network, first layer first",
        examples=[["flatten", {"linear": {"out": 10}}]],
    )


class Library(BaseModel):
    """The top-level keys of an imported file: block definitions only, no network."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(
        None, description="what these blocks are for", examples=["ResNet building blocks"]
    )
    imports: list[str] = Field(
        default_factory=list,
        description="files whose blocks these blocks use, relative to this file",
        examples=[["common.yaml"]],
    )
    blocks: dict[str, Any] = Field(
        default_factory=dict, description="user-defined blocks: name -> {params, layers}"
    )


def expression_span(span: Span, offset: int, length: int) -> Span:
    """The span of the part of an expression at ``span`` that a problem is about.

    ``offset`` counts from the start of the expression text, so a quoted value's opening
    quote is skipped to put the caret under the offending name.
    """
    quoted = span.source.line(span.line)[span.col - 1 : span.col] in ("'", '"')
    return Span(span.source, span.line, span.col + offset + int(quoted), length)


def pydantic_diagnostics(
    exc: ValidationError, doc: Document, base: PathKey, owner: str, model: type[BaseModel]
) -> list[Diagnostic]:
    """Turn each pydantic error into a located diagnostic written for spec authors.

    ``base`` is the document path of the validated mapping and ``owner`` names it in the
    message ("conv", "train"), so the user reads ``conv: 'out' must be ...``.
    """
    diagnostics: list[Diagnostic] = []
    errors = exc.errors(include_url=False)
    # A misspelt key shows up twice: as an unknown key and as a missing field. Report it
    # once, as the unknown key with its 'did you mean', which is what the user must fix.
    fields = [info.alias or name for name, info in model.model_fields.items()]
    unknown = [str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden" and e["loc"]]
    explained = {did_you_mean(key, fields) for key in unknown}
    for error in errors:
        if (
            error["type"] == "missing"
            and error["loc"]
            and (f"did you mean '{error['loc'][-1]}'?" in explained)
        ):
            continue
        loc = tuple(error["loc"])
        kind = error["type"]
        ctx = error.get("ctx") or {}
        field = ".".join(str(p) for p in loc) if loc else owner
        path = (*base, *loc)
        hint = None
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = [info.alias or name for name, info in model.model_fields.items()]
            hint = did_you_mean(key, allowed) or (
                f"{owner} accepts: {', '.join(allowed)}" if allowed else None
            )
            diagnostics.append(
                Diagnostic(f"{owner}: unknown key '{key}'", doc.key_span(path), hint)
            )
            continue
        if kind == "missing":
            diagnostics.append(
                Diagnostic(f"{owner}: missing required field '{field}'", doc.key_span(base))
            )
            continue
        if kind == "expression":
            span = expression_span(
                doc.span(path), int(ctx.get("offset", 0)), int(ctx.get("length", 1))
            )
            diagnostics.append(
                Diagnostic(f"{owner}: '{field}': {ctx['message']}", span, ctx.get("hint") or None)
            )
            continue
        message = error["msg"]
        got = describe(error.get("input"))
        if kind in _PYDANTIC_PLAIN:
            message = f"must be {_PYDANTIC_PLAIN[kind]}, got {got}"
        elif kind == "literal_error":
            message = f"must be {ctx.get('expected', 'one of the allowed values')}, got {got}"
        elif not kind.startswith("netspec_"):
            message = message[:1].lower() + message[1:]
        diagnostics.append(Diagnostic(f"{owner}: '{field}' {message}", doc.span(path)))
    return diagnostics


_PYDANTIC_PLAIN = {
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def validate_model(
    model: type[BaseModel],
    data: Any,
    doc: Document,
    base: PathKey,
    owner: str,
    params: dict[str, Any] | None = None,
) -> BaseModel:
    """Validate ``data`` with ``model``; raise :class:`SchemaError` with every problem."""
    try:
        return model.model_validate(data, context={"params": params or {}})
    except ValidationError as exc:
        raise SchemaError(diagnostics=pydantic_diagnostics(exc, doc, base, owner, model)) from None


def is_identifier(text: str) -> bool:
    """Whether ``text`` can name a module or a param."""
    return bool(_IDENTIFIER.match(text))
