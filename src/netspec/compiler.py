"""The front end: spec file → validated, shape-inferred :class:`CompiledSpec` (no torch).

This module only sequences the stages — source, schema, expressions, shapes — and keeps the
bookkeeping that ties them to the file (which line a layer came from, which layer produced
the shape that reached the next one). Each block's own rules live in ``blocks/``; blocks
that a spec defines itself are loaded by :mod:`netspec.userblocks` and expanded here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from . import registry
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
from .expressions import ExpressionProblem, Number, Value, evaluate
from .ir import Inferred, Node, assign_receptive_fields
from .recipe import TrainRecipe
from .registry import Block
from .schema import SpecHeader, describe, expression_span, is_identifier, validate_model
from .shapes import Shape, format_shape, numel
from .source import Document, PathKey, from_mapping, read_path, read_text
from .userblocks import BlockScope, UserBlock, load_scope, with_note

if TYPE_CHECKING:
    import torch

#: Largest height/width accepted for an input sample.
MAX_INPUT_SIDE = 16384
#: Largest number of elements of any intermediate tensor of one sample.
MAX_ACTIVATION = 1 << 31
#: Most modules one network may have once every block is expanded: user blocks that use
#: each other several times grow exponentially, and a spec must not exhaust memory.
MAX_MODULES = 100_000


@dataclass
class CompiledSpec:
    """A spec that passed every front-end check: the node tree plus what the back end needs."""

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

    def build(
        self, seed: int | None = None, *, fast: bool = False, device: str | None = None
    ) -> torch.nn.Module:
        """Build the ``nn.Module`` (imports torch); ``seed`` makes the weights reproducible.

        ``fast`` applies :func:`netspec.optimize.speed_up` for ``device`` (same state_dict
        keys and numerics, faster training and inference).
        """
        from .build import build_model

        return build_model(self, seed=seed, fast=fast, device=device)


def compile_spec(
    source: str | Path | dict[str, Any],
    params: dict[str, Number] | None = None,
) -> CompiledSpec:
    """Compile a spec given as a path, as YAML/JSON text, or as a dict.

    A ``str`` containing a newline or starting with ``{`` is taken as spec text; any other
    ``str`` is a path. ``params`` override the spec's param defaults (as ``--set`` does).
    """
    if isinstance(source, dict):
        doc = from_mapping(source)
    elif isinstance(source, Path):
        doc = read_path(source)
    elif isinstance(source, str) and ("\n" in source or source.lstrip().startswith("{")):
        doc = read_text(source, name="<string>")
    elif isinstance(source, str):
        doc = read_path(source)
    else:
        raise TypeError(
            f"compile_spec takes a path, spec text or dict, not {type(source).__name__}"
        )
    return compile_document(doc, params)


def compile_document(doc: Document, overrides: dict[str, Number] | None = None) -> CompiledSpec:
    """Run the schema, expression and shape stages over a loaded document."""
    header = validate_model(SpecHeader, doc.data, doc, (), "spec")
    assert isinstance(header, SpecHeader)
    params = _resolve_params(header.params, doc, overrides or {})
    input_shape = _input_shape(header.input, doc, params)
    recipe = validate_model(TrainRecipe, header.train or {}, doc, ("train",), "train")
    assert isinstance(recipe, TrainRecipe)
    if not header.layers:
        raise SchemaError(
            "spec: 'layers' is empty",
            doc.span(("layers",)),
            hint="add at least one layer, e.g. '- linear: {out: 10}'",
        )
    scope = load_scope(doc, header.imports, header.blocks)
    compiler = _Compiler(doc, dict(params), scope)
    input_span = doc.span(("input",))
    children = compiler.sequence(
        [LayerItem.from_doc(raw, ("layers", i)) for i, raw in enumerate(header.layers)],
        input_shape,
        prefix="",
        parent_span=doc.key_span(("layers",)),
        producer=f"from the input at line {input_span.line}",
    )
    root = Node(
        kind="network",
        name=header.name,
        path="",
        args=None,
        in_shape=input_shape,
        out_shape=children[-1].out_shape,
        params=sum(c.params for c in children),
        macs=sum(c.macs for c in children),
        span=doc.span(()),
        children=children,
    )
    start = ((1, 1), (1, 1)) if len(input_shape) == 3 else None
    root.rf = assign_receptive_fields(children, start)
    return CompiledSpec(
        name=header.name,
        input_shape=input_shape,
        params=params,
        train=recipe,
        root=root,
        document=doc,
        description=header.description,
        classes=header.classes,
    )


def _resolve_params(
    declared: dict[str, Any], doc: Document, overrides: dict[str, Number]
) -> dict[str, Number]:
    """Evaluate params in order (a default may use earlier params); apply overrides."""
    for name in overrides:
        if name not in declared:
            hint = did_you_mean(name, sorted(declared)) or (
                f"this spec's params: {', '.join(declared)}"
                if declared
                else "this spec declares no params"
            )
            raise UsageError(f"unknown param '{name}' in --set", hint=hint)
    resolved: dict[str, Number] = {}
    for name, value in declared.items():
        path = ("params", name)
        if not is_identifier(name):
            raise SchemaError(
                f"params: '{name}' is not a valid param name (letters, digits, _)",
                doc.key_span(path),
            )
        if name in overrides:
            resolved[name] = overrides[name]
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise SchemaError(
                f"params: '{name}' must be a number or an expression, got {describe(value)}",
                doc.span(path),
            )
        resolved[name] = _evaluate_at(value, resolved, doc, path, f"params: '{name}'")
    return resolved


def _evaluate_at(
    value: Number | str, scope: dict[str, Number], doc: Document, path: PathKey, owner: str
) -> Number:
    if not isinstance(value, str):
        return value
    try:
        return evaluate(value, scope)
    except ExpressionProblem as problem:
        span = expression_span(doc.span(path), problem.offset, problem.length)
        raise ExpressionError(f"{owner}: {problem.message}", span, problem.hint) from None


def _input_shape(raw: list[Any], doc: Document, params: dict[str, Number]) -> Shape:
    path = ("input",)
    if len(raw) not in (1, 3):
        raise SchemaError(
            f"spec: 'input' must be [C, H, W] (an image) or [F] (flat features), "
            f"got {len(raw)} number{'s' if len(raw) != 1 else ''}",
            doc.span(path),
            hint="Fashion-MNIST images are 'input: [1, 28, 28]'",
        )
    dims = []
    for i, value in enumerate(raw):
        value = _evaluate_at(value, params, doc, (*path, i), "spec: 'input'")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(
                f"spec: 'input' sizes must be integers, got {describe(value)}", doc.span((*path, i))
            )
        limit = MAX_INPUT_SIDE if i > 0 else 1 << 20
        if not 1 <= value <= limit:
            raise SchemaError(
                f"spec: 'input' sizes must be between 1 and {limit}, got {value}",
                doc.span((*path, i)),
            )
        dims.append(value)
    return tuple(dims)


@dataclass
class LayerItem:
    """A layer as written (with its document path) or as a block expanded it (no path)."""

    raw: Any
    doc_path: PathKey | None = None

    @classmethod
    def from_doc(cls, raw: Any, path: PathKey) -> LayerItem:
        return cls(raw, path)

    @classmethod
    def synthesized(cls, kind: str, **args: Any) -> LayerItem:
        """A layer that a block adds itself (vgg_block's convs, say)."""
        return cls({kind: args} if args else kind)


@dataclass
class _Validated:
    item: LayerItem
    kind: str
    block: Block | UserBlock
    args: Any
    span: Span
    args_path: PathKey | None


@dataclass
class InferContext:
    """What a block's shape rule may use: errors located at its layer, and child layers."""

    compiler: _Compiler
    kind: str
    module_path: str
    span: Span
    args_path: PathKey | None
    producer: str
    children_made: list[Node] = field(default_factory=list)

    def fail(self, message: str, *, field: str | None = None, hint: str | None = None) -> NoReturn:
        """Raise a :class:`ShapeError` at this layer (or at one of its fields)."""
        span = self.span
        if field is not None and self.args_path is not None:
            span = self.compiler.doc.span((*self.args_path, field))
        raise ShapeError(f"{self.kind}: {message}", span, hint)

    def came_from(self) -> str:
        """Where the input shape of this layer was produced, for error messages."""
        return self.producer

    def sequence(
        self, items: list[LayerItem], in_shape: Shape, prefix: str = "", names: str = ""
    ) -> list[Node]:
        """Compile child layers in order (a block's expansion); paths nest under this one.

        Unnamed layers are called ``{names}{index}``: ``0``, ``1``... by default, ``1_0``,
        ``1_1``... for the second branch of a merge, whose layers share one namespace.
        """
        base = f"{self.module_path}.{prefix}" if prefix else f"{self.module_path}."
        return self.compiler.sequence(items, in_shape, base, self.span, self.producer, names)

    def items(self, field_name: str, raws: list[Any]) -> list[LayerItem]:
        """Wrap the raw layers of a list field as items located in the file.

        ``- group: [...]`` (list shorthand) puts the layers directly under the kind key,
        ``- group: {layers: [...]}`` under the field; both are located correctly.
        """
        base = self._field_path(field_name)
        if base is None:
            return [LayerItem(raw) for raw in raws]
        return [LayerItem.from_doc(raw, (*base, i)) for i, raw in enumerate(raws)]

    def branch_items(self, field_name: str, index: int, raws: list[Any]) -> list[LayerItem]:
        """Like :meth:`items` for branch ``index`` of a list-of-lists field (``branches``)."""
        base = self._field_path(field_name)
        if base is None:
            return [LayerItem(raw) for raw in raws]
        return [LayerItem.from_doc(raw, (*base, index, i)) for i, raw in enumerate(raws)]

    def branch_span(self, field_name: str, index: int) -> Span:
        """Where branch ``index`` of a list-of-lists field is written (this layer's span
        when the layer was synthesized)."""
        base = self._field_path(field_name)
        doc = self.compiler.doc
        if base is None or (*base, index) not in doc.value_pos:
            return self.span
        return doc.span((*base, index))

    def _field_path(self, field_name: str) -> PathKey | None:
        """Document path of a list field's value: under the field, or directly under the
        kind for the list shorthand; None when the layer was synthesized by a block."""
        if self.args_path is None:
            return None
        base = (*self.args_path, field_name)
        return base if base in self.compiler.doc.value_pos else self.args_path

    def child(self, name: str, item: LayerItem, in_shape: Shape) -> Node:
        """Compile one named child module (a branch layer of inception, say)."""
        return self.compiler.one(
            item, in_shape, f"{self.module_path}.{name}", name, self.span, self.producer
        )


class _Compiler:
    """Compiles layers of one document in one scope of names.

    The spec's own layers compile in the spec's document with its params; each use of a
    user block compiles the block's layers with a new ``_Compiler`` over the document that
    defines the block (maybe an imported file) and the block's arguments as params.
    """

    def __init__(
        self,
        doc: Document,
        params: dict[str, Value],
        scope: BlockScope | None = None,
        stack: tuple[str, ...] = (),
        modules: list[int] | None = None,
    ) -> None:
        self.doc = doc
        self.params = params
        self.scope = scope or BlockScope()
        #: The user blocks being expanded around these layers, outermost first.
        self.stack = stack
        #: Modules made so far in this compilation, shared by nested compilers.
        self.modules = modules if modules is not None else [0]

    def lookup(self, kind: str) -> Block | UserBlock | None:
        """A built-in kind, else a user block of this compilation."""
        return registry.lookup(kind) or self.scope.get(kind)

    def validate(self, item: LayerItem, fallback: Span) -> _Validated:
        """Schema stage for one layer: find its kind, validate its fields."""
        raw, path = item.raw, item.doc_path
        doc = self.doc
        span = doc.span(path) if path is not None else fallback
        if isinstance(raw, str):
            kind, args_raw, kind_path = raw, {}, path
        elif isinstance(raw, dict) and len(raw) == 1:
            kind, args_raw = next(iter(raw.items()))
            kind_path = (*path, kind) if path is not None else None
            span = doc.key_span(kind_path) if kind_path is not None else fallback
            if args_raw is None:
                args_raw = {}
        elif isinstance(raw, dict):
            keys = ", ".join(f"'{k}'" for k in raw)
            hint = None
            if "name" in raw:
                hint = "put 'name' inside the block's mapping, e.g. '- conv: {name: stem, out: 64}'"
            raise SchemaError(
                f"a layer is a mapping with exactly one key, its kind; this one has {keys}"
                if raw
                else "a layer cannot be an empty mapping",
                span,
                hint or "write '- kind: {field: value, ...}' or just '- kind'",
            )
        else:
            raise SchemaError(
                f"a layer must be a kind such as 'relu' or a mapping such as "
                f"'conv: {{out: 64}}', not {describe(raw)}",
                span,
            )
        if path is not None and isinstance(raw, str):
            span = doc.span(path, length=len(raw))
        block = self.lookup(kind)
        if block is None:
            users = sorted(self.scope.blocks)
            hint = did_you_mean(kind, sorted(registry.all_blocks()) + users) or (
                "known kinds: "
                + ", ".join(sorted(registry.all_blocks()))
                + (f"; blocks of this spec: {', '.join(users)}" if users else "")
            )
            raise SchemaError(f"unknown layer kind '{kind}'", span, hint)
        if not isinstance(args_raw, dict):
            shorthand = _list_field(block)
            if isinstance(args_raw, list) and shorthand is not None:
                args_raw = {shorthand: args_raw}
            else:
                raise SchemaError(
                    f"{kind}: its fields must be a mapping such as "
                    f"'{block.example}', not {describe(args_raw)}",
                    doc.span(kind_path) if kind_path is not None else span,
                )
        if path is None:
            try:
                args = block.args.model_validate(args_raw, context={"params": self.params})
            except ValidationError as exc:
                raise SchemaError(
                    f"{kind} (expanded from the block at this line): "
                    f"{exc.errors(include_url=False)[0]['msg']}",
                    fallback,
                ) from None
        else:
            try:
                args = validate_model(block.args, args_raw, doc, kind_path, kind, self.params)
            except SchemaError as exc:
                if isinstance(block, UserBlock):
                    raise SchemaError(
                        diagnostics=[
                            Diagnostic(
                                d.message, d.span, d.hint, [*d.notes, block.note_for(d.message)]
                            )
                            for d in exc.diagnostics
                        ]
                    ) from None
                raise
        return _Validated(item, kind, block, args, span, kind_path)

    def sequence(
        self,
        items: list[LayerItem],
        in_shape: Shape,
        prefix: str,
        parent_span: Span,
        producer: str,
        names: str = "",
    ) -> list[Node]:
        """Validate every layer of a sequence (reporting all schema errors), then infer."""
        validated: list[_Validated] = []
        problems: list[Diagnostic] = []
        for item in items:
            try:
                validated.append(self.validate(item, parent_span))
            except SchemaError as exc:
                problems.extend(exc.diagnostics)
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
                    )
                )
            seen[name] = entry.span
        if problems:
            raise SchemaError(diagnostics=problems)
        nodes: list[Node] = []
        shape = in_shape
        for index, entry in enumerate(validated):
            name = entry.args.name or f"{names}{index}"
            node = self.infer(entry, shape, prefix + name, name, producer)
            nodes.append(node)
            shape = node.out_shape
            line = f" at line {node.span.line}" if entry.item.doc_path is not None else ""
            producer = f"from '{node.kind}'{line}"
        return nodes

    def one(
        self,
        item: LayerItem,
        in_shape: Shape,
        module_path: str,
        name: str,
        parent_span: Span,
        producer: str,
    ) -> Node:
        return self.infer(self.validate(item, parent_span), in_shape, module_path, name, producer)

    def infer(
        self, entry: _Validated, in_shape: Shape, module_path: str, name: str, producer: str
    ) -> Node:
        """Shape stage for one layer: run its block's rule and record the node."""
        self.modules[0] += 1
        if self.modules[0] > MAX_MODULES:
            raise ShapeError(
                f"the network has more than {MAX_MODULES} modules once its blocks are expanded",
                entry.span,
            )
        block = entry.block
        if isinstance(block, UserBlock):
            return self.expand(entry, block, in_shape, module_path, name, producer)
        ctx = InferContext(self, entry.kind, module_path, entry.span, entry.args_path, producer)
        result: Inferred = block.infer(entry.args, in_shape, ctx)
        if numel(result.out_shape) > MAX_ACTIVATION:
            ctx.fail(
                f"output {format_shape(result.out_shape)} is too large "
                f"(more than {MAX_ACTIVATION} elements per sample)"
            )
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
            )
        try:
            sub = _Compiler(
                block.doc,
                block.bind(entry.args, in_shape),
                self.scope,
                (*self.stack, block.kind),
                self.modules,
            )
            items = block.items()
            if len(items) == 1:
                node = sub.one(items[0], in_shape, module_path, name, block.span, producer)
                return replace(node, kind=block.kind, span=entry.span)
            children = sub.sequence(items, in_shape, module_path + ".", block.span, producer)
        except NetspecError as exc:
            raise with_note(exc, f"in block '{block.kind}', used here", entry.span) from None
        return Node(
            kind=block.kind,
            name=name,
            path=module_path,
            args=entry.args,
            in_shape=in_shape,
            out_shape=children[-1].out_shape,
            params=sum(c.params for c in children),
            macs=sum(c.macs for c in children),
            span=entry.span,
            children=children,
            block=registry.lookup("group"),
        )


def _list_field(block: Block | UserBlock) -> str | None:
    """The field that ``- kind: [...]`` fills: ``layers`` of a group, ``branches`` of a merge."""
    if isinstance(block, UserBlock):
        return None
    return next((f for f in ("layers", "branches") if f in block.args.model_fields), None)
