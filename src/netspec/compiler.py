"""The front end: spec file → validated, shape-inferred :class:`CompiledSpec` (no torch).

This module only sequences the stages — source, schema and expressions
(:mod:`netspec.validation`), shapes — over the located nodes of a spec, and keeps the
bookkeeping that ties them together: the scope of names each layer is validated in, and
which layer produced the shape that reached the next one. Each kind's own rules live in
:mod:`netspec.blocks`, which this module imports explicitly; blocks that a spec defines
itself are loaded by :mod:`netspec.userblocks` and expanded here. The back end
(:mod:`netspec.build` and after) takes a :class:`CompiledSpec`; this module never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from . import blocks
from .errors import (
    Diagnostic,
    ExpressionError,
    NetspecError,
    SchemaError,
    ShapeError,
    Span,
    UsageError,
    did_you_mean,
)
from .expressions import ExpressionProblem, Number, Scope
from .ir import Inferred, Node, assign_receptive_fields
from .recipe import TrainRecipe
from .schema import SpecHeader, describe, is_identifier
from .shapes import Shape, format_shape, numel
from .source import Document, Located, Step, from_mapping, read_path, read_text
from .userblocks import UserBlock, UserBlocks, load_user_blocks, with_note
from .validation import expression_span, validate

#: Largest height/width accepted for an input sample.
MAX_INPUT_SIDE = 16384
#: Largest number of elements of any intermediate tensor of one sample.
MAX_ACTIVATION = 1 << 31
#: Most modules one network may have once every block is expanded: user blocks that use
#: each other several times grow exponentially, and a spec must not exhaust memory.
MAX_MODULES = 100_000


@dataclass
class CompiledSpec:
    """A spec that passed every front-end check: the node tree plus what the back end needs.

    It is plain data and never imports torch; :func:`netspec.load` returns it with a
    ``build`` method (:class:`netspec.spec.Spec`).
    """

    name: str
    input_shape: Shape
    params: dict[str, Number]
    train: TrainRecipe
    root: Node
    document: Document
    description: str | None = None
    classes: list[str] | None = None

    @property
    def source_text(self) -> str:
        """The spec file's text, embedded in artifacts so they say what they were built from."""
        return self.document.source.text

    @property
    def path(self) -> str | None:
        """The spec file's path, or None for specs given as text or a dict."""
        return str(self.document.path) if self.document.path else None

    @property
    def output_shape(self) -> Shape:
        return self.root.out_shape

    @property
    def total_params(self) -> int:
        return self.root.params

    @property
    def total_macs(self) -> int:
        return self.root.macs

    def rows(self) -> list[tuple[int, Node]]:
        """Every module below the root as (depth, node), in module-tree order."""
        return self.root.walk()


def read_spec(source: str | Path | dict[str, Any]) -> Document:
    """Read a spec given as a path, as YAML/JSON text, or as a dict.

    A ``str`` containing a newline or starting with ``{`` is taken as spec text; any other
    ``str`` is a path.
    """
    if isinstance(source, dict):
        return from_mapping(source)
    if isinstance(source, Path):
        return read_path(source)
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("{")):
        return read_text(source, name="<string>")
    if isinstance(source, str):
        return read_path(source)
    raise TypeError(f"compile_spec takes a path, spec text or dict, not {type(source).__name__}")


def compile_document(
    doc: Document,
    overrides: dict[str, Number] | None = None,
    *,
    input_shape: Shape | None = None,
) -> CompiledSpec:
    """Run the schema, expression and shape stages over a loaded document.

    ``overrides`` replace the spec's param defaults (as ``--set`` does). ``input_shape``
    replaces the spec's ``input`` (the shape stage asked at another image size: which
    sizes a network accepts, :mod:`netspec.spatial`).
    """
    root = doc.root
    header = validate(SpecHeader, root, "spec")
    assert isinstance(header, SpecHeader)
    params = _resolve_params(header.params, overrides or {})
    input_node = root.at(("input",))
    if input_shape is None:
        input_shape = _input_shape(header.input, input_node, params)
    recipe = validate(TrainRecipe, _section(root, "train"), "train")
    assert isinstance(recipe, TrainRecipe)
    if not header.layers:
        raise SchemaError(
            "spec: 'layers' is empty",
            root.at(("layers",)).span,
            hint="add at least one layer, e.g. '- linear: {out: 10}'",
            code="NS208",
        )
    compiler = _Compiler(params, load_user_blocks(doc, header.imports, header.blocks))
    producer = f"from the input at line {input_node.span.line}"
    children = compiler.sequence(header.layers, input_shape, "", producer)
    totals = Inferred.of(children)
    root_node = Node(
        kind="network",
        name=header.name,
        path="",
        args=None,
        in_shape=input_shape,
        out_shape=totals.out_shape,
        params=totals.params,
        macs=totals.macs,
        span=root.span,
        children=children,
    )
    start = ((1, 1), (1, 1)) if len(input_shape) == 3 else None
    root_node.rf = assign_receptive_fields(children, start)
    return CompiledSpec(
        name=header.name,
        input_shape=input_shape,
        params=params.as_dict(),  # type: ignore[arg-type]
        train=recipe,
        root=root_node,
        document=doc,
        description=header.description,
        classes=header.classes,
    )


