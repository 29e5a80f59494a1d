"""``concat`` and ``add`` — merge several values into one: branches, or earlier layers.

Two forms. With ``from: [a, b, ...]`` (the dataflow form) they merge earlier layers of
the same list, as ``torch.cat([a, b], 1)`` and ``a + b`` do in a hand-written forward, and
make no module. With ``branches`` they run layer lists on one shared input:

``concat`` joins the branch outputs along the channel axis (Inception, DenseNet); ``add``
sums them (ResNet's residual connection). A branch is a list of layers; an empty branch is
the identity, so a residual block is ``add: {branches: [[...layers...], []]}``. With
``projection: conv`` (or ``conv_bn``) an identity branch whose shape differs from the
others gets a 1×1 convolution with the stride that makes it fit — d2l's ``use_1x1conv``,
decided by the shapes instead of by a flag.

Every branch layer becomes a child of the merge module itself, named by the author
(``name: p1_1``) or ``{branch}_{index}`` otherwise, so a merge written in a spec can have
exactly the module names of a hand-written block such as the seed's ``Inception``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn

from pydantic import Field

from .api import (
    CHANNELS_LAST,
    BuildChild,
    Diagnostic,
    Inferred,
    LayerArgs,
    LayerList,
    Located,
    Node,
    SchemaError,
    Shape,
    ShapeContext,
    Span,
    conv_out,
    format_shape,
    input_notes,
    input_phrase,
    kind,
)


class _Merge:
    """The rule ``concat`` and ``add`` share: branches from one input, merged into one output.

    A mixin rather than a model of its own: each kind declares its fields itself.
    """

    if TYPE_CHECKING:
        branches: list[list[Located]] | None

    many_inputs: ClassVar[bool] = True

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        mode = "add" if isinstance(self, Add) else "concat"
        if self.branches is None:
            return _merge_inputs(self, ctx, mode)
        branches: list[list[Node]] = [
            ctx.sequence(layers, shape, names=f"{index}_") if layers else []
            for index, layers in enumerate(self.branches)
        ]
        outs = [branch[-1].out_shape if branch else shape for branch in branches]
        if isinstance(self, Add):
            _project(self, shape, ctx, branches, outs)
        _check_names(branches)
        ref = next((i for i, branch in enumerate(branches) if branch), 0)
        for index, out in enumerate(outs):
            same = out == outs[ref] if mode == "add" else out[1:] == outs[ref][1:]
            if len(out) != len(outs[ref]) or not same:
                _mismatch(ctx, self, branches, outs, index, ref)
        out_shape = outs[ref] if mode == "add" else (sum(o[0] for o in outs), *outs[ref][1:])
        children = [node for branch in branches for node in branch]
        return Inferred.of(children, out_shape, branches=branches, merge=mode)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from ..modules import Merge as MergeModule

        modules: list[tuple[str, Any]] = []
        starts: list[bool] = []
        ends: list[int] = []
        assert node.branches is not None
        for index, branch in enumerate(node.branches):
            for position, child in enumerate(branch):
                modules.append((child.name, build_child(child)))
                starts.append(position == 0)
                ends.append(index if position == len(branch) - 1 else -1)
        return MergeModule(modules, starts, ends, len(node.branches), node.merge == "add")


@kind("concat", example="concat: {branches: [[conv: {out: 64, kernel: 1}], []]}")
class Concat(_Merge, LayerArgs):
    """Concatenate on channels: earlier layers (from: [a, b]), or branches on one input."""

    branches: list[LayerList] | None = Field(
        None,
        min_length=2,
        description="the branches, each a list of layers ([] passes the input through); "
        "or name earlier layers in 'from' instead",
        examples=[[[{"conv": {"out": 64, "kernel": 1}}], []]],
    )

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        import torch

        return torch.cat(inputs, 1)


@kind(
    "add",
    example="add: {projection: conv, branches: [[conv: {out: 64, kernel: 3, padding: 1}], []]}",
)
class Add(_Merge, LayerArgs):
    """Sum (a residual connection): earlier layers (from: [a, b]), or branches on one input."""

    branches: list[LayerList] | None = Field(
        None,
        min_length=2,
        description="the branches, each a list of layers ([] passes the input through); "
        "or name earlier layers in 'from' instead",
        examples=[[[{"conv": {"out": 64, "kernel": 3, "padding": 1}}], []]],
    )
    projection: Literal["none", "conv", "conv_bn"] = Field(
        "none",
        description="when an identity branch's shape differs: add a 1x1 conv (conv), or a "
        "1x1 conv without bias and a batch norm (conv_bn), with the stride that fits",
        examples=["conv"],
    )

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        total = inputs[0]
        for value in inputs[1:]:
            total = total + value
        return total


def _merge_inputs(args: _Merge, ctx: ShapeContext, mode: str) -> Inferred:
    """The dataflow form: the values ``from`` names, checked alike and merged."""
    inputs = ctx.inputs
    if len(inputs) < 2:
        ctx.fail(
            f"{mode} needs 'branches', or two or more inputs in 'from'",
            hint=f"e.g. {mode}: {{from: [conv2, input]}}",
            code="NS405",
        )
    if isinstance(args, Add) and args.projection != "none":
        ctx.fail(
            "'projection' works only with 'branches'",
            field="projection",
            hint="with 'from', write the 1x1 conv as a layer (a group such as ResNet's "
            "'downsample')",
            code="NS405",
        )
    first = inputs[0]
    for index, value in enumerate(inputs):
        if value.layout == CHANNELS_LAST and mode == "concat":
            ctx.fail(
                f"joins channels of channels-first inputs, but {input_phrase(value)} is "
                f"channels-last {format_shape(value.shape)}",
                at=ctx.where("from", index),
                hint="permute back first: permute: {dims: [0, 3, 1, 2]}",
                code="NS407",
            )
        if mode == "add":
            fits = value.shape == first.shape
            need = "add needs equal shapes"
            hint = (
                "give both the same stride, or give one a 1x1 conv with the stride that fits "
                "(ResNet's 'downsample')"
            )
        else:
            fits = len(value.shape) == len(first.shape) and value.shape[1:] == first.shape[1:]
            need = "concat joins channels, so height and width must match"
            hint = "pad or stride the inputs alike so that their feature maps have the same size"
        if not fits:
            ctx.fail(
                f"{input_phrase(value)} gives {format_shape(value.shape)} but "
                f"{input_phrase(first)} gives {format_shape(first.shape)}; {need}",
                at=ctx.where("from", index),
                hint=hint,
                notes=input_notes(value, first),
                code="NS404",
            )
    if mode == "add":
        return Inferred(first.shape)
    channels = sum(value.shape[0] for value in inputs)
    return Inferred((channels, *first.shape[1:]))


def _project(
    args: Add, shape: Shape, ctx: ShapeContext, branches: list[list[Node]], outs: list[Shape]
) -> None:
    """Give identity branches that do not fit a 1×1 conv (+ bn) that does, if asked to."""
    target = next((outs[i] for i, branch in enumerate(branches) if branch), None)
    if args.projection == "none" or target is None or len(shape) != 3 or len(target) != 3:
        return
    for index, branch in enumerate(branches):
        if branch or outs[index] == target:
            continue
        stride = [_fitting_stride(shape[1 + axis], target[1 + axis]) for axis in range(2)]
        if None in stride:
            continue  # no 1x1 conv fits: reported as a mismatch, with the shapes
        bias = args.projection == "conv"
        layers = [ctx.layer("conv", out=target[0], kernel=1, stride=stride, bias=bias)]
        if args.projection == "conv_bn":
            layers.append(ctx.layer("batchnorm"))
        branches[index] = ctx.sequence(layers, shape, names=f"{index}_")
        outs[index] = branches[index][-1].out_shape


def _fitting_stride(size: int, target: int) -> int | None:
    """The stride of a 1×1 convolution that maps ``size`` to ``target``, if any."""
    for stride in range(1, size + 1):
        if conv_out(size, 1, stride) == target:
            return stride
    return None


def _check_names(branches: list[list[Node]]) -> None:
    """Branch layers share the merge module's namespace: names must differ across branches."""
    seen: dict[str, Node] = {}
    for node in (node for branch in branches for node in branch):
        if node.name in seen:
            raise SchemaError(
                diagnostics=[
                    Diagnostic(
                        f"duplicate module name '{node.name}' in the branches of one merge",
                        node.span,
                        "layers of all branches become children of the merge module; "
                        "give them different names",
                        [("first used here", seen[node.name].span)],
                        code="NS207",
                    )
                ]
            )
        seen[node.name] = node


def _mismatch(
    ctx: ShapeContext,
    args: _Merge,
    branches: list[list[Node]],
    outs: list[Shape],
    index: int,
    ref: int,
) -> NoReturn:
    """Say which branch disagrees with which, on which lines, and what each gives."""
    here, there = ctx.where("branches", index), ctx.where("branches", ref)

    def what(i: int, span: Span) -> str:
        identity = "" if branches[i] else "identity, "
        return f"branch {i + 1} ({identity}line {span.line}) gives {format_shape(outs[i])}"

    if isinstance(args, Add):
        need, hint = "add needs equal shapes", None
        if not (branches[index] and branches[ref]):
            hint = (
                "add 'projection: conv' (or conv_bn) to fit the identity with a 1x1 convolution"
                if args.projection == "none"
                else "no 1x1 convolution maps one of these shapes to the other"
            )
    else:
        need = "concat joins channels, so height and width must match"
        hint = "pad or stride the branches alike so that their feature maps have the same size"
    ctx.fail(
        f"{what(index, here)} but {what(ref, there)}; {need}",
        at=here,
        hint=hint,
        notes=[(f"branch {ref + 1} is here", there)],
        code="NS404",
    )
