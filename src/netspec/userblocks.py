"""User-defined blocks: a spec's ``blocks:`` and ``imports:``, as a per-compilation scope.

A spec author defines a parametrised block the way the seed's authors wrote ``vgg_block``
in Python, but in the spec::

    blocks:
      conv_bn:
        description: 3x3 convolution, batch norm, ReLU
        params:
          out: int              # a required integer
          stride: 1             # an integer with a default
          mid: {type: int, default: out // 4, min: 1}
        layers:
          - conv: {out: out, kernel: 3, padding: 1, stride: stride}
          - batchnorm
          - relu

and uses it like a built-in kind (``- conv_bn: {out: 64}``). The compiler expands the body
where it is used, with the block's own arguments (and ``in_channels``, ``in_height``,
``in_width`` of the block's input) as the only names in scope, so a block means the same in
every file that imports it. Blocks live in a table made for one compilation
(:class:`UserBlocks`), never in the global registry: two specs compiled in one process
cannot see each other's blocks, and a user block can never replace a built-in kind.

This module only loads and checks definitions (and the files they come from); the
compiler expands them (see ``_Compiler.expand``), in the scope :meth:`UserBlock.bind` makes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from . import blocks
from .errors import NetspecError, SchemaError, Span, did_you_mean
from .expressions import MAX_MAGNITUDE, Scope, Value
from .schema import (
    MAX_SIZE,
    FloatField,
    IntField,
    IntsField,
    LayerArgs,
    LayerList,
    Library,
    StrictBool,
    describe,
    is_identifier,
)
from .shapes import Shape
from .source import Document, Located, read_path
from .validation import validate, validate_value

if TYPE_CHECKING:
    from pydantic import TypeAdapter

#: The types a block param may declare.
PARAM_TYPES = ("int", "float", "bool", "ints")
#: Names a block binds itself: its module name and the shape of its input.
RESERVED = ("name", "in_channels", "in_height", "in_width")
#: Most files one compilation may import (a guard against runaway include trees).
MAX_IMPORTS = 64

_REQUIRED: Any = object()


class ParamSpec(BaseModel):
    """The long form of a param declaration: ``{type: int, default: 1, min: 1}``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "bool", "ints"] | None = Field(
        None, description="int, float, bool or ints (a list of integers)", examples=["int"]
    )
    default: Any = Field(
        None,
        description="value used when the block's user leaves the param out; may be an "
        "expression over earlier params and in_channels",
        examples=[1, "out // 4"],
    )
    min: float | None = Field(None, description="smallest accepted value", examples=[1])
    max: float | None = Field(None, description="largest accepted value", examples=[4096])
    description: str | None = Field(
        None, description="what the param means", examples=["output channels"]
    )


_PARAM_SCHEMA = {
    "description": "a type (int, float, bool, ints) for a required param, a default value "
    "(its type is the value's), or {type, default, min, max, description}",
    "examples": ["int", 1, {"type": "int", "default": "out // 4", "min": 1}],
    "anyOf": [
        {"type": "string", "enum": list(PARAM_TYPES)},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "integer"}},
        {"$ref": "#/$defs/ParamSpec"},
    ],
}


class BlockDef(BaseModel):
    """One entry of ``blocks:``: a named, parametrised list of layers."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(
        None, description="what the block does (shown by 'summary')", examples=["conv + bn"]
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the block's params: name -> type, default, or {type, default, ...}",
        examples=[{"out": "int", "stride": 1}],
        json_schema_extra={"additionalProperties": _PARAM_SCHEMA},
    )
    layers: LayerList = Field(
        min_length=1,
        description="the block's layers; one layer is the block itself, several run in order",
        examples=[["relu"]],
    )


class UserArgs(LayerArgs):
    """Base of the argument model made for each user block (params only by their names)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


@dataclass
class Param:
    """One declared param of a user block, with where it was declared."""

    name: str
    type: str
    #: The default as written, or ``REQUIRED``.
    default: Any
    minimum: float | None
    maximum: float | None
    description: str | None
    span: Span

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def annotation(self) -> Any:
        """The field type that validates this param's values (expressions included)."""
        lo, hi = self.minimum, self.maximum
        if self.type == "int":
            return IntField(
                int(lo) if lo is not None else 0, int(hi) if hi is not None else MAX_SIZE
            )
        if self.type == "float":
            return FloatField(
                lo if lo is not None else -MAX_MAGNITUDE, hi if hi is not None else MAX_MAGNITUDE
            )
        if self.type == "bool":
            return StrictBool
        return IntsField(int(lo) if lo is not None else 0, int(hi) if hi is not None else MAX_SIZE)

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """Validator of this param's values, built once (a block may be used many times).

        pydantic's TypeAdapter module is imported here, when a spec has a block param
        default to check, not by every ``netspec check``.
        """
        from pydantic import TypeAdapter

        return TypeAdapter(self.annotation())

    def check(self, value: Located, scope: Scope, owner: str) -> Value:
        """Validate one value (a default) against the declared type, located at the default."""
        lead = f"{owner}: default of param '{self.name}'"
        return validate_value(self.annotation(), self.adapter, value, scope, lead)  # type: ignore[no-any-return]


