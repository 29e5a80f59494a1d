"""``concat`` and ``add`` — parallel branches from one input, merged into one output.

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

from typing import Any, Literal, NoReturn

from pydantic import Field

from ..compiler import InferContext, LayerItem
from ..errors import Diagnostic, SchemaError, ShapeError, Span
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs, LayerList
from ..shapes import Shape, conv_out, format_shape


class Concat(LayerArgs):
    """Run every branch on the same input; concatenate their outputs on channels."""

    branches: list[LayerList] = Field(
        min_length=2,
        description="the branches, each a list of layers ([] passes the input through)",
        examples=[[[{"conv": {"out": 64, "kernel": 1}}], []]],
    )


class Add(LayerArgs):
    """Run every branch on the same input; add their outputs (a residual connection)."""

    branches: list[LayerList] = Field(
        min_length=2,
        description="the branches, each a list of layers ([] passes the input through)",
        examples=[[[{"conv": {"out": 64, "kernel": 3, "padding": 1}}], []]],
    )
    projection: Literal["none", "conv", "conv_bn"] = Field(
        "none",
        description="when an identity branch's shape differs: add a 1x1 conv (conv), or a "
        "1x1 conv without bias and a batch norm (conv_bn), with the stride that fits",
        examples=["conv"],
    )


def infer_merge(args: Concat | Add, shape: Shape, ctx: InferContext) -> Inferred:
    mode = "add" if isinstance(args, Add) else "concat"
    branches: list[list[Node]] = []
    for index, raws in enumerate(args.branches):
        items = ctx.branch_items("branches", index, raws)
        branches.append(ctx.sequence(items, shape, names=f"{index}_") if items else [])
    outs = [branch[-1].out_shape if branch else shape for branch in branches]
    if mode == "add":
        _project(args, shape, ctx, branches, outs)
    _check_names(branches)
    ref = next((i for i, branch in enumerate(branches) if branch), 0)
    for index, out in enumerate(outs):
        same = out == outs[ref] if mode == "add" else out[1:] == outs[ref][1:]
        if len(out) != len(outs[ref]) or not same:
            _mismatch(ctx, args, branches, outs, index, ref)
    children = [node for branch in branches for node in branch]
    out_shape = outs[ref] if mode == "add" else (sum(o[0] for o in outs), *outs[ref][1:])
    return Inferred(
        out_shape,
        params=sum(c.params for c in children),
        macs=sum(c.macs for c in children),
        children=children,
        branches=branches,
        merge=mode,
    )


def _project(
    args: Add, shape: Shape, ctx: InferContext, branches: list[list[Node]], outs: list[Shape]
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
        layers = [
            LayerItem.synthesized(
                "conv", out=target[0], kernel=1, stride=stride, bias=args.projection == "conv"
            )
        ]
        if args.projection == "conv_bn":
            layers.append(LayerItem.synthesized("batchnorm"))
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
                    )
                ]
            )
        seen[node.name] = node


def _mismatch(
    ctx: InferContext,
    args: Concat | Add,
    branches: list[list[Node]],
    outs: list[Shape],
    index: int,
    ref: int,
) -> NoReturn:
    """Say which branch disagrees with which, on which lines, and what each gives."""
    here, there = ctx.branch_span("branches", index), ctx.branch_span("branches", ref)

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
    raise ShapeError(
        f"{ctx.kind}: {what(index, here)} but {what(ref, there)}; {need}",
        here,
        hint,
        notes=[(f"branch {ref + 1} is here", there)],
    )


def build(node: Node, build_child: Any) -> object:
    from ..modules import Merge

    modules: list[tuple[str, Any]] = []
    starts: list[bool] = []
    ends: list[int] = []
    assert node.branches is not None
    for index, branch in enumerate(node.branches):
        for position, child in enumerate(branch):
            modules.append((child.name, build_child(child)))
            starts.append(position == 0)
            ends.append(index if position == len(branch) - 1 else -1)
    return Merge(modules, starts, ends, len(node.branches), node.merge == "add")


register(
    Block(
        "concat",
        Concat,
        infer_merge,
        build,
        Concat.__doc__ or "",
        "concat: {branches: [[conv: {out: 64, kernel: 1}], []]}",
    )
)
register(
    Block(
        "add",
        Add,
        infer_merge,
        build,
        Add.__doc__ or "",
        "add: {projection: conv, branches: [[conv: {out: 64, kernel: 3, padding: 1}], []]}",
    )
)
