"""``flatten`` — (C, H, W) → (C·H·W,), keeping the batch dimension."""

from __future__ import annotations

from typing import Any

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, Window, kind, numel


@kind("flatten")
class Flatten(LayerArgs):
    """Flatten each sample into a vector, so the 256*5*5 of hand-written code is inferred."""

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        # Every feature of the vector may come from anywhere in the map (receptive field).
        window = Window((shape[1], shape[2]), (shape[1], shape[2])) if len(shape) == 3 else None
        return Inferred((numel(shape),), window=window)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.Flatten()

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        import torch

        return torch.flatten(inputs[0], 1)
