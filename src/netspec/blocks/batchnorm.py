"""``batchnorm`` — batch normalisation; 2-D for images, 1-D for flat features."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    FloatField,
    Inferred,
    LayerArgs,
    Node,
    PositiveInt,
    Shape,
    ShapeContext,
    kind,
    require_channels_first,
    require_stated,
)


@kind("batchnorm")
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

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        require_channels_first(ctx, shape)
        require_stated(ctx, self.features, shape[0], "channels", shape)
        return Inferred(shape, params=2 * shape[0], macs=0)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        a: BatchNorm = node.args
        cls = nn.BatchNorm2d if len(node.in_shape) == 3 else nn.BatchNorm1d
        return cls(node.in_shape[0], eps=a.eps, momentum=a.momentum)
