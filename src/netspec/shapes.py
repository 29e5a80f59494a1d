"""Stage 4 — shapes as pure integer arithmetic (this module never imports torch).

The formulas are the ones PyTorch documents for ``nn.Conv2d`` and the pooling layers, kept
here as small pure functions (as timm keeps its padding formulas) so that every block's
shape rule and the summary table use the same arithmetic, and so that ``netspec check``
can compute every tensor shape of a network in microseconds. Receptive fields are the same
kind of arithmetic over sliding windows; the nodes they are recorded on are the IR's
(:mod:`netspec.ir`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Shape of one sample, without the batch dimension: (C, H, W) or (F,).
Shape = tuple[int, ...]


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (``nn.Conv2d`` formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(
    size: int,
    kernel: int,
    stride: int,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of max/avg pooling along one axis, ``ceil_mode`` included."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # PyTorch drops a last window that would start entirely inside the right padding.
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def format_shape(shape: Shape) -> str:
    """``(64, 112, 112)`` — how shapes are shown in messages and in the summary."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def numel(shape: Shape) -> int:
    """Number of elements of one sample of this shape."""
    total = 1
    for d in shape:
        total *= d
    return total


#: Bytes of one activation element: summaries assume fp32, as training does by default.
BYTES_PER_ELEMENT = 4
#: Receptive field of a position: (size, jump) per axis, in input pixels. ``jump`` is the
#: distance in input pixels between neighbouring positions of the feature map.
Field2 = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Window:
    """The sliding window of a conv or pool (per axis), which is all a receptive field needs.

    Layers without a window (activations, batch norm, linear on vectors) keep the receptive
    field they receive; global layers (``gap``, ``flatten``) declare a window as large as
    their input, since each output sees the whole feature map.
    """

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)


def grow(rf: Field2, window: Window) -> Field2:
    """Receptive field after one window: r' = r + (k - 1)·d·j and j' = j·s, per axis."""
    (rh, rw), (jh, jw) = rf
    k, s, d = window.kernel, window.stride, window.dilation
    return (
        (rh + (k[0] - 1) * d[0] * jh, rw + (k[1] - 1) * d[1] * jw),
        (jh * s[0], jw * s[1]),
    )


def widest(fields: list[Field2]) -> Field2:
    """The field of a merge: per axis, the largest size and the smallest jump of its inputs.

    Inputs of ``add`` and ``concat`` have one map size and so one jump; a broadcasting
    ``mul`` also reads a global pool's (C, 1, 1) (squeeze-excitation), whose jump is the
    whole map's: the merged map's positions are those of its full-size input.
    """
    return (
        (max(f[0][0] for f in fields), max(f[0][1] for f in fields)),
        (min(f[1][0] for f in fields), min(f[1][1] for f in fields)),
    )