def _section(root: Located, key: str) -> Located:
    """The mapping under ``key`` (an empty one, located at the document, when absent)."""
    node = root.get(key)
    if node is None or node.value is None:
        return root.with_value({})
    return node


def _resolve_params(declared: dict[str, Located], overrides: dict[str, Number]) -> Scope:
    """Evaluate params in order (a default may use earlier params); apply overrides."""
    for name in overrides:
        if name not in declared:
            hint = did_you_mean(name, sorted(declared)) or (
                f"this spec's params: {', '.join(declared)}"
                if declared
                else "this spec declares no params"
            )
            raise UsageError(f"unknown param '{name}' in --set", hint=hint, code="NS901")
    resolved = Scope()
    for name, node in declared.items():
        if not is_identifier(name):
            raise SchemaError(
                f"params: '{name}' is not a valid param name (letters, digits, _)",
                node.key_span(),
                code="NS210",
            )
        if name in overrides:
            resolved = resolved.extended({name: overrides[name]})
            continue
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise SchemaError(
                f"params: '{name}' must be a number or an expression, got {describe(value)}",
                node.span,
                code="NS210",
            )
        resolved = resolved.extended({name: _evaluate(node, resolved, f"params: '{name}'")})
    return resolved


def _evaluate(node: Located, scope: Scope, owner: str) -> Any:
    """The value of a number or expression written at ``node``."""
    if not isinstance(node.value, str):
        return node.value
    try:
        return scope.evaluate(node.value)
    except ExpressionProblem as problem:
        span = expression_span(node.span, problem.offset, problem.length)
        raise ExpressionError(
            f"{owner}: {problem.message}", span, problem.hint, code=problem.code
        ) from None


def _input_shape(items: list[Located], node: Located, params: Scope) -> Shape:
    if len(items) not in (1, 3):
        raise SchemaError(
            f"spec: 'input' must be [C, H, W] (an image) or [F] (flat features), "
            f"got {len(items)} number{'s' if len(items) != 1 else ''}",
            node.span,
            hint="Fashion-MNIST images are 'input: [1, 28, 28]'",
            code="NS209",
        )
    dims = []
    for i, item in enumerate(items):
        value = _evaluate(item, params, "spec: 'input'")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(
                f"spec: 'input' sizes must be integers, got {describe(value)}",
                item.span,
                code="NS209",
            )
        limit = MAX_INPUT_SIDE if i > 0 else 1 << 20
        if not 1 <= value <= limit:
            raise SchemaError(
                f"spec: 'input' sizes must be between 1 and {limit}, got {value}",
                item.span,
                code="NS204",
            )
        dims.append(value)
    return tuple(dims)


@dataclass
class _Validated:
    """One layer after the schema stage: its kind, block, arguments and where it is."""

    layer: Located
    kind: str
    block: blocks.Block | UserBlock
    args: Any
    #: Where the layer is reported: its kind as written.
    span: Span
    #: The layer's arguments as written (an empty mapping located at the layer if none).
    written: Located


class _LayerContext:
    """What a kind's shape rule may use (:class:`netspec.ir.ShapeContext`), for one layer."""

    def __init__(
        self, compiler: _Compiler, entry: _Validated, module_path: str, producer: str
    ) -> None:
        self.compiler = compiler
        self.kind = entry.kind
        self.span = entry.span
        self.module_path = module_path
        self.written = entry.written
        self.producer = producer

    def fail(
        self,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
        at: Span | None = None,
        notes: Sequence[tuple[str, Span | None]] = (),
        code: str | None = None,
    ) -> NoReturn:
        span = at or (self.where(field) if field is not None else self.span)
        raise ShapeError(f"{self.kind}: {message}", span, hint, notes=list(notes), code=code)

    def came_from(self) -> str:
        return self.producer

    def where(self, *path: Step) -> Span:
        return self.written.at(path).span

    def layer(self, kind: str, **args: Any) -> Located:
        return Located.borrow({kind: args} if args else kind, self.span)

    def sequence(
        self, layers: Sequence[Located], in_shape: Shape, *, prefix: str = "", names: str = ""
    ) -> list[Node]:
        base = f"{self.module_path}.{prefix}"
        return self.compiler.sequence(layers, in_shape, base, self.producer, names)

    def child(self, name: str, layer: Located, in_shape: Shape) -> Node:
        path = f"{self.module_path}.{name}"
        return self.compiler.one(layer, in_shape, path, name, self.producer)


