"""``batchnorm`` — batch normalisation; 2-D for images, 1-D for flat features."""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import FloatField, LayerArgs, PositiveInt
from ..shapes import Shape
from ._common import require_stated


class BatchNorm(LayerArgs):
    """Batch norm over channels (images) or features (vectors); the count is inferred."""

    eps: FloatField(0.0, 1.0) = Field(1e-5, description="added to the variance")  # type: ignore[valid-type]
    momentum: FloatField(0.0, 1.0) = Field(0.1, description="running-stats momentum")  # type: ignore[valid-type]
    features: PositiveInt | None = Field(
        None,
        alias="in",
        description="channels/features (inferred; stating it adds a check)",
        examples=[64],
    )


def infer(args: BatchNorm, shape: Shape, ctx: InferContext) -> Inferred:
    require_stated(ctx, args.features, shape[0], "channels", shape)
    return Inferred(shape, params=2 * shape[0], macs=0)


def build(node: Node, build_child: object) -> object:
    from torch import nn

    a: BatchNorm = node.args
    cls = nn.BatchNorm2d if len(node.in_shape) == 3 else nn.BatchNorm1d
    return cls(node.in_shape[0], eps=a.eps, momentum=a.momentum)


register(Block("batchnorm", BatchNorm, infer, build, BatchNorm.__doc__ or "", "batchnorm"))
