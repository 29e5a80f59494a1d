"""``linear`` — a fully connected layer (``nn.Linear``); in-features are inferred."""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs, PositiveInt, StrictBool
from ..shapes import Shape, format_shape
from ._common import require_stated


class Linear(LayerArgs):
    """Fully connected layer. ``in`` (input features) is inferred; stating it adds a check."""

    out: PositiveInt = Field(description="output features", examples=[4096])
    bias: StrictBool = Field(True, description="learn an additive bias")
    in_features: PositiveInt | None = Field(
        None,
        alias="in",
        description="input features (inferred; stating it adds a check)",
        examples=[6400],
    )


def infer(args: Linear, shape: Shape, ctx: InferContext) -> Inferred:
    if len(shape) != 1:
        ctx.fail(
            f"needs a flat input but gets {format_shape(shape)} {ctx.came_from()}",
            hint="add '- flatten' before this layer",
        )
    (features,) = shape
    require_stated(ctx, args.in_features, features, "input features", shape)
    params = features * args.out + (args.out if args.bias else 0)
    return Inferred((args.out,), params=params, macs=features * args.out)


def build(node: Node, build_child: object) -> object:
    from torch import nn

    return nn.Linear(node.in_shape[0], node.args.out, bias=node.args.bias)


register(Block("linear", Linear, infer, build, Linear.__doc__ or "", "linear: {out: 10}"))
