"""Params: the named values a spec or a user block declares, and values given from outside.

A spec's ``params:`` and a block's ``params:`` are declared alike, in one of three forms::

    params:
      out: int                                  # a type: required
      stride: 1                                 # a default; its type is the default's
      block: {type: str, default: bottleneck, choices: [basic, bottleneck]}   # long form

with the types of :data:`PARAM_TYPES`. At the spec level a short-form string is an
expression over earlier params (``hidden: 4096 // ratio``) — as it always was — unless it
is a type name that is not an earlier param; the param's type is then its value's.

Values reach a spec's params from three places, applied in this order over the defaults:
the chosen variant (:mod:`netspec.variants`, located in the file), ``--set`` on the command
line (:class:`CommandLine`, read once the param's type is known) and ``params=`` of the
API. Each is checked against the param's type; a mistake on the command line is a
:class:`~netspec.errors.UsageError` that shows what to write instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import ExpressionError, SchemaError, Span, UsageError, did_you_mean
from .expressions import (
    MAX_MAGNITUDE,
    ExpressionProblem,
    Scope,
    Value,
    describe,
    evaluate,
    is_number,
    parse_value,
)
from .schema import (
    MAX_SIZE,
    FloatField,
    IntField,
    IntsField,
    ListField,
    SizeField,
    StrictBool,
    WordField,
    is_identifier,
)
from .source import Located
from .validation import ValueProblem, evaluate_at, validate, validate_plain, validate_value

if TYPE_CHECKING:
    from pydantic import TypeAdapter

#: The types a param may declare.
PARAM_TYPES = ("int", "float", "bool", "str", "size", "ints", "list")
ParamType = Literal["int", "float", "bool", "str", "size", "ints", "list"]
#: What a value of each type is, for messages ("'depths' is a list of integers").
TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a word",
    "size": "an integer or a pair [height, width]",
    "ints": "a list of integers",
    "list": "a list",
}
#: A value of each type, for examples in messages.
SAMPLES: dict[str, Value] = {
    "int": 64,
    "float": 0.5,
    "bool": True,
    "str": "relu",
    "size": 3,
    "ints": (64, 64),
    "list": (1, 2),
}

_REQUIRED: Any = object()


class ParamSpec(BaseModel):
    """The long form of a param declaration: ``{type: int, default: 1, min: 1}``."""

    model_config = ConfigDict(extra="forbid")

    type: ParamType | None = Field(
        None,
        description="int, float, bool, str (a word), size (an integer or [height, width]), "
        "ints (a list of integers) or list (numbers, booleans, words, or rows of them)",
        examples=["int"],
    )
    default: Any = Field(
        None,
        description="value used when the param is not given; may be an expression over "
        "earlier params (and in_channels in a block)",
        examples=[1, "out // 4"],
    )
    min: float | None = Field(None, description="smallest accepted value", examples=[1])
    max: float | None = Field(None, description="largest accepted value", examples=[4096])
    choices: list[str] | None = Field(
        None,
        description="the words a str param accepts",
        examples=[["basic", "bottleneck"]],
    )
    description: str | None = Field(
        None, description="what the param means", examples=["output channels"]
    )


#: The JSON Schema of one param declaration (the short forms and the long form).
PARAM_SCHEMA = {
    "description": "a type (int, float, bool, str, size, ints, list) for a required param, "
    "a default value (its type is the value's), or {type, default, min, max, choices, "
    "description}; in a spec's params a string is an expression over earlier params",
    "examples": ["int", 1, {"type": "str", "default": "relu", "choices": ["relu", "silu"]}],
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array"},
        {"$ref": "#/$defs/ParamSpec"},
    ],
}


@dataclass(frozen=True)
class CommandLine:
    """A ``--set`` value as typed; it is read once the param's type is known, so that
    ``--set block=basic`` is a word and ``--set depths=3,4,23,3`` a list."""

    text: str


@dataclass
class Param:
    """One declared param, with where it was declared."""

    name: str
    #: One of :data:`PARAM_TYPES`; None for a spec param whose default is an expression
    #: (its type is its value's).
    type: str | None
    #: The default as written, or ``REQUIRED``.
    default: Any
    minimum: float | None
    maximum: float | None
    description: str | None
    span: Span
    choices: tuple[str, ...] = ()
    #: A spec's param (numbers unbounded, as they always were) rather than a block's
    #: (integers are sizes: 0 to MAX_SIZE unless min/max say otherwise).
    spec_level: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    @cached_property
    def annotation(self) -> Any:
        """The field type that validates this param's values (expressions included)."""
        low, high = (-MAX_MAGNITUDE, MAX_MAGNITUDE) if self.spec_level else (0, MAX_SIZE)
        lo = int(self.minimum) if self.minimum is not None else low
        hi = int(self.maximum) if self.maximum is not None else high
        if self.type == "int":
            return IntField(lo, hi)
        if self.type == "float":
            return FloatField(
                self.minimum if self.minimum is not None else -MAX_MAGNITUDE,
                self.maximum if self.maximum is not None else MAX_MAGNITUDE,
            )
        if self.type == "bool":
            return StrictBool
        if self.type == "str":
            return WordField(self.choices)
        if self.type == "size":
            return SizeField(max(lo, 0), hi)
        if self.type == "list":
            return ListField
        return IntsField(lo, hi)

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """Validator of this param's values, built once (a block may be used many times).

        pydantic's TypeAdapter module is imported here, when a value needs checking, not
        by every ``netspec check``.
        """
        from pydantic import TypeAdapter

        return TypeAdapter(self.annotation)

    def check(self, value: Located, scope: Scope, owner: str) -> Value:
        """Validate one value (a default) against the declared type, located at the default."""
        lead = f"{owner}: default of param '{self.name}'"
        return validate_value(self.annotation, self.adapter, value, scope, lead)  # type: ignore[no-any-return]

    def accept(self, value: Any) -> Value:
        """Validate a plain value (a variant's, ``--set``'s); raise :class:`ValueProblem`.

        A value of another type says what the type is ("must be a list of integers"); a
        value of the right type that is out of range says why.
        """
        assert self.type is not None
        if not fits(self.type, value) and not self.choices:
            raise ValueProblem(f"must be {TYPE_WORDS[self.type]}, got {describe(value)}")
        return validate_plain(self.adapter, value)  # type: ignore[no-any-return]

    def suggest(self, value: Any) -> str | None:
        """'did you mean ...?' for a misspelt choice of a str param."""
        return did_you_mean(value, self.choices) if isinstance(value, str) else None

    def example(self, spaced: bool = False) -> str:
        """A value to show in a message: the default when it is a plain one, else a sample
        (``spaced`` as in a spec, else as on the command line)."""
        if self.default is not _REQUIRED and not has_expression(self.default.plain()):
            return format_value(as_value(self.default.plain()), spaced)
        if self.choices:
            return self.choices[0]
        return format_value(SAMPLES[self.type or "int"], spaced)


