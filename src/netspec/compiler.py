"""The front end: spec file → validated, shape-inferred :class:`CompiledSpec` (no torch).

This module only sequences the stages — source, schema, expressions, shapes — and keeps the
bookkeeping that ties them to the file (which line a layer came from, which layer produced
the shape that reached the next one). Each block's own rules live in ``blocks/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from . import registry
from .errors import (
    Diagnostic,
    ExpressionError,
    SchemaError,
    ShapeError,
    Span,
    UsageError,
    did_you_mean,
)
from .expressions import ExpressionProblem, Number, evaluate
from .recipe import TrainRecipe
from .schema import SpecHeader, describe, is_identifier, validate_model
from .shapes import Inferred, Node, Shape, format_shape, numel
from .source import Document, PathKey, from_mapping, read_path, read_text

if TYPE_CHECKING:
    import torch

#: Largest height/width accepted for an input sample.
MAX_INPUT_SIDE = 16384
#: Largest number of elements of any intermediate tensor of one sample.
MAX_ACTIVATION = 1 << 31


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

    def build(self, seed: int | None = None) -> torch.nn.Module:
        """Build the ``nn.Module`` (imports torch); ``seed`` makes the weights reproducible."""
        from .build import build_model

        return build_model(self, seed=seed)


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
    compiler = _Compiler(doc, params)
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
        span = doc.span(path)
        quoted = span.source.line(span.line)[span.col - 1 : span.col] in ("'", '"')
        span = Span(span.source, span.line, span.col + problem.offset + int(quoted), problem.length)
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

    def sequence(self, items: list[LayerItem], in_shape: Shape, prefix: str = "") -> list[Node]:
        """Compile child layers in order (a block's expansion); paths nest under this one."""
        base = f"{self.module_path}.{prefix}" if prefix else f"{self.module_path}."
        return self.compiler.sequence(items, in_shape, base, self.span, self.producer)

    def items(self, field_name: str, raws: list[Any]) -> list[LayerItem]:
        """Wrap the raw layers of a list field as items located in the file.

        ``- group: [...]`` (list shorthand) puts the layers directly under the kind key,
        ``- group: {layers: [...]}`` under the field; both are located correctly.
        """
        if self.args_path is None:
            return [LayerItem(raw) for raw in raws]
        base = (*self.args_path, field_name)
        if base not in self.compiler.doc.value_pos:
            base = self.args_path
        return [LayerItem.from_doc(raw, (*base, i)) for i, raw in enumerate(raws)]

    def child(self, name: str, item: LayerItem, in_shape: Shape) -> Node:
        """Compile one named child module (a branch layer of inception, say)."""
        return self.compiler.one(
            item, in_shape, f"{self.module_path}.{name}", name, self.span, self.producer
        )


class _Compiler:
    def __init__(self, doc: Document, params: dict[str, Number]) -> None:
        self.doc = doc
        self.params = params

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
        block = registry.lookup(kind)
        if block is None:
            hint = registry.suggest(kind) or (
                "known kinds: " + ", ".join(sorted(registry.all_blocks()))
            )
            raise SchemaError(f"unknown layer kind '{kind}'", span, hint)
        if not isinstance(args_raw, dict):
            if isinstance(args_raw, list) and "layers" in block.args.model_fields:
                args_raw = {"layers": args_raw}
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
            args = validate_model(block.args, args_raw, doc, kind_path, kind, self.params)
        return _Validated(item, kind, args, span, kind_path)

    def sequence(
        self,
        items: list[LayerItem],
        in_shape: Shape,
        prefix: str,
        parent_span: Span,
        producer: str,
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
            name = entry.args.name or str(index)
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
        block = registry.lookup(entry.kind)
        assert block is not None
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
        )
