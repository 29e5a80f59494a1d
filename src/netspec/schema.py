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
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from .errors import CONTROL_CHARACTERS
from .expressions import MAX_NESTING, MAX_STRING, describe

#: Upper bound of any size (channels, features, kernel): keeps hostile specs from
#: compiling into models that cannot be allocated.
MAX_SIZE = 1 << 20

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Expression:
    """Marks a field whose strings are expressions over the scope, and what they stand for.

    ``number``: the whole value is one expression (``out: 64 // ratio``). ``numbers``: one
    expression for the whole value (a list param, ``c2: c``) or one per item of a written
    list (``kernel: [k, 2 * k]``). ``bool``: an expression that gives true or false
    (``bias: use_bias``, ``stride == 1``); a lone word that is not a name in scope is left
    for the validator to refuse. ``str``: a word taken literally (``act: silu``) unless it
    is exactly the name of a string param in scope (``act: act``); text that is not a word
    (letters, digits, ``_``) is an expression giving one (``act: rows[i][4]``). ``list``:
    one expression for the whole value (``rows: rows``), or a written list whose items are
    expressions, except bare words that are not names in scope, which are taken literally (a
    table row ``[3, 16, false, relu]``). ``words`` are strings that are values of the field, not
    expressions (``padding: same``).
    """

    __slots__ = ("holds", "words")

    def __init__(
        self,
        holds: Literal["number", "numbers", "bool", "str", "list"],
        words: tuple[str, ...] = (),
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


def _pair(minimum: int, maximum: int = MAX_SIZE) -> Callable[[Any], tuple[int, int]]:
    single = _integer(minimum, maximum)

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


def _padding(value: Any) -> tuple[int, int] | Literal["same", "auto"]:
    return value if value in ("same", "auto") else _pair(0)(value)


def _floats(value: Any) -> tuple[float, ...]:
    single = _number(-MAX_SIZE, MAX_SIZE)
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LIST:
        raise _invalid(
            "netspec_floats",
            "must be a list of 1 to {limit} numbers such as [0.5, 0.5, 0.5], got {got}",
            limit=MAX_LIST,
            got=describe(value),
        )
    return tuple(_item(single, value, i) for i in range(len(value)))  # type: ignore[arg-type]


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


#: A list of numbers, each may be an expression (``scale: [0.229 / 0.5, 0.224 / 0.5]``).
FloatsField = Annotated[
    tuple[float, ...],
    Expression("numbers"),
    BeforeValidator(_floats),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"anyOf": [{"type": "number"}, _EXPR_SCHEMA]}},
                _EXPR_SCHEMA,
            ]
        }
    ),
]


def _number_pair(value: Any) -> tuple[float, float]:
    single = _number(1e-6, MAX_SIZE)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise _invalid(
                "netspec_pair",
                "must be one number or a list of two [height, width], got {n} items",
                n=len(value),
            )
        return (_item(single, value, 0), _item(single, value, 1))  # type: ignore[arg-type]
    n = single(value)
    return (n, n)


