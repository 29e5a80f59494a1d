"""``conv_transpose`` — a transposed 2-D convolution (``nn.ConvTranspose2d``), the
learnable upsampling of decoders; in-channels are inferred.

Output size per axis: (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1,
PyTorch's rule. Each output pixel gathers several input windows, so the receptive field is
not tracked after it (the summary shows ``-``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    Padding2,
    PositiveInt,
    Shape,
    ShapeContext,
    Size2,
    StrictBool,
    kind,
    require_image,
    require_positive,
    require_stated,
)


@kind("conv_transpose", example="conv_transpose: {out: 16, kernel: 2, stride: 2}")
class ConvTranspose(LayerArgs):
    """Transposed 2-D convolution. ``in`` (input channels) is inferred."""

    out: PositiveInt = Field(description="output channels", examples=[64])
    kernel: Size2 = Field(description="kernel size: k or [kh, kw]", examples=[2])
    stride: Size2 = Field((1, 1), description="stride: s or [sh, sw] (the upsampling factor)")
    padding: Padding2 = Field((0, 0), description="removed from both sides of the output")
    output_padding: Padding2 = Field(
        (0, 0), description="added to one side of the output (less than stride or dilation)"
    )
    dilation: Size2 = Field((1, 1), description="kernel dilation")
    groups: PositiveInt = Field(1, description="grouped convolution: in and out must divide")
    bias: StrictBool = Field(True, description="learn an additive bias")
    in_channels: PositiveInt | None = Field(
        None,
        alias="in",
        description="input channels (inferred; stating it adds a check)",
        examples=[64],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        require_stated(ctx, self.in_channels, c, "input channels", shape)
        if c % self.groups or self.out % self.groups:
            ctx.fail(
                f"groups={self.groups} must divide both the input channels ({c}) and "
                f"'out' ({self.out})",
                field="groups",
                code="NS405",
            )
        for axis in range(2):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                ctx.fail(
                    f"'output_padding' {self.output_padding[axis]} must be smaller than the "
                    f"stride or the dilation ({max(self.stride[axis], self.dilation[axis])})",
                    field="output_padding",
                    code="NS405",
                )
        sizes = (h, w)
        out_hw = tuple(
            (sizes[i] - 1) * self.stride[i]
            - 2 * self.padding[i]
            + self.dilation[i] * (self.kernel[i] - 1)
            + self.output_padding[i]
            + 1
            for i in range(2)
        )
        require_positive(
            ctx,
            shape,
            out_hw,
            f"padding {self.padding[0]}x{self.padding[1]}",  # type: ignore[arg-type]
        )
        per_input = (self.out // self.groups) * self.kernel[0] * self.kernel[1]
        params = c * per_input + (self.out if self.bias else 0)
        return Inferred(
            (self.out, *out_hw), params=params, macs=c * h * w * per_input, unknown_field=True
        )

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        args: ConvTranspose = node.args
        return nn.ConvTranspose2d(
            node.in_shape[0],
            args.out,
            args.kernel,
            stride=args.stride,
            padding=args.padding,
            output_padding=args.output_padding,
            groups=args.groups,
            bias=args.bias,
            dilation=args.dilation,
        )