def fits(kind: str, value: Any) -> bool:
    """Whether ``value`` has the form of the param type ``kind``: a number for ``int``, a
    list for ``ints``... (its items and its range are the validator's to check)."""
    if kind in ("int", "float"):
        return is_number(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "size":
        return is_number(value) or isinstance(value, (list, tuple))
    return isinstance(value, (list, tuple))


def _integers(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        is_number(item) and float(item).is_integer() for item in value
    )


def type_of_value(value: Any) -> str:
    """The param type of a value (the type of a spec param whose default is an expression)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "ints" if _integers(value) and value else "list"


def format_value(value: Any, spaced: bool = False) -> str:
    """A value as one writes it on the command line (``[3,4,6,3]``, ``true``, ``basic``),
    or ``spaced`` as in a spec (``[3, 4, 6, 3]``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        items = (format_value(item, spaced) for item in value)
        return "[" + (", " if spaced else ",").join(items) + "]"
    return str(value)


def as_value(data: Any) -> Value:
    """Plain data (lists) as a value of the language (tuples)."""
    if isinstance(data, list):
        return tuple(as_value(item) for item in data)
    return data  # type: ignore[no-any-return]


def has_expression(value: Any) -> bool:
    if isinstance(value, list):
        return any(has_expression(item) for item in value)
    return isinstance(value, str)


# ------------------------------------------------------------------------ declarations


def read_param(
    lead: str, name: str, node: Located, known: Collection[str], *, spec_level: bool = False
) -> Param:
    """A param as declared: a type (``int``), a default (``1``) or ``{type, default, ...}``.

    ``lead`` starts messages ("block 'b': param 'out'", "params: 'out'"); ``known`` are the
    names declared before this one (a word naming one of them is an expression).
    """
    raw = node.value
    code = _declaration_code(spec_level)
    if isinstance(raw, dict):
        return _long_form(lead, name, node, known, spec_level)
    if isinstance(raw, str) and (not spec_level or (raw in PARAM_TYPES and raw not in known)):
        if raw not in PARAM_TYPES:
            raise SchemaError(
                f"{lead} has type '{raw}', which is not a param type",
                node.spanning(len(raw)),
                did_you_mean(raw, PARAM_TYPES)
                or f"write one of {', '.join(PARAM_TYPES)}; for an expression default write "
                f"'{name}: {{type: int, default: {raw}}}'",
                code=code,
            )
        return Param(name, raw, _REQUIRED, None, None, None, node.key_span(), (), spec_level)
    if raw is None:
        raise SchemaError(
            f"{lead} needs a type or a default",
            node.key_span(),
            f"write '{name}: int' (required) or '{name}: 1' (default 1)",
            code=code,
        )
    kind = _type_of_default(lead, name, node, known, spec_level)
    return Param(name, kind, node, None, None, None, node.key_span(), (), spec_level)


def _declaration_code(spec_level: bool) -> str:
    """NS210 for a spec's param, NS212 for a block's."""
    return "NS210" if spec_level else "NS212"


def _long_form(
    lead: str, name: str, node: Located, known: Collection[str], spec_level: bool
) -> Param:
    spec = validate(ParamSpec, node, lead)
    assert isinstance(spec, ParamSpec)
    given = spec.default is not None and spec.default.value is not None
    if spec.type is None and not given:
        raise SchemaError(
            f"{lead} needs a 'type' or a 'default'",
            node.key_span(),
            code=_declaration_code(spec_level),
        )
    kind = spec.type or _type_of_default(lead, name, spec.default, known, spec_level)
    if spec.choices is not None and kind != "str":
        raise SchemaError(
            f"{lead}: 'choices' are words, for a param of type str; this one is {kind}",
            node.key_span(("choices",)),
            code=_declaration_code(spec_level),
        )
    default = spec.default if given else _REQUIRED
    choices = tuple(spec.choices or ())
    return Param(
        name, kind, default, spec.min, spec.max, spec.description, node.key_span(), choices,
        spec_level,
    )  # fmt: skip


def _type_of_default(
    lead: str, name: str, default: Located, known: Collection[str], spec_level: bool
) -> str | None:
    """The type a default implies (``1`` is an int, ``[3, 4]`` ints, a table a list).

    A spec param's expression default has the type of its value (None until evaluated);
    a block's needs a stated type.
    """
    value = default.value
    if isinstance(value, str):
        if spec_level:
            return None
        raise SchemaError(
            f"{lead}: the default must be a number, true/false or a list, got "
            f"{describe(default.plain())}",
            default.span,
            f"for a word write '{name}: {{type: str, default: {value}}}'; for an expression "
            f"'{name}: {{type: int, default: ...}}'",
            code=_declaration_code(spec_level),
        )
    if isinstance(value, list):
        items = default.plain()
        words = [i for i in items if isinstance(i, str) and i.isidentifier() and i not in known]
        numeric = all(isinstance(i, str) or _integers([i]) for i in items)
        return "ints" if numeric and not words and items else "list"
    if isinstance(value, (bool, int, float)):
        return type_of_value(value)
    raise SchemaError(
        f"{lead}: the default must be a number, true/false or a list, got {describe(value)}",
        default.span,
        code=_declaration_code(spec_level),
    )


def read_params(declared: Mapping[str, Located]) -> list[Param]:
    """A spec's ``params:`` in declaration order (checked names, forms and types)."""
    params: list[Param] = []
    for name, node in declared.items():
        if not is_identifier(name):
            raise SchemaError(
                f"params: '{name}' is not a valid param name (letters, digits, _)",
                node.key_span(),
                code="NS210",
            )
        known = [p.name for p in params]
        params.append(read_param(f"params: '{name}'", name, node, known, spec_level=True))
    return params


# -------------------------------------------------------------------------- resolution


def resolve_params(
    params: list[Param],
    variants: Mapping[str, Mapping[str, Located]] | None = None,
    chosen: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Scope, list[Param]]:
    """The spec's params in order — default, then the ``chosen`` variant's value, then the
    override — and the params with their types settled (an expression default's type is
    its value's).

    Every variant's values are checked against the types (located in the file), not only
    the chosen one's, so that ``netspec check`` finds a mistake in any member of a family;
    ``overrides`` (``--set``, the API) are checked here too, as command-line misuse.
    """
    variants = variants or {}
    overrides = overrides or {}
    declared = [p.name for p in params]
    for name in overrides:
        if name not in declared:
            hint = did_you_mean(name, sorted(declared)) or (
                f"this spec's params: {', '.join(declared)}"
                if declared
                else "this spec declares no params"
            )
            raise UsageError(f"unknown param '{name}' in --set", hint=hint, code="NS901")
    picked = variants.get(chosen, {}) if chosen is not None else {}
    scope = Scope()
    settled: list[Param] = []
    for position, param in enumerate(params):
        unavailable = _unavailable(params, position)
        given = param.name in picked or param.name in overrides
        value = _default(param, scope, given, unavailable)
        if param.type is None and value is not None:
            param = replace(param, type=type_of_value(value))
        for variant, values in variants.items():
            if param.name in values:
                checked = _variant_value(param, variant, values[param.name])
                value = checked if variant == chosen else value
        if param.name in overrides:
            value = _override(param, overrides[param.name])
        if value is None:
            raise SchemaError(
                f"params: '{param.name}' has no default, so every network of this spec must "
                "give it",
                param.span,
                f"give it with --set {param.name}=VALUE, or in each variant",
                code="NS228",
            )
        scope = scope.extended({param.name: value})
        settled.append(param)
    return scope, settled


def _literal_of_its_type(param: Param) -> bool:
    """Whether a param's default is a plain value of its type with nothing to check
    (``ratio: 8``): the common case, which needs no validator."""
    plain = param.default.plain()
    constrained = param.minimum is not None or param.maximum is not None or param.choices
    return (
        not constrained
        and not has_expression(plain)
        and type_of_value(as_value(plain)) == param.type
    )


def _variant_value(param: Param, variant: str, node: Located) -> Value:
    """A variant's value for ``param``: a literal of the param's type, located if not."""
    value = as_value(node.plain())
    if param.type is None:  # the default failed and this replaces it: take it as it is
        return value
    try:
        return param.accept(value)
    except ValueProblem as problem:
        where = node.get(problem.item) if problem.item is not None else None
        raise SchemaError(
            f"variants: '{variant}': '{_item_name(param.name, problem)}' {problem.message}",
            (where or node).span,
            param.suggest(value),
            code=problem.code,
        ) from None


def _unavailable(params: list[Param], position: int) -> dict[str, str]:
    """Why the params from ``position`` on cannot be used in the default at ``position``."""
    name = params[position].name
    later = {
        p.name: f"'{p.name}' is defined later, at line {p.span.line}; a param can use only "
        "the params above it"
        for p in params[position + 1 :]
    }
    return {**later, name: f"'{name}' cannot be defined in terms of itself"}


def _default(
    param: Param, scope: Scope, given: bool, unavailable: Mapping[str, str] | None = None
) -> Value | None:
    """The value of a param's default in ``scope`` (None when it has none).

    A default that fails to evaluate is an error only when nothing replaces it.
    """
    if param.required:
        return None
    node: Located = param.default
    try:
        if param.type is None:  # a short-form expression: its value is the param's
            return evaluate_at(node, scope, f"params: '{param.name}'", unavailable)  # type: ignore[no-any-return]
        if _literal_of_its_type(param):
            return as_value(node.plain())
        return param.check(node, scope, "params")
    except (SchemaError, ExpressionError):
        if given:
            return None
        raise


def _item_name(name: str, problem: ValueProblem) -> str:
    """``depths[2]`` when one item of a list is to blame, else ``depths``."""
    return f"{name}[{problem.item}]" if problem.item is not None else name


def _override(param: Param, given: Any) -> Value:
    """A ``--set`` or API value for ``param``, checked against its type."""
    shown = given.text if isinstance(given, CommandLine) else format_value(given)
    value = _read(param, given) if isinstance(given, CommandLine) else as_value(given)
    if param.type is None:  # the default failed and was replaced: take the value as it is
        return value
    try:
        return param.accept(value)
    except ValueProblem as problem:
        example = f"{param.name}={param.example()}"
        quoted = f"'{example}'" if "[" in example else example
        if not fits(param.type, value) and not param.choices:
            message = f"'{param.name}' is {TYPE_WORDS[param.type]}, e.g. --set {quoted}"
        else:
            message = f"'{_item_name(param.name, problem)}' {problem.message}"
        raise UsageError(
            f"--set {param.name}={shown}: {message}", hint=param.suggest(value), code="NS903"
        ) from None


def _read(param: Param, given: CommandLine) -> Value:
    """The value of a ``--set`` text: arithmetic for numbers (as it always was), else a
    number, true/false, a word or a list."""
    text = given.text
    try:
        if param.type in ("int", "float"):
            return evaluate(text, {})
        return parse_value(text)
    except ExpressionProblem as problem:
        raise UsageError(
            f"--set {param.name}: value '{text}' is not "
            f"{'a number' if param.type in ('int', 'float') else 'a value'} ({problem.message})",
            code="NS902",
        ) from None
