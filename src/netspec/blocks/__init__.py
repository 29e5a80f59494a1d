"""Built-in layer kinds, one file each; importing this package registers them all.

Every module here except the block API (``api``) and the table (``registry``) defines one
kind — or one family sharing a rule, such as the activations — with the
:func:`~netspec.blocks.registry.kind` decorator: its argument model, its shape rule and its
builder. The package imports each such module it finds, so a new kind is a new file and
nothing else. Nothing here imports torch at import time — builders import it when
called — so ``netspec check`` stays torch-free.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import Block, all_blocks, lookup

#: Modules of this package that are infrastructure, not kinds.
_NOT_KINDS = ("api", "registry")

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_KINDS and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Block", "all_blocks", "lookup"]
