"""``activation`` — an activation chosen by name (``fn: silu``), for blocks whose
activation is a param (torchvision's ``Conv2dNormActivation(activation_layer=...)``).

It builds exactly the module the named kind builds (``nn.SiLU`` for ``silu``), so a block
written with ``activation: {fn: act}`` has the state_dict and outputs of one written with
the kind itself; with default arguments for the kinds that take some.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, WordField, kind

#: kind name -> (module in torch.nn, function in torch.nn.functional)
FUNCTIONS = {
    "relu": ("ReLU", "relu"),
    "relu6": ("ReLU6", "relu6"),
    "sigmoid": ("Sigmoid", "sigmoid"),
    "tanh": ("Tanh", "tanh"),
    "hardswish": ("Hardswish", "hardswish"),
    "hardsigmoid": ("Hardsigmoid", "hardsigmoid"),
    "silu": ("SiLU", "silu"),
    "gelu": ("GELU", "gelu"),
    "leaky_relu": ("LeakyReLU", "leaky_relu"),
    "identity": ("Identity", ""),
}

#: A word naming one of them, or a block param holding one (``fn: act``).
ActivationName = WordField(tuple(FUNCTIONS))


@kind("activation", example="activation: {fn: hardswish}")
class Activation(LayerArgs):
    """The activation kind named by ``fn`` (a word, or a block param holding one)."""

    fn: ActivationName = Field(
        description="which activation: relu, relu6, sigmoid, tanh, hardswish, hardsigmoid, "
        "silu, gelu, leaky_relu or identity",
        examples=["silu"],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return getattr(nn, FUNCTIONS[node.args.fn][0])()

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        function = FUNCTIONS[args.fn][1]
        if not function:
            return inputs[0]
        from torch.nn import functional

        return getattr(functional, function)(inputs[0])
