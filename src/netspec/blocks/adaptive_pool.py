"""``adaptive_avgpool`` and ``adaptive_maxpool`` — pool any feature map to a fixed size.

(C, H, W) → (C, h, w) whatever H and W are: torchvision's classifiers end with
``nn.AdaptiveAvgPool2d((1, 1))`` (or ``(6, 6)``, ``(7, 7)``) so that they accept any input
size. Output position i of an axis pools input positions floor(i·H/h) to ceil((i+1)·H/h);
for the receptive field that is a window of ceil(H/h) with stride H//h (exact when h
divides H).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    Size2,
    Window,
    kind,
    require_image,
)


class AdaptivePool(LayerArgs):
    """Pool to ``size`` (h, w) from any input size."""

    #: The torch module (in torch.nn) and function (in torch.nn.functional).
    torch_names: ClassVar[tuple[str, str]]

    size: Size2 = Field((1, 1), description="output size: s or [h, w]", examples=[7])

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        sizes = (h, w)
        kernel = tuple(-(-sizes[i] // self.size[i]) for i in range(2))
        stride = tuple(max(1, sizes[i] // self.size[i]) for i in range(2))
        return Inferred((c, *self.size), window=Window(kernel, stride))  # type: ignore[arg-type]

    def torch_size(self) -> int | tuple[int, int]:
        """The size as torch takes it: one int for a square (printed as torchvision's)."""
        return self.size[0] if self.size[0] == self.size[1] else self.size

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return getattr(nn, node.args.torch_names[0])(node.args.torch_size())

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return getattr(functional, args.torch_names[1])(inputs[0], args.torch_size())


@kind("adaptive_avgpool", example="adaptive_avgpool: {size: 7}")
class AdaptiveAvgPool(AdaptivePool):
    """Average pooling to a fixed output size (nn.AdaptiveAvgPool2d)."""

    torch_names = ("AdaptiveAvgPool2d", "adaptive_avg_pool2d")


@kind("adaptive_maxpool", example="adaptive_maxpool: {size: [2, 3]}")
class AdaptiveMaxPool(AdaptivePool):
    """Max pooling to a fixed output size (nn.AdaptiveMaxPool2d)."""

    torch_names = ("AdaptiveMaxPool2d", "adaptive_max_pool2d")
