"""Stage 2 — the spec language as pydantic models, and the field types blocks are made of.

A spec is a mapping with ``name``, ``input`` (C, H, W of one sample, or (F,) for flat data),
optional ``params`` (named numbers, overridable from the command line), optional ``train``
(the recipe), optional ``imports`` and ``blocks`` (user-defined blocks, see
:mod:`netspec.userblocks`) and ``layers``. A layer is written ``- kind`` or
``- kind: {field: value}``; the kind picks the block's own pydantic model from the registry,
so validation reports one error per field of the chosen block, with a 'did you mean' for
misspelt keys.

Numeric fields accept expressions over params (``out: 64 // ratio``). Such a field's type
carries an :class:`Expression` marker; :mod:`netspec.validation` evaluates the expressions
it holds in an explicit scope before pydantic runs, so the validators here only ever see
values, and a constraint such as ``>= 1`` applies to the *value* of the expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

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


class Expression:
    """Marks a field whose strings are expressions over the scope, and what they stand for.

    ``number``: the whole value is one expression (``out: 64 // ratio``). ``numbers``: one
    expression for the whole value (a list param, ``c2: c``) or one per item of a written
    list (``kernel: [k, 2 * k]``). ``bool``: a name of a boolean param (``bias: use_bias``);
    a string that does not evaluate to true or false is left for the validator to refuse.
    ``words`` are strings that are values of the field, not expressions (``padding: same``).
    """

    __slots__ = ("holds", "words")

    def __init__(
        self, holds: Literal["number", "numbers", "bool"], words: tuple[str, ...] = ()
    ) -> None:
        self.holds = holds
        self.words = words


def _invalid(kind: str, template: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, template, context)


def _integer(minimum: int, maximum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            # 'fraction' lets the diagnostic advise '//' when the written text divides.
            raise _invalid(
                "netspec_int",
                "must be an integer, got {got}",
                got=describe(value),
                fraction=isinstance(value, float),
            )
        if value < minimum:
            raise _invalid(
                "too_small", "must be at least {minimum}, got {value}", minimum=minimum, value=value
            )
        if value > maximum:
            raise _invalid(
                "too_large", "must be at most {maximum}, got {value}", maximum=maximum, value=value
            )
        return value

    return check


def _number(minimum: float, maximum: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _invalid("netspec_number", "must be a number, got {got}", got=describe(value))
        if not minimum <= value <= maximum:
            raise _invalid(
                "netspec_range", f"must be between {minimum:g} and {maximum:g}, got {value:g}"
            )
        return float(value)

    return check


def _item(check: Callable[[Any], int], items: Any, index: int) -> int:
    """Check one item of a list value; a failure says which item (for its location)."""
    try:
        return check(items[index])
    except PydanticCustomError as exc:
        raise PydanticCustomError(
            exc.type, exc.message_template, {**(exc.context or {}), "item": index}
        ) from None


def _pair(minimum: int) -> Callable[[Any], tuple[int, int]]:
    single = _integer(minimum, MAX_SIZE)

    def check(value: Any) -> tuple[int, int]:
        # A block param of type 'ints' may stand for the whole pair ('kernel: ks').
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise _invalid(
                    "netspec_pair",
                    "must be one integer or a list of two [height, width], got {n} items",
                    n=len(value),
                )
            return (_item(single, value, 0), _item(single, value, 1))
        n = single(value)
        return (n, n)

    return check


def _padding(value: Any) -> tuple[int, int] | Literal["same"]:
    return "same" if value == "same" else _pair(0)(value)


def _ints(minimum: int, maximum: int) -> Callable[[Any], tuple[int, ...]]:
    single = _integer(minimum, maximum)

    def check(value: Any) -> tuple[int, ...]:
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LIST:
            raise _invalid(
                "ints_type",
                "must be a list of 1 to {limit} integers such as [96, 128], got {got}",
                limit=MAX_LIST,
                got=describe(value),
            )
        return tuple(_item(single, value, i) for i in range(len(value)))

    return check


def _strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid("netspec_bool", "must be true or false, got {got}", got=describe(value))
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
        Expression("number"),
        BeforeValidator(_integer(minimum, maximum)),
        WithJsonSchema(_int_schema(minimum, maximum)),
    ]


def FloatField(minimum: float, maximum: float) -> Any:
    """A real-valued field that also accepts an expression over params."""
    schema = {"anyOf": [{"type": "number", "minimum": minimum, "maximum": maximum}, _EXPR_SCHEMA]}
    return Annotated[
        float,
        Expression("number"),
        BeforeValidator(_number(minimum, maximum)),
        WithJsonSchema(schema),
    ]


def PairField(minimum: int = 1) -> Any:
    """A size given as one integer (square) or as [height, width]."""
    return Annotated[
        tuple[int, int],
        Expression("numbers"),
        BeforeValidator(_pair(minimum)),
        WithJsonSchema(_pair_schema(minimum)),
    ]


def _pair_schema(minimum: int) -> dict[str, Any]:
    one = _int_schema(minimum, MAX_SIZE)
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 2, "maxItems": 2}]}


def IntsField(minimum: int = 0, maximum: int = MAX_SIZE) -> Any:
    """A list of integers (a list-valued block param such as Inception's ``c2: [96, 128]``)."""
    schema = {
        "anyOf": [
            {"type": "array", "items": _int_schema(minimum, maximum), "minItems": 1},
            _EXPR_SCHEMA,
        ]
    }
    return Annotated[
        tuple[int, ...],
        Expression("numbers"),
        BeforeValidator(_ints(minimum, maximum)),
        WithJsonSchema(schema),
    ]


PositiveInt = IntField(1)
NonNegativeInt = IntField(0)
Size2 = PairField(1)
Padding2 = PairField(0)
#: Padding of a convolution: one integer, [height, width], or ``same``.
PaddingOrSame = Annotated[
    tuple[int, int] | Literal["same"],
    Expression("numbers", words=("same",)),
    BeforeValidator(_padding),
    WithJsonSchema({"anyOf": [*_pair_schema(0)["anyOf"], {"const": "same", "type": "string"}]}),
]
StrictBool = Annotated[
    bool,
    Expression("bool"),
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
    preprocess: dict[str, Any] | None = Field(
        None, description="how an image becomes the input (resize, crop, mean/std)"
    )
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


def is_identifier(text: str) -> bool:
    """Whether ``text`` can name a module or a param."""
    return bool(_IDENTIFIER.match(text))
