"""``dropout`` — zero activations at random while training (``nn.Dropout``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import BuildChild, Inferred, LayerArgs, Node, Probability, Shape, ShapeContext, kind


@kind("dropout", example="dropout: {p: 0.5}")
class Dropout(LayerArgs):
    """Dropout with probability ``p`` (0.5 by default, as the seed uses); any input shape."""

    p: Probability = Field(0.5, description="probability of zeroing an element")

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.Dropout(node.args.p)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return functional.dropout(inputs[0], args.p, owner.training)
