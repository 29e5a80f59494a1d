"""``maxpool`` and ``avgpool`` — 2-D pooling; one rule, two torch modules."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    Padding2,
    Shape,
    ShapeContext,
    Size2,
    StrictBool,
    Window,
    kind,
    pool_out,
    require_image,
    require_positive,
)


class Pool(LayerArgs):
    """2-D pooling window. ``stride`` defaults to the kernel size, as in PyTorch."""

    kernel: Size2 = Field(description="window size: k or [kh, kw]", examples=[3])
    stride: Size2 | None = Field(
        None, description="stride (default: the kernel size)", examples=[2]
    )
    padding: Padding2 = Field((0, 0), description="implicit padding on both sides")
    ceil_mode: StrictBool = Field(False, description="round output sizes up")

    def strides(self) -> tuple[int, int]:
        return self.stride if self.stride is not None else self.kernel

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        if any(self.padding[i] * 2 > self.kernel[i] for i in range(2)):
            ctx.fail("padding must be at most half the kernel size", field="padding", code="NS405")
        stride = self.strides()
        oh = pool_out(h, self.kernel[0], stride[0], self.padding[0], ceil_mode=self.ceil_mode)
        ow = pool_out(w, self.kernel[1], stride[1], self.padding[1], ceil_mode=self.ceil_mode)
        require_positive(ctx, shape, (oh, ow), f"window {self.kernel[0]}x{self.kernel[1]}")
        return Inferred((c, oh, ow), window=Window(self.kernel, stride))

    def torch_arguments(self) -> tuple[Any, Any, Any]:
        """Kernel, stride and padding as the torch module takes them.

        Square windows are passed as one int, so the module prints as the seed's does.
        """
        return _compact(self.kernel), _compact(self.strides()), _compact(self.padding)


def _compact(pair: tuple[int, int]) -> int | tuple[int, int]:
    return pair[0] if pair[0] == pair[1] else pair


@kind("maxpool", example="maxpool: {kernel: 3, stride: 2}")
class MaxPool(Pool):
    """Max pooling (``nn.MaxPool2d``)."""

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.MaxPool2d(*node.args.torch_arguments(), ceil_mode=node.args.ceil_mode)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return functional.max_pool2d(inputs[0], *args.torch_arguments(), ceil_mode=args.ceil_mode)


@kind("avgpool", example="avgpool: {kernel: 2}")
class AvgPool(Pool):
    """Average pooling (``nn.AvgPool2d``)."""

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.AvgPool2d(*node.args.torch_arguments(), ceil_mode=node.args.ceil_mode)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return functional.avg_pool2d(inputs[0], *args.torch_arguments(), ceil_mode=args.ceil_mode)
