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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    did_you_mean,
)
from .expressions import ExpressionProblem, Scope, Value
from .ir import Inferred, Input, Node, assign_receptive_fields, default_layout
from .params import Param, as_value, read_params, resolve_params
from .preprocess_section import preprocessing_of
from .preprocessing import Preprocessing
from .recipe import TrainRecipe
from .schema import LIST_INPUT, WIRING_KEYS, SpecHeader, WeightsKeys, describe, is_identifier
from .shapes import Shape, format_shape, numel
from .source import Document, Located, Step, from_mapping, read_path, read_text
from .userblocks import UserBlock, UserBlocks, load_user_blocks, with_note
from .validation import evaluate_at, expression_span, validate
from .variants import Variants, read_variants
from .wiring import (
    Copy,
    Entry,
    Item,
    Loop,
    Wiring,
    check_index,
    check_name,
    copies,
    expand_template,
    number_layers,
    reads_of,
)

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
    params: dict[str, Value]
    train: TrainRecipe
    root: Node
    document: Document
    description: str | None = None
    classes: list[str] | None = None
    #: With ``--variant``: the spec's own name (the family) and the variant's, which is
    #: also the network's :attr:`name`.
    family: str | None = None
    variant: str | None = None
    #: How a weights file's keys are read (the spec's ``weights:``), if it says.
    weights: WeightsKeys | None = None
    #: The files the spec imports (resolved paths), directly or through other imports.
    imported: tuple[str, ...] = ()
    #: How images become the input: the ``preprocess:`` section, or the seed's pipeline.
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    @property
    def source_text(self) -> str:
        """The spec file's text, embedded in artifacts so they say what they were built from."""
        return self.document.source.text

    @property
    def path(self) -> str | None:
        """The spec file's path, or None for specs given as text or a dict."""
        return str(self.document.path) if self.document.path else None

    @property
    def files(self) -> list[str]:
        """Every file this spec was read from: the spec file (if any) and its imports.

        Commands never write over these (:func:`netspec.atomic.check_target`).
        """
        return ([self.path] if self.path else []) + list(self.imported)

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


def read_spec(source: str | Path | dict[str, Any] | Document) -> Document:
    """Read a spec given as a path, as YAML/JSON text, or as a dict (a Document is already
    read).

    A ``str`` containing a newline or starting with ``{`` is taken as spec text; any other
    ``str`` is a path.
    """
    if isinstance(source, Document):
        return source
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
    overrides: Mapping[str, Any] | None = None,
    variant: str | None = None,
    *,
    input_shape: Shape | None = None,
) -> CompiledSpec:
    """Run the schema, expression and shape stages over a loaded document.

    ``variant`` picks one of the spec's ``variants:``; ``overrides`` then replace param
    values (as ``--set`` does: plain values, or :class:`~netspec.params.CommandLine` texts).
    ``input_shape`` replaces the spec's ``input`` (the shape stage asked at another image
    size: which sizes a network accepts, :mod:`netspec.spatial`); the preprocessing stays
    the spec's own.
    """
    root = doc.root
    header = validate(SpecHeader, root, "spec")
    assert isinstance(header, SpecHeader)
    params = _params(doc, header, overrides, variant)
    input_node = root.at(("input",))
    own_shape = _input_shape(header.input, input_node, params)
    preprocessing = preprocessing_of(root, params, own_shape)
    if input_shape is None:
        input_shape = own_shape
    recipe = validate(TrainRecipe, _section(root, "train"), "train")
    assert isinstance(recipe, TrainRecipe)
    weights = validate(WeightsKeys, _section(root, "weights"), "weights")
    assert isinstance(weights, WeightsKeys)
    if not header.layers:
        raise SchemaError(
            "spec: 'layers' is empty",
            root.at(("layers",)).span,
            hint="add at least one layer, e.g. '- linear: {out: 10}'",
            code="NS208",
        )
    user_blocks = load_user_blocks(doc, header.imports, header.blocks)
    compiler = _Compiler(params, user_blocks)
    producer = f"from the input at line {input_node.span.line}"
    source = Input(input_shape, default_layout(input_shape), LIST_INPUT, input_node.span, producer)
    place = _Place("", params, "spec", output=header.output)
    children, output = compiler.layer_list(header.layers, source, place)
    totals = Inferred.of(children, output=output)
    name = variant or header.name
    root_node = Node(
        kind="network",
        name=name,
        path="",
        args=None,
        in_shape=input_shape,
        out_shape=totals.out_shape,
        params=totals.params,
        macs=totals.macs,
        span=root.span,
        children=children,
        layout=default_layout(totals.out_shape) if output is None else children[output - 1].layout,
        output=output,
    )
    start = ((1, 1), (1, 1)) if len(input_shape) == 3 else None
    root_node.rf = assign_receptive_fields(children, start, output)
    return CompiledSpec(
        name=name,
        input_shape=input_shape,
        params=params.as_dict(),
        train=recipe,
        root=root_node,
        document=doc,
        description=header.description,
        classes=header.classes,
        family=header.name if variant else None,
        variant=variant,
        weights=weights if weights.rename or weights.ignore else None,
        imported=tuple(str(path) for path in user_blocks.files),
        preprocessing=preprocessing,
    )


