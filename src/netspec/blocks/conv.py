"""``conv`` — a 2-D convolution (``nn.Conv2d``); in-channels are inferred."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    PaddingOrSame,
    PositiveInt,
    Shape,
    ShapeContext,
    Size2,
    StrictBool,
    Window,
    conv_out,
    kind,
    require_image,
    require_positive,
    require_stated,
)


@kind("conv", example="conv: {out: 96, kernel: 11, stride: 4}")
class Conv(LayerArgs):
    """2-D convolution. ``in`` (input channels) is inferred; stating it adds a check."""

    out: PositiveInt = Field(description="output channels", examples=[64])
    kernel: Size2 = Field(description="kernel size: k or [kh, kw]", examples=[3])
    stride: Size2 = Field((1, 1), description="stride: s or [sh, sw]")
    padding: PaddingOrSame = Field(
        (0, 0),
        description="zero padding: p, [ph, pw], 'same' (stride 1 only: the output keeps the "
        "input's size) or 'auto' ((kernel - 1) // 2 * dilation, at any stride)",
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

    def explicit_padding(self) -> tuple[int, int]:
        """Explicit padding, resolving 'same' for odd kernels (stride 1) and 'auto'."""
        if self.padding == "same":
            return tuple(self.dilation[i] * (self.kernel[i] - 1) // 2 for i in range(2))  # type: ignore[return-value]
        if self.padding == "auto":
            return tuple((self.kernel[i] - 1) // 2 * self.dilation[i] for i in range(2))  # type: ignore[return-value]
        return self.padding

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        require_stated(ctx, self.in_channels, c, "input channels", shape)
        if self.padding == "same":
            if self.stride != (1, 1):
                ctx.fail("padding 'same' needs stride 1", field="padding", code="NS405")
            if any((self.dilation[i] * (self.kernel[i] - 1)) % 2 for i in range(2)):
                ctx.fail("padding 'same' needs an odd kernel", field="padding", code="NS405")
        if c % self.groups or self.out % self.groups:
            ctx.fail(
                f"groups={self.groups} must divide both the input channels ({c}) and "
                f"'out' ({self.out})",
                field="groups",
                code="NS405",
            )
        pad = self.explicit_padding()
        oh = conv_out(h, self.kernel[0], self.stride[0], pad[0], self.dilation[0])
        ow = conv_out(w, self.kernel[1], self.stride[1], pad[1], self.dilation[1])
        require_positive(
            ctx,
            shape,
            (oh, ow),
            f"kernel {self.kernel[0]}x{self.kernel[1]} with padding {pad[0]}x{pad[1]}",
        )
        per_output = (c // self.groups) * self.kernel[0] * self.kernel[1]
        params = self.out * per_output + (self.out if self.bias else 0)
        return Inferred(
            (self.out, oh, ow),
            params=params,
            macs=self.out * oh * ow * per_output,
            window=Window(self.kernel, self.stride, self.dilation),
        )

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        args: Conv = node.args
        return nn.Conv2d(
            node.in_shape[0],
            args.out,
            args.kernel,
            stride=args.stride,
            padding=args.explicit_padding(),
            dilation=args.dilation,
            groups=args.groups,
            bias=args.bias,
        )
