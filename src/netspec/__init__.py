"""netspec — a declarative layer-spec compiler for PyTorch.

    >>> import netspec
    >>> spec = netspec.load("specs/vgg11.yaml", params={"ratio": 8})
    >>> spec.output_shape
    (10,)
    >>> model = spec.build(seed=0)          # a torch.nn.Module
    >>> resnet50 = netspec.load("resnet.yaml", variant="resnet50")   # one member of a family

Importing netspec does not import torch; building and exporting do.
"""

from __future__ import annotations

from .compiler import CompiledSpec, variant_values
from .errors import (
    ArtifactError,
    BuildError,
    DataError,
    DeviceError,
    ExportError,
    ExpressionError,
    InputError,
    NetspecError,
    SchemaError,
    ShapeError,
    SourceError,
    UsageError,
    WriteError,
)
from .spec import Spec, compile_spec
from .version import __version__

#: ``netspec.load`` is the short name of :func:`compile_spec`.
load = compile_spec
#: ``netspec.variants(path)``: a family spec's variants, name -> the param values it sets.
variants = variant_values

__all__ = [
    "ArtifactError",
    "BuildError",
    "CompiledSpec",
    "DataError",
    "DeviceError",
    "ExportError",
    "ExpressionError",
    "InputError",
    "NetspecError",
    "SchemaError",
    "ShapeError",
    "SourceError",
    "Spec",
    "UsageError",
    "WriteError",
    "__version__",
    "compile_spec",
    "load",
    "variants",
]