def _family(doc: Document, header: SpecHeader) -> tuple[list[Param], Variants]:
    """A spec's declared params and its variants (names and keys checked)."""
    declared = read_params(header.params)
    variants = read_variants(header.variants, [p.name for p in declared], doc.source.name)
    return declared, variants


def _params(
    doc: Document,
    header: SpecHeader,
    overrides: Mapping[str, Any] | None,
    variant: str | None,
) -> Scope:
    """The network's params: defaults, then the variant's values, then ``overrides``."""
    declared, variants = _family(doc, header)
    chosen = variants.choose(variant) if variant is not None else None
    scope, _ = resolve_params(declared, variants.values, chosen, overrides)
    return scope


def variant_values(
    source: str | Path | dict[str, Any] | Document,
) -> dict[str, dict[str, Value]]:
    """The variants of a spec: name → the param values it sets (checked against the types).

    ``netspec.variants(path)``; an empty mapping for a spec without variants.
    """
    doc = read_spec(source)
    header = validate(SpecHeader, doc.root, "spec")
    assert isinstance(header, SpecHeader)
    declared, variants = _family(doc, header)
    _, settled = resolve_params(declared, variants.values)  # checks every variant's values
    types = {p.name: p for p in settled}
    return {
        name: {key: types[key].accept(as_value(node.plain())) for key, node in values.items()}
        for name, values in variants.values.items()
    }


def _section(root: Located, key: str) -> Located:
    """The mapping under ``key`` (an empty one, located at the document, when absent)."""
    node = root.get(key)
    if node is None or node.value is None:
        return root.with_value({})
    return node


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
        value = evaluate_at(item, params, "spec: 'input'")
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
class _Layer:
    """What the compiler keeps about one present layer after the schema stage."""

    block: blocks.Block | UserBlock
    args: Any
    #: The layer's arguments as written (``from`` included; an empty mapping located at
    #: the layer if none): where its fields are pointed at.
    written: Located


@dataclass
class _Place:
    """Where a layer list is compiled: its module path, names and scope, and its rules."""

    #: Module path of the list's owner, with its trailing dot ("" for the spec).
    prefix: str
    scope: Scope
    #: What messages about the list as a whole are prefixed with ("spec", "group", ...).
    owner: str
    #: How unnamed module layers are called: ``{names}{position}`` ("1_" in branch 1).
    names: str = ""
    loops: tuple[Loop, ...] = ()
    #: False inside 'branches': the layers run in order, no ``from``, nothing functional.
    wiring: bool = True
    #: ``output:`` of the list's owner, if written.
    output: Located | None = None


