"""``maxpool`` and ``avgpool`` — 2-D pooling; one rule, two torch modules."""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs, Padding2, Size2, StrictBool
from ..shapes import Shape, Window, pool_out
from ._common import require_image, require_positive


class Pool(LayerArgs):
    """2-D pooling window. ``stride`` defaults to the kernel size, as in PyTorch."""

    kernel: Size2 = Field(description="window size: k or [kh, kw]", examples=[3])
    stride: Size2 | None = Field(
        None, description="stride (default: the kernel size)", examples=[2]
    )
    padding: Padding2 = Field((0, 0), description="implicit padding on both sides")
    ceil_mode: StrictBool = Field(False, description="round output sizes up")


class MaxPool(Pool):
    """Max pooling (``nn.MaxPool2d``)."""


class AvgPool(Pool):
    """Average pooling (``nn.AvgPool2d``)."""


def _stride(args: Pool) -> tuple[int, int]:
    return args.stride if args.stride is not None else args.kernel


def infer(args: Pool, shape: Shape, ctx: InferContext) -> Inferred:
    c, h, w = require_image(ctx, shape)
    if any(args.padding[i] * 2 > args.kernel[i] for i in range(2)):
        ctx.fail("padding must be at most half the kernel size", field="padding")
    stride = _stride(args)
    oh = pool_out(h, args.kernel[0], stride[0], args.padding[0], ceil_mode=args.ceil_mode)
    ow = pool_out(w, args.kernel[1], stride[1], args.padding[1], ceil_mode=args.ceil_mode)
    require_positive(ctx, shape, (oh, ow), f"window {args.kernel[0]}x{args.kernel[1]}")
    return Inferred((c, oh, ow), window=Window(args.kernel, stride))


def _compact(pair: tuple[int, int]) -> int | tuple[int, int]:
    # Square windows are passed as one int, so the module prints as the seed's does.
    return pair[0] if pair[0] == pair[1] else pair


def build_max(node: Node, build_child: object) -> object:
    from torch import nn

    a: Pool = node.args
    return nn.MaxPool2d(
        _compact(a.kernel), _compact(_stride(a)), _compact(a.padding), ceil_mode=a.ceil_mode
    )


def build_avg(node: Node, build_child: object) -> object:
    from torch import nn

    a: Pool = node.args
    return nn.AvgPool2d(
        _compact(a.kernel), _compact(_stride(a)), _compact(a.padding), ceil_mode=a.ceil_mode
    )


register(
    Block(
        "maxpool",
        MaxPool,
        infer,
        build_max,
        MaxPool.__doc__ or "",
        "maxpool: {kernel: 3, stride: 2}",
    )
)
register(Block("avgpool", AvgPool, infer, build_avg, AvgPool.__doc__ or "", "avgpool: {kernel: 2}"))
