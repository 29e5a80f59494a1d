"""``identity`` — passes its input through unchanged (``nn.Identity``).

A placeholder where a network has a slot but nothing in it (torchvision replaces a
classifier head by ``nn.Identity`` to expose features), or a named no-op. It is also the
worked example of adding a kind in ``docs/architecture.md``: this file is all it took.
"""

from __future__ import annotations

from typing import Any

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, kind


@kind("identity")
class Identity(LayerArgs):
    """Passes its input through unchanged (nn.Identity); no parameters."""

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.Identity()

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        return inputs[0]