#: A factor given as one number or as [height, width] (``upsample``'s ``scale``).
NumberPair = Annotated[
    tuple[float, float],
    Expression("numbers"),
    BeforeValidator(_number_pair),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                _EXPR_SCHEMA,
                {"type": "array", "items": {"anyOf": [{"type": "number"}, _EXPR_SCHEMA]}},
            ]
        }
    ),
]
PositiveInt = IntField(1)
NonNegativeInt = IntField(0)
Size2 = PairField(1)
Padding2 = PairField(0)
#: Padding of a convolution: one integer, [height, width], ``same`` (PyTorch's: the output
#: keeps the input's size, stride 1) or ``auto`` ((kernel - 1) // 2 * dilation per axis at
#: any stride, torchvision's Conv2dNormActivation default).
PaddingOrSame = Annotated[
    tuple[int, int] | Literal["same", "auto"],
    Expression("numbers", words=("same", "auto")),
    BeforeValidator(_padding),
    WithJsonSchema(
        {"anyOf": [*_pair_schema(0)["anyOf"], {"enum": ["same", "auto"], "type": "string"}]}
    ),
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


def _size(minimum: int, maximum: int) -> Callable[[Any], int | tuple[int, int]]:
    single = _integer(minimum, maximum)
    pair = _pair(minimum, maximum)

    def check(value: Any) -> int | tuple[int, int]:
        return pair(value) if isinstance(value, (list, tuple)) else single(value)

    return check


def SizeField(minimum: int = 0, maximum: int = MAX_SIZE) -> Any:
    """One integer or ``[height, width]``, kept as written (a ``size`` param such as a kernel
    that a block passes on to ``conv``'s ``kernel``)."""
    return Annotated[
        int | tuple[int, int],
        Expression("numbers"),
        BeforeValidator(_size(minimum, maximum)),
        WithJsonSchema(_pair_schema(minimum)),
    ]


def one_of(words: Sequence[str]) -> str:
    """``'a', 'b' or 'c'``: the words a value may be, for messages."""
    quoted = [f"'{word}'" for word in words]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def _word(choices: tuple[str, ...]) -> Callable[[Any], str]:
    expected = one_of(choices)

    def check(value: Any) -> str:
        if (not isinstance(value, str) or not value) and choices:
            raise _invalid("netspec_choice", "must be {expected}, got {got}", expected=expected,
                           got=describe(value))  # fmt: skip
        if not isinstance(value, str) or not value:
            raise _invalid("netspec_word", "must be a word, got {got}", got=describe(value))
        if len(value) > MAX_STRING:
            raise _invalid(
                "netspec_word", "must be at most {limit} characters long", limit=MAX_STRING
            )
        if choices and value not in choices:
            raise _invalid(
                "netspec_choice", "must be {expected}, got {got}", expected=expected,
                got=describe(value),
            )  # fmt: skip
        return value

    return check


def WordField(choices: tuple[str, ...] = ()) -> Any:
    """A word (``act: silu``), or the name of a string param that holds one (``act: act``);
    ``choices`` lists the words accepted (any word when empty)."""
    schema: dict[str, Any] = {"type": "string"}
    if choices:
        schema = {
            "anyOf": [
                {"type": "string", "enum": list(choices)},
                {"type": "string", "description": "a string param of the enclosing block"},
            ]
        }
    return Annotated[
        str, Expression("str"), BeforeValidator(_word(tuple(choices))), WithJsonSchema(schema)
    ]


def _table(value: Any, depth: int = 1) -> tuple[Any, ...]:
    """A list of numbers, booleans and words, or of such lists (a table), as tuples."""
    if not isinstance(value, (list, tuple)) or len(value) > MAX_LIST:
        raise _invalid(
            "netspec_list",
            "must be a list of at most {limit} numbers, booleans, words or lists, got {got}",
            limit=MAX_LIST,
            got=describe(value),
        )
    items = []
    for index, item in enumerate(value):
        if isinstance(item, (list, tuple)) and depth < MAX_NESTING:
            item = _table(item, depth + 1)
        elif isinstance(item, (list, tuple)) or not isinstance(item, (int, float, str)):
            raise _invalid(
                "netspec_list",
                "items must be numbers, booleans, words or (one level of) lists, got {got}",
                got=describe(item),
                item=index,
            )
        items.append(item)
    return tuple(items)


#: A list param: numbers, booleans, words, or rows of them (``rows: [[3, 16, relu], ...]``).
ListField = Annotated[
    tuple[Any, ...],
    Expression("list"),
    BeforeValidator(_table),
    WithJsonSchema({"anyOf": [{"type": "array", "maxItems": MAX_LIST}, _EXPR_SCHEMA]}),
]

#: Where the JSON Schema of the spec language keeps the definition of one layer.
LAYER_REF = "#/$defs/layer"
#: A list of layers (``layers:`` of a spec, a group, a block; one branch of a merge).
#: Validated layer by layer by the compiler; the JSON Schema points editors at the layer
#: definition so that nested layers complete like top-level ones.
LayerList = Annotated[list[Any], WithJsonSchema({"type": "array", "items": {"$ref": LAYER_REF}})]


#: Attributes of every container netspec builds (``nn.Sequential``'s, which include every
#: ``nn.Module``'s, instance attributes such as ``training`` too): ``add_module`` refuses
#: them as child names. A constant, so that the front end never imports torch;
#: ``tests/test_names.py`` checks it against ``dir(torch.nn.Sequential())``.
MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "_apply",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_buffers",
        "_call_impl",
        "_compiled_call_impl",
        "_forward_hooks",
        "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_get_backward_hooks",
        "_get_backward_pre_hooks",
        "_get_item_by_idx",
        "_get_name",
        "_is_full_backward_hook",
        "_load_from_state_dict",
        "_load_state_dict_post_hooks",
        "_load_state_dict_pre_hooks",
        "_maybe_warn_non_full_backward_hook",
        "_modules",
        "_named_members",
        "_non_persistent_buffers_set",
        "_parameters",
        "_register_load_state_dict_pre_hook",
        "_register_state_dict_hook",
        "_replicate_for_data_parallel",
        "_save_to_state_dict",
        "_slow_forward",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_version",
        "_wrapped_call_impl",
        "add_module",
        "append",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extend",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "insert",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "pop",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)
#: Names starting with this are the attributes of netspec's own container (``Dataflow``).
RESERVED_PREFIX = "_netspec"
#: Longest module name accepted.
MAX_NAME = 128
#: What ``from`` calls the input of a layer list; no layer may take it as its name.
LIST_INPUT = "input"
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]")


