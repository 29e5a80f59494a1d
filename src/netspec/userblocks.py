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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from . import blocks
from .errors import NetspecError, SchemaError, Span
from .expressions import Scope, Value
from .files import resolved
from .params import PARAM_SCHEMA, Param, has_expression, read_param
from .schema import LayerArgs, LayerList, Library, OutputName, is_identifier
from .shapes import Shape
from .source import Document, Located, read_path
from .validation import validate

#: Names a block binds itself: its module name and the shape of its input.
RESERVED = ("name", "in_channels", "in_height", "in_width", "from", "if", "functional")
#: Most files one compilation may import (a guard against runaway include trees).
MAX_IMPORTS = 64


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
        json_schema_extra={"additionalProperties": PARAM_SCHEMA},
    )
    layers: LayerList = Field(
        min_length=1,
        description="the block's layers; one layer is the block itself, several run in order",
        examples=[["relu"]],
    )
    output: OutputName = Field(
        None,
        description="the layer whose value is the block's output (default: the last)",
        examples=["relu"],
    )


class UserArgs(LayerArgs):
    """Base of the argument model made for each user block (params only by their names)."""

    # Built at once (not deferred like the kinds'): a block is defined because it is used.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=False, defer_build=False
    )


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
    #: ``output:`` of the definition (located), when the body's output is not its last layer.
    output: Located | None = None

    @property
    def example(self) -> str:
        """A use of the block, for messages: its required params with sample values."""
        required = [f"{p.name}: {p.example(spaced=True)}" for p in self.params if p.required]
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
    #: Every file imported (directly or through other imports), resolved, in load order.
    files: list[Path] = field(default_factory=list)

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
    root = doc.path.resolve() if doc.path is not None else None
    loader = _Loader(root.parent if root is not None else Path.cwd().resolve())
    loader.load(doc, imports, definitions, [(root, doc.source.name)])
    return loader.found


@dataclass
class _Loader:
    #: The folder of the spec being compiled (the working directory for spec text):
    #: every import must resolve, symbolic links followed, to a file inside it.
    folder: Path
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
        target = self.allowed(shown, relative, span)
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
        if target.is_dir():
            raise SchemaError(
                f"imports: '{relative}' is a directory, not a file", span, code="NS214"
            )
        if not target.exists():
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
        self.found.files.append(target)
        try:
            child = read_path(shown)
            library = validate(Library, child.root, "imported file")
            assert isinstance(library, Library)
            self.load(child, library.imports, library.blocks, [*chain, (target, str(shown))])
        except NetspecError as exc:
            raise with_note(exc, f"imported from {doc.source.name} here", span) from None

    def allowed(self, shown: Path, relative: str, span: Span) -> Path:
        """The file an import names, symbolic links resolved, if it is inside :attr:`folder`.

        A spec (and what it imports) travels as one folder; an import that leaves it — by
        ``..``, or by a link pointing elsewhere — would let a spec from someone else make
        netspec read, and quote in its errors, any file the user can read.
        """
        target = resolved(shown)
        if target is None:
            raise SchemaError(f"imports: '{relative}' is a symbolic link loop", span, code="NS214")
        if not target.is_relative_to(self.folder):
            raise SchemaError(
                f"imports: '{relative}' is outside the spec's folder",
                span,
                "imports must stay inside the folder of the spec being compiled (links "
                "followed), so that a spec cannot make netspec read other files; copy the "
                "file there",
                code="NS214",
            )
        return target

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
        params: list[Param] = []
        for pname, value in definition.params.items():
            params.append(_param(name, pname, value, [p.name for p in params]))
        fields: dict[str, Any] = {}
        for index, param in enumerate(params):
            fields[f"p{index}"] = (
                param.annotation,
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
            name, params, definition.layers, definition.description, args, span, definition.output
        )


def _param(block: str, name: str, node: Located, known: list[str]) -> Param:
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
            "'name' names the module; 'from', 'if' and 'functional' wire it; in_channels, "
            "in_height and in_width are the block's input sizes, always in scope",
            code="NS212",
        )
    param = read_param(f"{owner}: param '{name}'", name, node, known)
    if not param.required and not has_expression(param.default.plain()):
        param.check(param.default, Scope(), owner)
    return param