@dataclass
class UserBlock:
    """A block defined in a spec: its params, its layers, and where it is defined."""

    kind: str
    params: list[Param]
    layers: list[Located]
    description: str | None
    args: type[LayerArgs]
    #: The definition's name under ``blocks:``, where notes point.
    span: Span

    @property
    def example(self) -> str:
        """A use of the block, for messages: its required params with sample values."""
        samples = {"int": "64", "float": "0.5", "bool": "true", "ints": "[64, 64]"}
        required = [f"{p.name}: {samples[p.type]}" for p in self.params if p.required]
        return f"{self.kind}: {{{', '.join(required)}}}" if required else self.kind

    def bind(self, args: BaseModel, in_shape: Shape) -> Scope:
        """The scope of the body: the input's sizes, then each param (given or default)."""
        values: dict[str, Value] = {"in_channels": in_shape[0]}
        if len(in_shape) == 3:
            values["in_height"], values["in_width"] = in_shape[1], in_shape[2]
        for index, param in enumerate(self.params):
            value = getattr(args, f"p{index}")
            if value is None:
                value = param.check(param.default, Scope(values), f"block '{self.kind}'")
            values[param.name] = value
        return Scope(values)

    def note_for(self, message: str) -> tuple[str, Span]:
        """Where to send the reader of a use-site error: the param it names, or the block."""
        for param in self.params:
            if f"'{param.name}'" in message:
                return (f"'{param.name}' is declared here as {param.type}", param.span)
        return (f"block '{self.kind}' is defined here", self.span)

    def with_declarations(self, exc: SchemaError) -> SchemaError:
        """A use-site error with a note at what it is about: a param, or the block."""
        return SchemaError(
            diagnostics=[
                replace(d, notes=[*d.notes, self.note_for(d.message)]) for d in exc.diagnostics
            ]
        )


@dataclass
class UserBlocks:
    """The user blocks one compilation can use, from the spec and everything it imports."""

    blocks: dict[str, UserBlock] = field(default_factory=dict)

    def get(self, kind: str) -> UserBlock | None:
        return self.blocks.get(kind)


def with_note(exc: NetspecError, note: str, span: Span | None) -> NetspecError:
    """The same error with ``note`` appended to each diagnostic (a use site, an import)."""
    diagnostics = [replace(d, notes=[*d.notes, (note, span)]) for d in exc.diagnostics]
    return type(exc)(diagnostics=diagnostics)


def load_user_blocks(
    doc: Document, imports: list[str], definitions: dict[str, Located]
) -> UserBlocks:
    """Read every import (recursively, each file once) and every definition."""
    loader = _Loader()
    root = doc.path.resolve() if doc.path is not None else None
    loader.load(doc, imports, definitions, [(root, doc.source.name)])
    return loader.found


