"""``leaky_relu`` — ReLU with a small slope for negative inputs (``nn.LeakyReLU``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import BuildChild, FloatField, Inferred, LayerArgs, Node, Shape, ShapeContext, kind


@kind("leaky_relu", example="leaky_relu: {slope: 0.1}")
class LeakyRelu(LayerArgs):
    """nn.LeakyReLU, elementwise (functional: F.leaky_relu)."""

    slope: FloatField(0.0, 1e6) = Field(  # type: ignore[valid-type]
        0.01, description="slope for negative inputs (PyTorch's negative_slope)"
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.LeakyReLU(node.args.slope)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return functional.leaky_relu(inputs[0], args.slope)
