"""``relu``, ``sigmoid``, ``tanh`` — elementwise activations; shape is unchanged."""

from __future__ import annotations

from typing import Any

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, kind


class Activation(LayerArgs):
    """An elementwise nonlinearity; takes no fields besides an optional name."""

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)


def _builder(torch_name: str) -> Any:
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return getattr(nn, torch_name)()

    return staticmethod(build)


for _kind, _torch_name in (("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh")):
    kind(_kind)(
        type(
            _torch_name,
            (Activation,),
            {"__doc__": f"nn.{_torch_name}, elementwise.", "build": _builder(_torch_name)},
        )
    )