@dataclass
class _Loader:
    found: UserBlocks = field(default_factory=UserBlocks)
    loaded: set[Path] = field(default_factory=set)

    def load(
        self,
        doc: Document,
        imports: list[str],
        definitions: dict[str, Located],
        chain: list[tuple[Path | None, str]],
    ) -> None:
        for index, relative in enumerate(imports):
            self.load_import(doc, index, relative, chain)
        for name, node in definitions.items():
            self.define(name, node)

    def load_import(
        self, doc: Document, index: int, relative: str, chain: list[tuple[Path | None, str]]
    ) -> None:
        span = doc.root.at(("imports", index)).spanning(len(relative))
        if os.path.isabs(relative):
            raise SchemaError(
                f"imports: '{relative}' is an absolute path",
                span,
                "imports are relative to the importing file, so specs can move together",
                code="NS214",
            )
        if Path(relative).suffix.lower() not in (".yaml", ".yml", ".json"):
            raise SchemaError(
                f"imports: '{relative}' is not a .yaml, .yml or .json file", span, code="NS214"
            )
        base = doc.path.parent if doc.path is not None else Path()
        shown = Path(os.path.normpath(base / relative))
        target = shown.resolve()
        cycle = [name for path, name in chain if path == target]
        if cycle:
            names = [name for _, name in chain[[p for p, _ in chain].index(target) :]]
            raise SchemaError(
                "import cycle: " + " -> ".join([*names, str(shown)]),
                span,
                "move the blocks both files need into a third file that both import",
                code="NS215",
            )
        if target in self.loaded:
            return
        if not target.is_file():
            raise SchemaError(
                f"imported file not found: '{relative}'",
                span,
                f"imports are relative to the importing file; looked for {shown}",
                code="NS214",
            )
        if len(self.loaded) >= MAX_IMPORTS:
            raise SchemaError(
                f"too many imported files (the limit is {MAX_IMPORTS})", span, code="NS214"
            )
        self.loaded.add(target)
        try:
            child = read_path(shown)
            library = validate(Library, child.root, "imported file")
            assert isinstance(library, Library)
            self.load(child, library.imports, library.blocks, [*chain, (target, str(shown))])
        except NetspecError as exc:
            raise with_note(exc, f"imported from {doc.source.name} here", span) from None

    def define(self, name: str, node: Located) -> None:
        span = node.key_span()
        if not is_identifier(name):
            raise SchemaError(
                f"blocks: '{name}' is not a valid block name (letters, digits, _)",
                span,
                code="NS211",
            )
        if blocks.lookup(name) is not None:
            raise SchemaError(
                f"blocks: '{name}' is a built-in kind; a user block cannot replace it",
                span,
                f"give the block another name, e.g. 'my_{name}'",
                code="NS211",
            )
        if name in self.found.blocks:
            raise SchemaError(
                f"blocks: '{name}' is defined twice",
                span,
                notes=[("first defined here", self.found.blocks[name].span)],
                code="NS211",
            )
        if isinstance(node.value, list):  # 'name: [layers]': a block without params
            node = node.with_value({"layers": node})
        definition = validate(BlockDef, node, f"block '{name}'")
        assert isinstance(definition, BlockDef)
        params = [_param(name, pname, value) for pname, value in definition.params.items()]
        fields: dict[str, Any] = {}
        for index, param in enumerate(params):
            fields[f"p{index}"] = (
                param.annotation(),
                Field(
                    ... if param.required else None,
                    alias=param.name,
                    description=param.description or f"{param.type} param of block '{name}'",
                ),
            )
        args = create_model(  # type: ignore[call-overload]
            f"UserBlock_{name}", __base__=UserArgs, __doc__=definition.description, **fields
        )
        self.found.blocks[name] = UserBlock(
            name, params, definition.layers, definition.description, args, span
        )


def _param(block: str, name: str, node: Located) -> Param:
    """Read one param declaration (short or long form) and check a literal default."""
    owner = f"block '{block}'"
    if not is_identifier(name):
        raise SchemaError(
            f"{owner}: '{name}' is not a valid param name (letters, digits, _)",
            node.key_span(),
            code="NS212",
        )
    if name in RESERVED:
        raise SchemaError(
            f"{owner}: '{name}' is reserved and cannot be a param",
            node.key_span(),
            "'name' names the module; in_channels, in_height and in_width are the block's "
            "input sizes, always in scope",
            code="NS212",
        )
    param = _declaration(owner, name, node)
    if not param.required and not _has_expression(param.default.plain()):
        param.check(param.default, Scope(), owner)
    return param


def _declaration(owner: str, name: str, node: Located) -> Param:
    """A param as declared: a type (``int``), a default (``1``) or ``{type, default, ...}``."""
    raw = node.value
    if isinstance(raw, str):
        if raw not in PARAM_TYPES:
            raise SchemaError(
                f"{owner}: param '{name}' has type '{raw}', which is not a param type",
                node.spanning(len(raw)),
                did_you_mean(raw, PARAM_TYPES)
                or "write int, float, bool or ints; for an expression default write "
                f"'{name}: {{type: int, default: {raw}}}'",
                code="NS212",
            )
        return Param(name, raw, _REQUIRED, None, None, None, node.key_span())
    if isinstance(raw, dict):
        spec = validate(ParamSpec, node, f"{owner}: param '{name}'")
        assert isinstance(spec, ParamSpec)
        given = spec.default is not None and spec.default.value is not None
        if spec.type is None and not given:
            raise SchemaError(
                f"{owner}: param '{name}' needs a 'type' or a 'default'",
                node.key_span(),
                code="NS212",
            )
        kind = spec.type or _type_of_default(owner, name, spec.default)
        default = spec.default if given else _REQUIRED
        return Param(name, kind, default, spec.min, spec.max, spec.description, node.key_span())
    if raw is None:
        raise SchemaError(
            f"{owner}: param '{name}' needs a type or a default",
            node.key_span(),
            f"write '{name}: int' (required) or '{name}: 1' (default 1)",
            code="NS212",
        )
    kind = _type_of_default(owner, name, node)
    return Param(name, kind, node, None, None, None, node.key_span())


def _type_of_default(owner: str, name: str, default: Located) -> str:
    """The type a default implies (``1`` is an int); expressions need a stated type."""
    kind = _type_of(default.value)
    if kind is None:
        raise SchemaError(
            f"{owner}: the default of param '{name}' must be a number, true/false or a "
            f"list of integers, got {describe(default.plain())}",
            default.span,
            f"for an expression default write '{name}: {{type: int, default: ...}}'",
            code="NS212",
        )
    return kind


def _type_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "ints"
    return None


def _has_expression(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, str) for item in value)
    return isinstance(value, str)