class _LayerContext:
    """What a kind's shape rule may use (:class:`netspec.ir.ShapeContext`), for one layer."""

    def __init__(
        self,
        compiler: _Compiler,
        entry: Entry,
        module_path: str,
        inputs: list[Input],
    ) -> None:
        layer: _Layer = entry.data
        self.compiler = compiler
        self.entry = entry
        self.kind = entry.kind
        self.span = entry.span
        self.module_path = module_path
        self.written = layer.written
        self.inputs = inputs
        self.layout = inputs[0].layout
        self.functional = entry.functional

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
        return self.inputs[0].origin

    def where(self, *path: Step) -> Span:
        node = self.written.at(path)
        if path and path[0] == "from" and node is not self.written:
            return node.spanning(len(str(node.value)) if isinstance(node.value, str) else 1)
        return node.span

    def layer(self, kind: str, **args: Any) -> Located:
        return Located.borrow({kind: args} if args else kind, self.span)

    def _place(self, prefix: str, **changes: Any) -> _Place:
        item = self.entry.item
        return _Place(
            f"{self.module_path}.{prefix}", item.scope, self.kind, loops=item.loops, **changes
        )

    def sequence(
        self, layers: Sequence[Located], in_shape: Shape, *, prefix: str = "", names: str = ""
    ) -> list[Node]:
        place = self._place(prefix, names=names, wiring=False)
        nodes, _ = self.compiler.layer_list(layers, self._input(in_shape), place)
        return nodes

    def child(self, name: str, layer: Located, in_shape: Shape) -> Node:
        path = f"{self.module_path}.{name}"
        item = Item(layer, self.entry.item.scope, self.entry.item.loops)
        entry = self.compiler.prepare(item, wiring=False)
        entry.label = name
        return self.compiler.infer(entry, [self._input(in_shape)], path, name)

    def dataflow(
        self,
        layers: Sequence[Located],
        in_shape: Shape,
        *,
        output: Located | None = None,
        repeat: tuple[int, str] | None = None,
    ) -> Inferred:
        place = self._place("", output=output)
        if repeat is not None:
            times, index = repeat
            index_node = self.written.get("index")
            at = index_node.spanning(len(index)) if index_node is not None else self.span
            check_index(index, at, place.scope, place.loops)
            item = Item(self.written, place.scope, place.loops)
            items = self.compiler.expand_copies(layers, item, times, index, self.span)
            nodes, out = self.compiler.layer_list((), self._input(in_shape), place, items)
        else:
            nodes, out = self.compiler.layer_list(layers, self._input(in_shape), place)
        return Inferred.of(nodes, output=out)

    def _input(self, in_shape: Shape) -> Input:
        """The input of a list this layer compiles: the layer's own input, or a shape it
        computed (a branch after a projection has the same input)."""
        first = self.inputs[0]
        if in_shape == first.shape:
            return Input(first.shape, first.layout, LIST_INPUT, self.span, first.origin)
        return Input(in_shape, default_layout(in_shape), LIST_INPUT, self.span, first.origin)


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
        #: Layers made so far in this compilation, shared by nested compilers.
        self.modules = modules if modules is not None else [0]
        #: The lists being compiled, innermost last (hints name what is out of reach).
        self.lists: list[Wiring] = []

    def lookup(self, kind: str) -> blocks.Block | UserBlock | None:
        """A built-in kind, else a user block of this compilation."""
        return blocks.lookup(kind) or self.user_blocks.get(kind)

    # ----------------------------------------------------------------------- lists

    def layer_list(
        self,
        layers: Sequence[Located],
        source: Input,
        place: _Place,
        items: list[Item] | None = None,
    ) -> tuple[list[Node], int | None]:
        """Compile a layer list: schema stage for every layer (all errors at once), then
        shapes in order, each layer reading the values its ``from`` names.

        Returns the nodes of the present layers and the value that is the list's output
        (None when it is the last one, as in every plain chain).
        """
        if items is None:
            items = self.expand(layers, place.scope, place.loops)
        entries: list[Entry] = []
        problems: list[Diagnostic] = []
        for item in items:
            try:
                entries.append(self.prepare(item, wiring=place.wiring))
            except SchemaError as exc:
                problems.extend(d for d in exc.diagnostics if d not in problems)
        problems.extend(number_layers(entries, place.names))
        if problems:
            raise SchemaError(diagnostics=problems)
        wiring = Wiring(entries, place.owner, self.lists[-1] if self.lists else None)
        self.lists.append(wiring)
        try:
            nodes = self._infer_list(wiring, source, place.prefix)
        finally:
            self.lists.pop()
        if not nodes:
            if not place.wiring:
                return [], None
            raise SchemaError(
                f"{place.owner}: every layer of this list is switched off by its 'if'",
                source.span,
                "a list needs at least one present layer",
                code="NS208",
            )
        output = wiring.output(place.output, place.scope, place.owner)
        wiring.check_unused(place.output)
        return nodes, None if output == len(nodes) else output

    def _infer_list(self, wiring: Wiring, source: Input, prefix: str) -> list[Node]:
        """Shape stage of a list: each present layer from the values it reads, in order."""
        values = [source]
        nodes: list[Node] = []
        for index, entry in enumerate(wiring.entries):
            reads = wiring.reads(index)
            if not entry.present:
                wiring.skip(index, reads)
                continue
            path = prefix + self._path_name(entry)
            node = self.infer(entry, [values[v] for v in reads], path, entry.label or "")
            node.inputs = tuple(reads)
            wiring.made(index, reads, node)
            line = "" if entry.item.layer.borrowed else f" at line {node.span.line}"
            origin = f"from '{node.kind}'{line}"
            values.append(
                Input(node.out_shape, node.layout, entry.label or entry.kind, entry.span, origin)
            )
            nodes.append(node)
        return nodes

    @staticmethod
    def _path_name(entry: Entry) -> str:
        """A node's last path component: its name, or ``(label)`` for a functional layer
        (which is no module; a functional ``scale`` is its parameter, a real key)."""
        if not entry.functional or (entry.kind == "scale" and entry.name is not None):
            return entry.label or ""
        return f"({entry.label or entry.kind})"

    def expand(
        self,
        layers: Sequence[Located],
        scope: Scope,
        loops: tuple[Loop, ...] = (),
        copy: Copy | None = None,
    ) -> list[Item]:
        """The layers of a list with each spliced repeat replaced by its copies."""
        items: list[Item] = []
        for layer in layers:
            item = Item(layer, scope, loops, copy)
            splice = self._spliced(item)
            if splice is None:
                items.append(item)
            else:
                times, index, body = splice
                span = self._kind_of(layer)[2]
                items.extend(self.expand_copies(body, item, times, index, span))
        return items

    def expand_copies(
        self, body: Sequence[Located], item: Item, times: int, index: str, span: Span
    ) -> list[Item]:
        """``times`` copies of ``body`` (spliced repeats inside expanded too)."""
        expanded: list[Item] = []
        for copy in copies(body, item, times, index, span):
            expanded.extend(self.expand([copy.layer], copy.scope, copy.loops, copy.copy))
        return expanded

    def _spliced(self, item: Item) -> tuple[int, str, list[Located]] | None:
        """(times, index, layers) of a ``repeat`` with ``splice: true``; None otherwise.

        A spliced repeat is no layer: its copies join the enclosing list, so it takes no
        name, ``from`` or ``functional``; its ``if`` switches the whole loop off.
        """
        raw = item.layer.value
        if not (isinstance(raw, dict) and len(raw) == 1 and "repeat" in raw):
            return None
        written = raw["repeat"]
        if not isinstance(written.value, dict) or "splice" not in written.value:
            return None
        present = self.condition(written.get("if"), item.scope, "repeat")
        fields = {k: v for k, v in written.value.items() if k not in WIRING_KEYS}
        args = validate(
            blocks.lookup("repeat").args, written.with_value(fields), "repeat", item.scope
        )  # type: ignore[union-attr]
        if not args.splice:  # type: ignore[attr-defined]
            return None
        for key in ("name", "from", "functional"):
            if key in written.value:
                raise SchemaError(
                    f"repeat: a repeat with 'splice: true' takes no '{key}': its copies go "
                    "straight into the enclosing list",
                    written.key_span((key,)),
                    "name the layers inside it instead" if key == "name" else None,
                    code="NS223",
                )
        index_node = written.get("index")
        at = (
            index_node.spanning(len(args.index))
            if index_node is not None
            else self._kind_of(item.layer)[2]
        )  # type: ignore[attr-defined]
        check_index(args.index, at, item.scope, item.loops)  # type: ignore[attr-defined]
        times = args.times if present else 0  # type: ignore[attr-defined]
        return times, args.index, list(args.layers)  # type: ignore[attr-defined]

    # ----------------------------------------------------------------------- schema

    def prepare(self, item: Item, *, wiring: bool) -> Entry:
        """Schema stage for one layer: its kind, whether it is present, its name and
        inputs, its validated fields. An absent layer's fields are not validated."""
        kind, written, span = self._kind_of(item.layer)
        block = self.lookup(kind)
        if block is None:
            raise self._unknown_kind(kind, span)
        if not isinstance(written.value, dict):
            written = self._shorthand(kind, block, written)
        owner = f"{kind} (expanded from the block at this line)" if item.layer.borrowed else kind
        fields = written.value
        if not wiring and ("from" in fields or "functional" in fields):
            key = "from" if "from" in fields else "functional"
            raise SchemaError(
                f"{kind}: inside 'branches' layers run in order; use the dataflow form "
                "(from: [...]) for other wiring",
                written.key_span((key,)),
                code="NS219",
            )
        present = self.condition(fields.get("if"), item.scope, owner) if "if" in fields else True
        entry = Entry(item, kind, span, present)
        name_node = fields.get("name")
        if name_node is not None and name_node.value is not None:
            entry.name = expand_template(name_node, item.scope, owner, "name")
            entry.name_node = name_node
            check_name(entry.name, name_node, owner)
        from_node = fields.get("from")
        if from_node is not None:
            entry.reads = reads_of(from_node, item.scope, owner)
            entry.reads_node = from_node
        if not present:
            return entry
        given = written
        if (
            "if" in fields
            or from_node is not None
            or entry.name != getattr(name_node, "value", None)
        ):
            stripped = {k: v for k, v in fields.items() if k not in WIRING_KEYS}
            if entry.name is not None:
                stripped["name"] = name_node.with_value(entry.name)  # type: ignore[union-attr]
            given = written.with_value(stripped)
        args = self._validate(block, given, owner, item.scope)
        entry.functional = self._functional(kind, block, args, entry, written)
        entry.data = _Layer(block, args, written)
        return entry

    def _validate(
        self, block: blocks.Block | UserBlock, written: Located, owner: str, scope: Scope
    ) -> Any:
        try:
            return validate(block.args, written, owner, scope)
        except SchemaError as exc:
            if isinstance(block, UserBlock):
                raise block.with_declarations(exc) from None
            raise

    def condition(self, node: Located | None, scope: Scope, owner: str) -> bool:
        """The value of an ``if``: true, false, or a boolean expression over the scope."""
        if node is None:
            return True
        value = node.value
        if isinstance(value, str):
            try:
                value = scope.evaluate(value)
            except ExpressionProblem as problem:
                span = expression_span(node.span, problem.offset, problem.length)
                raise ExpressionError(
                    f"{owner}: 'if': {problem.message}", span, problem.hint, code=problem.code
                ) from None
        if isinstance(value, bool):
            return value
        text = node.value
        if isinstance(text, str) and is_identifier(text) and isinstance(value, (int, float)):
            hint = (
                f"compare it (if: {text} == {value}) or declare the param as a boolean "
                f"({text}: false)"
            )
        else:
            hint = "write true or false, or compare values (if: stride != 1)"
        width = len(text) if isinstance(text, str) else len(str(text))
        raise SchemaError(
            f"{owner}: 'if' must be true or false, got {describe(value)}",
            node.spanning(width),
            hint,
            code="NS222",
        )

    def _functional(
        self, kind: str, block: blocks.Block | UserBlock, args: Any, entry: Entry, written: Located
    ) -> bool:
        """Whether a layer runs as a function, and the checks on its inputs' count."""
        asked = getattr(args, "functional", None)
        many = isinstance(block, blocks.Block) and block.many_inputs
        if entry.reads is not None:
            self._check_reads(kind, many, entry, written)
        forced = isinstance(block, blocks.Block) and (
            block.always_functional or (many and entry.reads is not None)
        )
        if forced and asked is False:
            what = kind if block.always_functional else f"{kind} with 'from'"  # type: ignore[union-attr]
            raise SchemaError(
                f"{kind}: {what} makes no module: torch has none for it",
                written.at(("functional",)).spanning(5),
                "remove 'functional: false'",
                code="NS225",
            )
        if asked and kind == "scale" and entry.name is None:
            raise SchemaError(
                "scale: 'functional: true' needs a 'name': the parameter is kept on the "
                "enclosing module under it",
                written.key_span(("functional",)),
                "e.g. scale: {name: layer_scale, functional: true}",
                code="NS225",
            )
        if asked and isinstance(block, UserBlock):
            raise SchemaError(
                f"{kind}: 'functional: true' is not available for a user block: it builds a module",
                written.at(("functional",)).spanning(4),
                "mark the layers inside the block functional instead",
                code="NS225",
            )
        return bool(forced or asked)

    @staticmethod
    def _check_reads(kind: str, many: bool, entry: Entry, written: Located) -> None:
        """A layer reads as many values as its kind takes: one, or two or more (merges)."""
        assert entry.reads is not None
        count = len(entry.reads)
        if many and "branches" in written.value:
            raise SchemaError(
                f"{kind}: use either 'branches' or 'from', not both",
                written.key_span(("from",)),
                "'branches' runs layer lists on one input; 'from' merges earlier layers",
                code="NS219",
            )
        if not many and count > 1:
            raise SchemaError(
                f"{kind}: {kind} reads one input; 'from' names {count}",
                written.at(("from",)).span,
                "only add, concat and mul merge several inputs",
                code="NS219",
            )
        if many and count < 2:
            label, item = entry.reads[0]
            raise SchemaError(
                f"{kind}: {kind} merges two or more inputs; 'from' names 1",
                item.spanning(len(label)),
                f"name them all, e.g. from: [{label}, input]",
                code="NS219",
            )

    def _unknown_kind(self, kind: str, span: Span) -> SchemaError:
        users = sorted(self.user_blocks.blocks)
        known = sorted(blocks.kind_names())
        hint = did_you_mean(kind, known + users) or (
            "known kinds: "
            + ", ".join(known)
            + (f"; blocks of this spec: {', '.join(users)}" if users else "")
        )
        return SchemaError(f"unknown layer kind '{kind}'", span, hint, code="NS205")

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

    # ----------------------------------------------------------------------- shapes

    def infer(self, entry: Entry, inputs: list[Input], module_path: str, name: str) -> Node:
        """Shape stage for one layer: run its block's rule and record the node."""
        self.modules[0] += 1
        if self.modules[0] > MAX_MODULES:
            raise ShapeError(
                f"the network has more than {MAX_MODULES} modules once its blocks are expanded",
                entry.span,
                code="NS406",
            )
        layer: _Layer = entry.data
        block = layer.block
        if isinstance(block, UserBlock):
            return self.expand_block(entry, block, inputs[0], module_path, name)
        ctx = _LayerContext(self, entry, module_path, inputs)
        result: Inferred = block.infer(layer.args, inputs[0].shape, ctx)
        if numel(result.out_shape) > MAX_ACTIVATION:
            ctx.fail(
                f"output {format_shape(result.out_shape)} is too large "
                f"(more than {MAX_ACTIVATION} elements per sample)",
                code="NS406",
            )
        if entry.functional:
            self._check_functional(entry, block, result)
        return _node(entry, block, name, module_path, inputs[0], result)

    @staticmethod
    def _check_functional(entry: Entry, block: blocks.Block, result: Inferred) -> None:
        """A functional layer has no module to keep weights in (``scale`` keeps its one
        parameter on the enclosing module) and needs a functional form."""
        layer: _Layer = entry.data
        where = layer.written.at(("functional",))
        span = where.spanning(4) if where is not layer.written else entry.span
        if result.params and entry.kind != "scale":
            raise SchemaError(
                f"{entry.kind}: 'functional: true' needs a layer without weights; this "
                f"{entry.kind} has {result.params:,} parameters",
                span,
                "only layers without parameters run as functions (relu, pools, flatten, ...); "
                "'scale' keeps its parameter on the enclosing module",
                code="NS225",
            )
        if block.apply is None:
            raise SchemaError(
                f"{entry.kind}: 'functional: true' is not available: {entry.kind} has no "
                "functional form",
                span,
                "only layers without parameters run as functions (relu, pools, flatten, ...)",
                code="NS225",
            )

    def expand_block(
        self, entry: Entry, block: UserBlock, source: Input, module_path: str, name: str
    ) -> Node:
        """Compile a user block's layers where it is used, in the block's own scope.

        A block of one module layer *is* that layer (so a block around one ``concat`` builds
        the same module tree as a built-in with named children); a block of several layers
        is a list of them, like ``group``. Any error inside the body is reported at the
        body's line, with a note at the use site.
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
        layer: _Layer = entry.data
        try:
            scope = block.bind(layer.args, source.shape)
            sub = _Compiler(scope, self.user_blocks, (*self.stack, block.kind), self.modules)
            body = Input(source.shape, source.layout, LIST_INPUT, entry.span, source.origin)
            single = self._single(sub, block, scope)
            if single is not None:
                node = sub.infer(single, [body], module_path, name)
                return replace(node, kind=block.kind, span=entry.span)
            place = _Place(module_path + ".", scope, block.kind, output=block.output)
            children, output = sub.layer_list(block.layers, body, place)
        except NetspecError as exc:
            raise with_note(exc, f"in block '{block.kind}', used here", entry.span) from None
        group = blocks.lookup("group")
        assert group is not None
        inferred = Inferred.of(children, output=output)
        return _node(entry, group, name, module_path, source, inferred)

    @staticmethod
    def _single(sub: _Compiler, block: UserBlock, scope: Scope) -> Entry | None:
        """The one layer a block of one plain module layer consists of, prepared."""
        if len(block.layers) != 1 or block.output is not None:
            return None
        item = Item(block.layers[0], scope)
        if sub._spliced(item) is not None:
            return None
        entry = sub.prepare(item, wiring=True)
        reads_input = entry.reads is None or [label for label, _ in entry.reads] == [LIST_INPUT]
        if not entry.present or entry.functional or not reads_input:
            return None
        return entry


def _node(
    entry: Entry,
    block: blocks.Block,
    name: str,
    module_path: str,
    source: Input,
    result: Inferred,
) -> Node:
    """The node of one layer, from what its shape rule reported."""
    layout = result.layout
    if layout is None:
        same_rank = len(result.out_shape) == len(source.shape)
        layout = source.layout if same_rank else default_layout(result.out_shape)
    layer: _Layer = entry.data
    return Node(
        kind=entry.kind,
        name=name,
        path=module_path,
        args=layer.args,
        in_shape=source.shape,
        out_shape=result.out_shape,
        params=result.params,
        macs=result.macs,
        span=entry.span,
        children=result.children,
        block=block,
        window=result.window,
        branches=result.branches,
        merge=result.merge,
        module=not entry.functional,
        layout=layout,
        output=result.output,
        unknown_field=result.unknown_field,
    )
