"""netspec — a declarative layer-spec compiler for PyTorch.

    >>> import netspec
    >>> spec = netspec.load("specs/vgg11.yaml", params={"ratio": 8})
    >>> spec.output_shape
    (10,)
    >>> model = spec.build(seed=0)          # a torch.nn.Module

Importing netspec does not import torch; building and exporting do.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .compiler import CompiledSpec, compile_spec
from .errors import (
    BuildError,
    ExportError,
    ExpressionError,
    NetspecError,
    SchemaError,
    ShapeError,
    SourceError,
    UsageError,
)

#: ``netspec.load`` is the short name of :func:`compile_spec`.
load = compile_spec

__all__ = [
    "BuildError",
    "CompiledSpec",
    "ExportError",
    "ExpressionError",
    "NetspecError",
    "SchemaError",
    "ShapeError",
    "SourceError",
    "UsageError",
    "__version__",
    "compile_spec",
    "load",
]