def name_problem(name: str) -> tuple[str, str | None] | None:
    """What is wrong with ``name`` as a module name (message, hint), or None if it is fine.

    A module name is anything PyTorch's ``add_module`` accepts (non-empty, no '.', not an
    attribute the container already has) that netspec can also refer to and print: no
    whitespace or control characters, not ``input``, not netspec's own prefix.
    """
    if not name:
        return "'name' must not be empty", None
    if "." in name:
        group = name.split(".", 1)[0] or "outer"
        return (
            f"'name' must not contain '.', got '{name}'",
            f"PyTorch joins nested module names with '.'; put the layer in a group named '{group}'",
        )
    if _SPACE.search(name):
        return (
            f"'name' must not contain spaces or control characters, got {name!r}",
            "use '_' or '-' between words, e.g. 'block1_0'",
        )
    if len(name) > MAX_NAME:
        return f"'name' must be at most {MAX_NAME} characters, got {len(name)}", None
    if name == LIST_INPUT:
        return (
            "'input' cannot be a name: it means the list's input in 'from'",
            "choose another name, e.g. 'input_conv'",
        )
    if name in MODULE_ATTRIBUTES or (name.startswith("__") and name.endswith("__")):
        return (
            f"'{name}' cannot be a name: every torch module has an attribute '{name}'",
            f"choose another name, e.g. '{name.strip('_')}_1'",
        )
    if name.startswith(RESERVED_PREFIX):
        return (
            f"'{name}' cannot be a name: names starting with '{RESERVED_PREFIX}' are netspec's own",
            None,
        )
    return None


def _module_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "netspec_name",
            "must be a name such as 'conv' or 'block1-0', got {got}",
            {"got": describe(value)},
        )
    problem = name_problem(value)
    if problem is not None:
        raise PydanticCustomError("netspec_name", problem[0].removeprefix("'name' "))
    return value


#: A module name: see :func:`name_problem`. The compiler expands templates
#: (``"denselayer{i + 1}"``) and checks the rule itself, with hints, before validation.
ModuleName = Annotated[
    str | None,
    BeforeValidator(_module_name),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[^.\s]{1,128}$"},
                {
                    "type": "string",
                    "pattern": r"\{",
                    "description": "a template: {expression} is replaced by its value, "
                    "e.g. 'denselayer{i + 1}' in a repeat",
                },
                {"type": "integer", "minimum": 0},
                {"type": "null"},
            ]
        }
    ),
]


#: Keys every layer takes besides its kind's fields, which the compiler reads itself
#: (they decide whether and where the layer runs, before its fields are validated).
WIRING_KEYS = ("from", "if")
#: The JSON Schema of ``from``: one name or position, or several (the merges).
READS_SCHEMA = {
    "description": "the layer's input(s): 'input' (the list's input) or the name of an "
    "earlier layer of the same list; several for add/concat/mul. Default: the previous layer",
    "examples": ["input", ["conv3", "downsample"]],
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "integer", "minimum": 0},
        {
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]},
        },
    ],
}
#: ``output:`` of a list's owner (a spec, a group, a block definition): the name of the
#: layer whose value the list gives (default: its last present layer). The compiler reads
#: it located, like the layers.
OutputName = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
            "description": "the layer whose value is the list's output (default: the last)",
        }
    ),
]
#: The JSON Schema of ``if``.
CONDITION_SCHEMA = {
    "description": "false: the layer is absent (no module); a layer that reads it reads its "
    "input instead. true/false or a boolean expression over params",
    "examples": [True, "stride != 1"],
    "anyOf": [{"type": "boolean"}, _EXPR_SCHEMA],
}