class _Compiler:
    """Compiles layers in one scope of names.

    The spec's own layers compile with its params; each use of a user block compiles the
    block's layers with a new ``_Compiler`` whose scope is the block's arguments.
    """

    def __init__(
        self,
        scope: Scope,
        user_blocks: UserBlocks,
        stack: tuple[str, ...] = (),
        modules: list[int] | None = None,
    ) -> None:
        self.scope = scope
        self.user_blocks = user_blocks
        #: The user blocks being expanded around these layers, outermost first.
        self.stack = stack
        #: Modules made so far in this compilation, shared by nested compilers.
        self.modules = modules if modules is not None else [0]

    def lookup(self, kind: str) -> blocks.Block | UserBlock | None:
        """A built-in kind, else a user block of this compilation."""
        return blocks.lookup(kind) or self.user_blocks.get(kind)

    def validate(self, layer: Located) -> _Validated:
        """Schema stage for one layer: find its kind, validate its fields.

        A layer that a block made (a borrowed node) takes the same path as a written one.
        """
        kind, written, span = self._kind_of(layer)
        block = self.lookup(kind)
        if block is None:
            users = sorted(self.user_blocks.blocks)
            known = sorted(blocks.all_blocks())
            hint = did_you_mean(kind, known + users) or (
                "known kinds: "
                + ", ".join(known)
                + (f"; blocks of this spec: {', '.join(users)}" if users else "")
            )
            raise SchemaError(f"unknown layer kind '{kind}'", span, hint, code="NS205")
        if not isinstance(written.value, dict):
            written = self._shorthand(kind, block, written)
        owner = f"{kind} (expanded from the block at this line)" if layer.borrowed else kind
        try:
            args = validate(block.args, written, owner, self.scope)
        except SchemaError as exc:
            if isinstance(block, UserBlock):
                raise block.with_declarations(exc) from None
            raise
        return _Validated(layer, kind, block, args, span, written)

    @staticmethod
    def _kind_of(layer: Located) -> tuple[str, Located, Span]:
        """A layer's kind, its written arguments and the span it is reported at."""
        raw = layer.value
        if isinstance(raw, str):
            span = layer.span if layer.borrowed else layer.spanning(len(raw))
            return raw, layer.with_value({}), span
        if isinstance(raw, dict) and len(raw) == 1:
            kind, written = next(iter(raw.items()))
            if written.value is None:
                written = written.with_value({})
            return kind, written, layer.span if layer.borrowed else layer.key_span((kind,))
        if isinstance(raw, dict):
            keys = ", ".join(f"'{k}'" for k in raw)
            hint = None
            if "name" in raw:
                hint = "put 'name' inside the block's mapping, e.g. '- conv: {name: stem, out: 64}'"
            raise SchemaError(
                f"a layer is a mapping with exactly one key, its kind; this one has {keys}"
                if raw
                else "a layer cannot be an empty mapping",
                layer.span,
                hint or "write '- kind: {field: value, ...}' or just '- kind'",
                code="NS206",
            )
        raise SchemaError(
            f"a layer must be a kind such as 'relu' or a mapping such as "
            f"'conv: {{out: 64}}', not {describe(layer.plain())}",
            layer.span,
            code="NS206",
        )

    @staticmethod
    def _shorthand(kind: str, block: blocks.Block | UserBlock, written: Located) -> Located:
        """``- group: [...]`` for ``- group: {layers: [...]}`` (``branches`` of a merge)."""
        field = None
        if not isinstance(block, UserBlock):
            field = next((f for f in ("layers", "branches") if f in block.args.model_fields), None)
        if isinstance(written.value, list) and field is not None:
            return written.with_value({field: written})
        raise SchemaError(
            f"{kind}: its fields must be a mapping such as "
            f"'{block.example}', not {describe(written.plain())}",
            written.span,
            code="NS206",
        )

    def sequence(
        self,
        layers: Sequence[Located],
        in_shape: Shape,
        prefix: str,
        producer: str,
        names: str = "",
    ) -> list[Node]:
        """Validate every layer of a sequence (reporting all schema errors), then infer.

        Unnamed layers are called ``{names}{index}``: ``0``, ``1``... by default, ``1_0``,
        ``1_1``... for the second branch of a merge, whose layers share one namespace.
        """
        validated: list[_Validated] = []
        problems: list[Diagnostic] = []
        for layer in layers:
            try:
                validated.append(self.validate(layer))
            except SchemaError as exc:
                problems.extend(exc.diagnostics)
        problems.extend(_duplicate_names(validated))
        if problems:
            raise SchemaError(diagnostics=problems)
        nodes: list[Node] = []
        shape = in_shape
        for index, entry in enumerate(validated):
            name = entry.args.name or f"{names}{index}"
            node = self.infer(entry, shape, prefix + name, name, producer)
            nodes.append(node)
            shape = node.out_shape
            line = "" if entry.layer.borrowed else f" at line {node.span.line}"
            producer = f"from '{node.kind}'{line}"
        return nodes

    def one(
        self, layer: Located, in_shape: Shape, module_path: str, name: str, producer: str
    ) -> Node:
        """Compile one layer as the module ``module_path``."""
        return self.infer(self.validate(layer), in_shape, module_path, name, producer)

    def infer(
        self, entry: _Validated, in_shape: Shape, module_path: str, name: str, producer: str
    ) -> Node:
        """Shape stage for one layer: run its block's rule and record the node."""
        self.modules[0] += 1
        if self.modules[0] > MAX_MODULES:
            raise ShapeError(
                f"the network has more than {MAX_MODULES} modules once its blocks are expanded",
                entry.span,
                code="NS406",
            )
        block = entry.block
        if isinstance(block, UserBlock):
            return self.expand(entry, block, in_shape, module_path, name, producer)
        ctx = _LayerContext(self, entry, module_path, producer)
        result: Inferred = block.infer(entry.args, in_shape, ctx)
        if numel(result.out_shape) > MAX_ACTIVATION:
            ctx.fail(
                f"output {format_shape(result.out_shape)} is too large "
                f"(more than {MAX_ACTIVATION} elements per sample)",
                code="NS406",
            )
        return _node(entry, block, name, module_path, in_shape, result)

    def expand(
        self,
        entry: _Validated,
        block: UserBlock,
        in_shape: Shape,
        module_path: str,
        name: str,
        producer: str,
    ) -> Node:
        """Compile a user block's layers where it is used, in the block's own scope.

        A block of one layer *is* that layer (so a block around one ``concat`` builds the
        same module tree as a built-in with named children); a block of several layers is
        an ``nn.Sequential`` of them, like ``group``. Any error inside the body is reported
        at the body's line, with a note at the use site.
        """
        if block.kind in self.stack:
            cycle = [*self.stack[self.stack.index(block.kind) :], block.kind]
            raise SchemaError(
                f"block '{block.kind}' uses itself: {' -> '.join(cycle)}",
                entry.span,
                "a block cannot contain itself, directly or through other blocks",
                notes=[(f"block '{block.kind}' is defined here", block.span)],
                code="NS213",
            )
        try:
            scope = block.bind(entry.args, in_shape)
            sub = _Compiler(scope, self.user_blocks, (*self.stack, block.kind), self.modules)
            if len(block.layers) == 1:
                node = sub.one(block.layers[0], in_shape, module_path, name, producer)
                return replace(node, kind=block.kind, span=entry.span)
            children = sub.sequence(block.layers, in_shape, module_path + ".", producer)
        except NetspecError as exc:
            raise with_note(exc, f"in block '{block.kind}', used here", entry.span) from None
        group = blocks.lookup("group")
        assert group is not None
        return _node(entry, group, name, module_path, in_shape, Inferred.of(children))


def _node(
    entry: _Validated,
    block: blocks.Block,
    name: str,
    module_path: str,
    in_shape: Shape,
    result: Inferred,
) -> Node:
    """The node of one layer, from what its shape rule reported."""
    return Node(
        kind=entry.kind,
        name=name,
        path=module_path,
        args=entry.args,
        in_shape=in_shape,
        out_shape=result.out_shape,
        params=result.params,
        macs=result.macs,
        span=entry.span,
        children=result.children,
        block=block,
        window=result.window,
        branches=result.branches,
        merge=result.merge,
    )


def _duplicate_names(validated: list[_Validated]) -> list[Diagnostic]:
    """A name used twice in one sequence, at its second use, with a note at the first."""
    problems: list[Diagnostic] = []
    seen: dict[str, Span] = {}
    for entry in validated:
        name = entry.args.name
        if name is None:
            continue
        if name in seen:
            problems.append(
                Diagnostic(
                    f"duplicate module name '{name}' in the same sequence",
                    entry.span,
                    notes=[("first used here", seen[name])],
                    code="NS207",
                )
            )
        seen[name] = entry.span
    return problems
