"""``relu``, ``relu6``, ``sigmoid``, ``tanh``, ``hardswish``, ``hardsigmoid``, ``silu`` —
elementwise activations without fields; the shape (and layout) is unchanged.

One rule, one table: each kind is a torch module (``nn.ReLU``...) and, with
``functional: true``, the matching function (``F.relu``...), as a hand-written forward
calls ``F.relu(x)`` instead of a module.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .api import BuildChild, Inferred, LayerArgs, Node, Shape, ShapeContext, kind

#: kind -> (torch module in torch.nn, function in torch.nn.functional)
ACTIVATIONS = {
    "relu": ("ReLU", "relu"),
    "relu6": ("ReLU6", "relu6"),
    "sigmoid": ("Sigmoid", "sigmoid"),
    "tanh": ("Tanh", "tanh"),
    "hardswish": ("Hardswish", "hardswish"),
    "hardsigmoid": ("Hardsigmoid", "hardsigmoid"),
    "silu": ("SiLU", "silu"),
}


class Activation(LayerArgs):
    """An elementwise nonlinearity; takes no fields besides the common ones."""

    #: Its function in ``torch.nn.functional``.
    function: ClassVar[str]

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred(shape)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return getattr(functional, args.function)(inputs[0])


def _builder(torch_name: str) -> Any:
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return getattr(nn, torch_name)()

    return staticmethod(build)


for _kind, (_torch_name, _function_name) in ACTIVATIONS.items():
    # Module-level classes, so that a built model that holds their arguments pickles.
    globals()[_torch_name] = kind(_kind)(
        type(
            _torch_name,
            (Activation,),
            {
                "__doc__": f"nn.{_torch_name}, elementwise (functional: F.{_function_name}).",
                "__module__": __name__,
                "build": _builder(_torch_name),
                "function": _function_name,
            },
        )
    )
