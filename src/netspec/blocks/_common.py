"""Shape checks that several blocks share, worded the same way everywhere."""

from __future__ import annotations

from ..compiler import InferContext
from ..shapes import Shape, format_shape


def require_image(ctx: InferContext, shape: Shape) -> tuple[int, int, int]:
    """Insist on a (C, H, W) input; explain where a flat input came from otherwise."""
    if len(shape) != 3:
        ctx.fail(
            f"needs a (C, H, W) input but gets the flat shape {format_shape(shape)} "
            f"{ctx.came_from()}",
            hint="image layers must come before 'flatten'",
        )
    c, h, w = shape
    return c, h, w


def require_stated(
    ctx: InferContext, stated: int | None, actual: int, what: str, shape: Shape, field: str = "in"
) -> None:
    """A user may state in-channels/in-features; then it must match what arrives."""
    if stated is not None and stated != actual:
        ctx.fail(
            f"'{field}' says {stated} {what} but the input {format_shape(shape)} "
            f"{ctx.came_from()} has {actual}",
            field=field,
            hint=f"remove '{field}' (netspec infers it) or fix the layers before this one",
        )


def require_positive(ctx: InferContext, shape: Shape, out_hw: tuple[int, int], why: str) -> None:
    """A window that does not fit the feature map leaves nothing: say which and why."""
    if out_hw[0] < 1 or out_hw[1] < 1:
        ctx.fail(
            f"{why} does not fit the input {format_shape(shape)} {ctx.came_from()}: "
            f"the output would be {out_hw[0]}x{out_hw[1]}",
            field="kernel",
            hint="use a smaller kernel or stride, more padding, or a larger input",
        )
