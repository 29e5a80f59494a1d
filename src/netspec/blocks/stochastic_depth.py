"""``stochastic_depth`` — drop a residual branch at random while training (torchvision's
``ops.StochasticDepth``); the identity in eval mode.

``mode: row`` drops each sample's branch independently, ``batch`` the whole batch's; the
survivors are scaled by 1 / (1 - p). EfficientNet and ConvNeXt give each block its own
``p``, growing with depth: ``p: "0.2 * (sum(depths[:s]) + i) / sum(depths)"``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .api import BuildChild, Inferred, LayerArgs, Node, Probability, Shape, ShapeContext, kind


@kind("stochastic_depth", example="stochastic_depth: {p: 0.1}")
class StochasticDepth(LayerArgs):
    """Drop the input (per sample or per batch) with probability p while training."""

    p: Probability = Field(description="probability of dropping", examples=[0.1])
    mode: Literal["row", "batch"] = Field(
        "row", description="row: per sample; batch: the whole batch at once"
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from ..modules import StochasticDepth as StochasticDepthModule

        return StochasticDepthModule(node.args.p, node.args.mode)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from ..modules import stochastic_depth

        return stochastic_depth(inputs[0], args.p, args.mode, owner.training)
