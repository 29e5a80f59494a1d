"""The table of built-in layer kinds; each kind adds itself from its own file.

A :class:`Block` bundles the three things the compiler needs to know about a kind — its
argument model (schema), its shape rule (pure integers) and its builder (torch, imported
lazily). A kind's file declares its argument model with the :func:`kind` decorator; the
package (:mod:`netspec.blocks`) notes which file declares which kind (:func:`expect`) and
the table imports a file when one of its kinds is first looked up — so adding a kind is
adding one file, and ``netspec check`` pays only for the kinds a spec uses. Like
torchvision's model registry, registering a name twice is an error rather than a silent
override.
"""

from __future__ import annotations

import importlib
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
#: Kinds whose file is known but not imported yet: kind -> module name.
_PENDING: dict[str, str] = {}
#: Every expected kind, in the order of their files and of the declarations in them.
_ORDER: list[str] = []


def expect(kind: str, module: str) -> None:
    """Note that ``module`` declares ``kind``: it is imported when the kind is looked up."""
    if kind in _PENDING or kind in _BLOCKS:
        where = _PENDING.get(kind, "an imported module")
        raise DuplicateBlockError(f"block kind '{kind}' is declared by {where} and {module}")
    _PENDING[kind] = module
    _ORDER.append(kind)


def register(block: Block) -> Block:
    """Add a block; refuse a kind that is already taken."""
    if block.kind in _BLOCKS:
        raise DuplicateBlockError(f"block kind '{block.kind}' is already registered")
    _PENDING.pop(block.kind, None)
    _BLOCKS[block.kind] = block
    return block


def _load(kind: str) -> None:
    """Import the file that declares ``kind`` (registering its kinds), if not done yet."""
    module = _PENDING.get(kind)
    if module is not None:
        importlib.import_module(module)
        if kind in _PENDING:
            raise DuplicateBlockError(
                f"{module} promised block kind '{kind}' but did not register it"
            )


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
    """The block for ``kind`` (its file imported now if need be), or None."""
    if kind not in _BLOCKS:
        _load(kind)
    return _BLOCKS.get(kind)


def kind_names() -> list[str]:
    """Every kind's name, without importing any kind's file (for 'did you mean')."""
    return [*_ORDER, *(kind for kind in _BLOCKS if kind not in _ORDER)]


def all_blocks() -> dict[str, Block]:
    """Every block, by kind, in the order of their files (each file imported)."""
    for kind in list(_PENDING):
        _load(kind)
    return {kind: _BLOCKS[kind] for kind in kind_names() if kind in _BLOCKS}
