"""Built-in layer kinds, one file each; the table finds each kind's file by its name.

Every module here except the block API (``api``) and the table (``registry``) defines one
kind — or one family sharing a rule, such as the activations — with the
:func:`~netspec.blocks.registry.kind` decorator: its argument model, its shape rule and its
builder. Each kind is declared by a line ``@kind("name"...)`` at the start of a line; this
package reads those lines (it does not import the files) and the table imports a file when
a spec first uses one of its kinds. So a new kind is a new file and nothing else, and
``netspec check`` builds the argument models of the kinds a spec uses, not of all forty.
Nothing here imports torch at import time — builders import it when called — so
``netspec check`` stays torch-free.
"""

from __future__ import annotations

import re
from pathlib import Path

from .registry import Block, all_blocks, expect, kind_names, lookup

#: Modules of this package that are infrastructure, not kinds.
_NOT_KINDS = ("api", "registry")
#: A kind's declaration: the decorator with the kind's name as a literal, at a line start.
DECLARATION = re.compile(r'^@kind\(\s*"([A-Za-z_][A-Za-z0-9_]*)"', re.MULTILINE)

# The package's own files, in name order (pkgutil would do the same, at an import's cost
# that `netspec check` pays on every run).
for _file in sorted(Path(__file__).parent.glob("*.py")):
    if _file.stem in _NOT_KINDS or _file.stem.startswith("_"):
        continue
    _names = DECLARATION.findall(_file.read_text(encoding="utf-8"))
    if not _names:
        raise ImportError(f'{_file} declares no kind: write @kind("name", ...) at a line start')
    for _name in _names:
        expect(_name, f"{__name__}.{_file.stem}")

__all__ = ["DECLARATION", "Block", "all_blocks", "kind_names", "lookup"]
