"""The table of built-in layer kinds; each kind adds itself from its own file.

A :class:`Block` bundles the three things the compiler needs to know about a kind — its
argument model (schema), its shape rule (pure integers) and its builder (torch, imported
lazily). A kind's file declares its argument model with the :func:`kind` decorator, and
the package (:mod:`netspec.blocks`) imports every file it holds, so adding a kind is
adding one file. Like torchvision's model registry, registering a name twice is an error
rather than a silent override.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..ir import ApplyFn, BuildFn, InferFn
    from ..schema import LayerArgs

Args = TypeVar("Args", bound="type[LayerArgs]")


@dataclass(frozen=True)
class Block:
    """A layer kind: ``args`` validates its fields, ``infer`` its shapes, ``build`` its module.

    ``apply`` is its functional form (``F.relu``, ``torch.cat``...), which a layer with
    ``functional: true`` runs inside its parent's forward; kinds without one (those with
    weights, containers) are modules only. ``always_functional`` kinds have no module at all
    (``mul``, ``channel_split``); ``many_inputs`` kinds read several values (the merges).
    """

    kind: str
    args: type[LayerArgs]
    infer: InferFn
    build: BuildFn
    summary: str
    example: str
    apply: ApplyFn | None = None
    always_functional: bool = False
    many_inputs: bool = False

    @property
    def takes_no_args(self) -> bool:
        """Whether ``- kind`` alone (no mapping) is a complete layer."""
        return all(not info.is_required() for info in self.args.model_fields.values())


class DuplicateBlockError(ValueError):
    """Raised when two blocks claim the same kind: a programming error, not a user one."""


_BLOCKS: dict[str, Block] = {}


def register(block: Block) -> Block:
    """Add a block; refuse a kind that is already taken."""
    if block.kind in _BLOCKS:
        raise DuplicateBlockError(f"block kind '{block.kind}' is already registered")
    _BLOCKS[block.kind] = block
    return block


def kind(name: str, example: str | None = None) -> Callable[[Args], Args]:
    """Class decorator: register the decorated argument model as the layer kind ``name``.

    The model's ``infer(self, shape, ctx)`` method is the shape rule, its static
    ``build(node, build_child)`` the builder, its docstring the kind's summary, and
    ``example`` (default: the bare name) a complete layer that shows its fields. A static
    ``apply(inputs, args, owner)`` is the functional form; the class attributes
    ``always_functional`` and ``many_inputs`` say what :class:`Block` says they mean.
    """

    def register_model(model: Args) -> Args:
        infer: Any = getattr(model, "infer", None)
        build: Any = getattr(model, "build", None)
        if not callable(infer) or not callable(build):
            raise TypeError(f"kind '{name}': {model.__name__} needs infer() and build()")
        block = Block(
            name,
            model,
            infer,
            build,
            model.__doc__ or "",
            example or name,
            apply=getattr(model, "apply", None),
            always_functional=bool(getattr(model, "always_functional", False)),
            many_inputs=bool(getattr(model, "many_inputs", False)),
        )
        register(block)
        return model

    return register_model


def unregister(kind: str) -> None:
    """Remove a block (tests register throwaway blocks and clean up after themselves)."""
    _BLOCKS.pop(kind, None)


def lookup(kind: str) -> Block | None:
    """The block for ``kind``, or None."""
    return _BLOCKS.get(kind)


def all_blocks() -> dict[str, Block]:
    """Every registered block, by kind, in registration order."""
    return dict(_BLOCKS)
