"""``group`` — a named or unnamed ``nn.Sequential`` of layers, to mirror a module tree."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs, LayerList
from ..shapes import Shape


class Group(LayerArgs):
    """Layers run in order inside one submodule (``self.conv = nn.Sequential(...)``)."""

    layers: LayerList = Field(
        description="the group's layers",
        min_length=1,
        examples=[["flatten", {"linear": {"out": 10}}]],
    )


def infer(args: Group, shape: Shape, ctx: InferContext) -> Inferred:
    children = ctx.sequence(ctx.items("layers", args.layers), shape)
    return sequential_result(children)


def sequential_result(children: list[Node]) -> Inferred:
    """Totals of a sequence of children: the last output, summed params and MACs."""
    return Inferred(
        children[-1].out_shape,
        params=sum(c.params for c in children),
        macs=sum(c.macs for c in children),
        children=children,
    )


def build_sequential(node: Node, build_child: Any) -> object:
    """An ``nn.Sequential`` whose children keep their names (index or explicit)."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(OrderedDict((c.name, build_child(c)) for c in node.children))


register(
    Block(
        "group",
        Group,
        infer,
        build_sequential,
        Group.__doc__ or "",
        "group: {name: fc, layers: [flatten, linear: {out: 10}]}",
    )
)
