"""The block registry: one entry per layer kind, each defined in one file under ``blocks/``.

A block bundles the three things the compiler needs to know about a kind — its argument
model (schema), its shape rule (pure integers) and its builder (torch, imported lazily) —
so adding a kind touches one file. Like torchvision's model registry, registering a name
twice is an error rather than a silent override.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiler import InferContext
    from .ir import Inferred, Node
    from .schema import LayerArgs
    from .shapes import Shape

InferFn = Callable[["Any", "Shape", "InferContext"], "Inferred"]
#: A builder gets the node and a function that builds child nodes; returns an nn.Module.
BuildFn = Callable[["Node", Callable[["Node"], Any]], Any]


@dataclass(frozen=True)
class Block:
    """A layer kind: ``args`` validates its fields, ``infer`` its shapes, ``build`` its module."""

    kind: str
    args: type[LayerArgs]
    infer: InferFn
    build: BuildFn
    summary: str
    example: str

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


def unregister(kind: str) -> None:
    """Remove a block (tests register throwaway blocks and clean up after themselves)."""
    _BLOCKS.pop(kind, None)


def lookup(kind: str) -> Block | None:
    """The block for ``kind``, or None."""
    _ensure_loaded()
    return _BLOCKS.get(kind)


def all_blocks() -> dict[str, Block]:
    """Every registered block, by kind, in registration order."""
    _ensure_loaded()
    return dict(_BLOCKS)


def _ensure_loaded() -> None:
    # Importing the package registers the built-in blocks (each module calls register()).
    from . import blocks  # noqa: F401
