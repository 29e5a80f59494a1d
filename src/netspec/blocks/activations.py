"""``relu``, ``sigmoid``, ``tanh`` — elementwise activations; shape is unchanged."""

from __future__ import annotations

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs
from ..shapes import Shape


class Activation(LayerArgs):
    """An elementwise nonlinearity; takes no fields besides an optional name."""


def infer(args: Activation, shape: Shape, ctx: InferContext) -> Inferred:
    return Inferred(shape)


def _builder(torch_name: str):  # type: ignore[no-untyped-def]
    def build(node: Node, build_child: object) -> object:
        from torch import nn

        return getattr(nn, torch_name)()

    return build


for _kind, _torch_name in (("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh")):
    _model = type(_torch_name, (Activation,), {"__doc__": f"nn.{_torch_name}, elementwise."})
    register(Block(_kind, _model, infer, _builder(_torch_name), _model.__doc__ or "", _kind))
