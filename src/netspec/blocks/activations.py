"""``relu``, ``relu6``, ``sigmoid``, ``tanh``, ``hardswish``, ``hardsigmoid``, ``silu`` —
elementwise activations without fields; the shape (and layout) is unchanged.

One rule: each kind is a torch module (``nn.ReLU``...) and, with ``functional: true``,
the matching function (``F.relu``...), as a hand-written forward calls ``F.relu(x)``
instead of a module.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, kind


class Activation(LayerArgs):
    """An elementwise nonlinearity; takes no fields besides the common ones."""

    #: Its module in ``torch.nn`` and its function in ``torch.nn.functional``.
    torch_names: ClassVar[tuple[str, str]]

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return getattr(nn, node.args.torch_names[0])()

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return getattr(functional, args.torch_names[1])(inputs[0])


@kind("relu")
class ReLU(Activation):
    """nn.ReLU, elementwise (functional: F.relu)."""

    torch_names = ("ReLU", "relu")


@kind("sigmoid")
class Sigmoid(Activation):
    """nn.Sigmoid, elementwise (functional: F.sigmoid)."""

    torch_names = ("Sigmoid", "sigmoid")


@kind("tanh")
class Tanh(Activation):
    """nn.Tanh, elementwise (functional: F.tanh)."""

    torch_names = ("Tanh", "tanh")


@kind("relu6")
class ReLU6(Activation):
    """nn.ReLU6, elementwise: min(max(x, 0), 6) (functional: F.relu6)."""

    torch_names = ("ReLU6", "relu6")


@kind("hardswish")
class Hardswish(Activation):
    """nn.Hardswish, elementwise (functional: F.hardswish); MobileNetV3's activation."""

    torch_names = ("Hardswish", "hardswish")


@kind("hardsigmoid")
class Hardsigmoid(Activation):
    """nn.Hardsigmoid, elementwise (functional: F.hardsigmoid); MobileNetV3's gate."""

    torch_names = ("Hardsigmoid", "hardsigmoid")


@kind("silu")
class SiLU(Activation):
    """nn.SiLU (swish), elementwise (functional: F.silu); EfficientNet's activation."""

    torch_names = ("SiLU", "silu")