def _plain_text(value: Any) -> Any:
    """Text without terminal control characters (a spec's name is printed and made a file name)."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise _invalid(
            "netspec_text",
            "must not contain control characters, got {got}",
            got=describe(value),
        )
    return value


#: A string a spec may use as text that netspec prints: no control characters.
PlainText = Annotated[str, BeforeValidator(_plain_text)]


class LayerArgs(BaseModel):
    """Fields shared by every block: an optional module name, and nothing unknown.

    Every layer also takes ``from`` and ``if`` (:data:`WIRING_KEYS`); the compiler reads
    those before validating the rest, so they are not fields of the model.
    """

    # defer_build: a kind's validator is made when a spec first uses the kind, so that
    # `netspec check` does not pay for the forty-odd kinds a network does not use.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    name: ModuleName = Field(
        None,
        description="attribute name of this module in its parent (default: its position); "
        "other layers of the list read it by this name",
        examples=["features"],
    )
    functional: StrictBool | None = Field(
        None,
        description="true: no module; the layer runs as a function in the enclosing "
        "module's forward (layers without weights only)",
        examples=[True],
    )


class SpecHeader(BaseModel):
    """The top-level keys of a spec, validated before its layers."""

    model_config = ConfigDict(extra="forbid")

    name: PlainText = Field(description="name of the network", min_length=1, max_length=200)
    description: PlainText | None = Field(None, description="free text shown by 'summary'")
    input: list[Any] = Field(description="shape of one sample: [C, H, W] or [F]")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="named values the layers use: name -> default, type, or "
        "{type, default, min, max, choices, description}",
    )
    variants: dict[str, Any] = Field(
        default_factory=dict,
        description="a family in one file: variant name -> the param values it sets "
        "(chosen with --variant NAME)",
        examples=[{"resnet18": {"block": "basic", "depths": [2, 2, 2, 2]}, "resnet50": {}}],
    )
    weights: dict[str, Any] | None = Field(
        None, description="how 'build --weights' and 'eval --weights' read a weights file"
    )
    train: dict[str, Any] | None = Field(None, description="the training recipe")
    preprocess: dict[str, Any] | None = Field(
        None, description="how an image becomes the input (resize, crop, mean/std)"
    )
    classes: list[PlainText] | None = Field(None, description="class names, in label order")
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
    output: OutputName = Field(
        None,
        description="the layer whose value is the network's output (default: the last)",
        examples=["fc"],
    )


def _no_empty(field: str) -> Callable[[Any], Any]:
    """Refuse the empty text in ``rename`` (it is between every two characters) and
    ``ignore`` (every key starts with it)."""

    def check(value: Any) -> Any:
        if isinstance(value, (dict, list)) and "" in value:
            raise _invalid(
                "netspec_empty",
                "cannot hold the empty text: "
                + ("it is found between every two characters" if field == "rename" else
                   "every key starts with it"),
            )  # fmt: skip
        return value

    return check


class WeightsKeys(BaseModel):
    """How the keys of a weights file are read: renamed, then some dropped.

    torchvision's own files need this: DenseNet's use the pre-2018 names
    (``denselayer1.norm.1.weight`` for ``denselayer1.norm1.weight``), and GoogLeNet's and
    Inception-v3's hold auxiliary classifiers that a spec leaves out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rename: Annotated[dict[str, str], BeforeValidator(_no_empty("rename"))] = Field(
        default_factory=dict,
        description="plain text replacements applied to every key of the file, in order "
        "(no patterns)",
        examples=[{".norm.1.": ".norm1.", ".conv.1.": ".conv1."}],
    )
    ignore: Annotated[list[str], BeforeValidator(_no_empty("ignore"))] = Field(
        default_factory=list,
        description="keys of the file starting with one of these are dropped (before renaming)",
        examples=[["aux1.", "aux2."]],
    )

    def apply(self, keys: list[str]) -> dict[str, str]:
        """The file's keys to keep, each mapped to the name it loads as."""
        renamed: dict[str, str] = {}
        for key in keys:
            new = key
            for old, replacement in self.rename.items():
                new = new.replace(old, replacement)
            if not key.startswith(tuple(self.ignore)):
                renamed[key] = new
        return renamed


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
