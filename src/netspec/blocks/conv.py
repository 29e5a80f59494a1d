"""``conv`` — a 2-D convolution (``nn.Conv2d``); in-channels are inferred."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs, Padding2, PositiveInt, Size2, StrictBool
from ..shapes import Shape, Window, conv_out
from ._common import require_image, require_positive, require_stated


class Conv(LayerArgs):
    """2-D convolution. ``in`` (input channels) is inferred; stating it adds a check."""

    out: PositiveInt = Field(description="output channels", examples=[64])
    kernel: Size2 = Field(description="kernel size: k or [kh, kw]", examples=[3])
    stride: Size2 = Field((1, 1), description="stride: s or [sh, sw]")
    padding: Padding2 | Literal["same"] = Field(
        (0, 0), description="zero padding: p, [ph, pw], or 'same' (stride 1 only)"
    )
    dilation: Size2 = Field((1, 1), description="kernel dilation")
    groups: PositiveInt = Field(1, description="grouped convolution: in and out must divide")
    bias: StrictBool = Field(True, description="learn an additive bias")
    in_channels: PositiveInt | None = Field(
        None,
        alias="in",
        description="input channels (inferred; stating it adds a check)",
        examples=[3],
    )


def padding_of(args: Conv) -> tuple[int, int]:
    """Explicit padding, resolving 'same' for odd kernels (stride 1)."""
    if args.padding == "same":
        return tuple(args.dilation[i] * (args.kernel[i] - 1) // 2 for i in range(2))  # type: ignore[return-value]
    return args.padding  # type: ignore[return-value]


def infer(args: Conv, shape: Shape, ctx: InferContext) -> Inferred:
    c, h, w = require_image(ctx, shape)
    require_stated(ctx, args.in_channels, c, "input channels", shape)
    if args.padding == "same":
        if args.stride != (1, 1):
            ctx.fail("padding 'same' needs stride 1", field="padding")
        if any((args.dilation[i] * (args.kernel[i] - 1)) % 2 for i in range(2)):
            ctx.fail("padding 'same' needs an odd kernel", field="padding")
    if c % args.groups or args.out % args.groups:
        ctx.fail(
            f"groups={args.groups} must divide both the input channels ({c}) and "
            f"'out' ({args.out})",
            field="groups",
        )
    pad = padding_of(args)
    oh = conv_out(h, args.kernel[0], args.stride[0], pad[0], args.dilation[0])
    ow = conv_out(w, args.kernel[1], args.stride[1], pad[1], args.dilation[1])
    require_positive(
        ctx,
        shape,
        (oh, ow),
        f"kernel {args.kernel[0]}x{args.kernel[1]} with padding {pad[0]}x{pad[1]}",
    )
    per_output = (c // args.groups) * args.kernel[0] * args.kernel[1]
    params = args.out * per_output + (args.out if args.bias else 0)
    return Inferred(
        (args.out, oh, ow),
        params=params,
        macs=args.out * oh * ow * per_output,
        window=Window(args.kernel, args.stride, args.dilation),
    )


def build(node: Node, build_child: object) -> object:
    from torch import nn

    args: Conv = node.args
    return nn.Conv2d(
        node.in_shape[0],
        args.out,
        args.kernel,
        stride=args.stride,
        padding=padding_of(args),
        dilation=args.dilation,
        groups=args.groups,
        bias=args.bias,
    )


register(
    Block("conv", Conv, infer, build, Conv.__doc__ or "", "conv: {out: 96, kernel: 11, stride: 4}")
)
