"""``gelu`` — the Gaussian error linear unit (``nn.GELU``); the shape is unchanged."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, kind


@kind("gelu", example="gelu: {approximate: tanh}")
class Gelu(LayerArgs):
    """nn.GELU, elementwise (functional: F.gelu); ConvNeXt's activation."""

    approximate: Literal["none", "tanh"] = Field(
        "none", description="none: the exact erf form; tanh: the tanh approximation"
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.GELU(approximate=node.args.approximate)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return functional.gelu(inputs[0], approximate=args.approximate)
