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
from pathlib import Path

from .registry import Block, all_blocks, lookup

#: Modules of this package that are infrastructure, not kinds.
_NOT_KINDS = ("api", "registry")

# The package's own files, in name order (pkgutil would do the same, at an import's cost
# that `netspec check` pays on every run).
for _file in sorted(Path(__file__).parent.glob("*.py")):
    if _file.stem not in _NOT_KINDS and not _file.stem.startswith("_"):
        importlib.import_module(f"{__name__}.{_file.stem}")

__all__ = ["Block", "all_blocks", "lookup"]
