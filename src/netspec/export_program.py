"""The ``export`` format: a ``torch.export`` ExportedProgram (``.pt2``), dynamic batch.

An ExportedProgram is the graph of ATen operations that PyTorch 2's deployment paths
(AOTInductor, ExecuTorch, ``torch.compile``) start from, with the weights alongside. It
is saved with ``torch.export.save``; the spec and metadata travel in its ``extra/`` files.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .errors import ExportError

#: The name of the batch dimension in the program's signature.
BATCH_DIM = "batch"


def export_program(module: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """Export ``module`` (eval mode) with every dimension fixed except the batch.

    ``example`` needs a batch of at least 2: torch.export specialises dimensions of size 1.
    """
    from .export import MAX_BATCH

    batch = torch.export.Dim(BATCH_DIM, min=1, max=MAX_BATCH)
    try:
        return torch.export.export(module.eval(), (example,), dynamic_shapes=({0: batch},))
    except Exception as exc:  # torch.export raises many types; any means "cannot export"
        raise ExportError(f"torch.export cannot export this model: {exc}".splitlines()[0]) from None


def write_program(
    module: nn.Module, example: torch.Tensor, path: Path, files: dict[str, str]
) -> None:
    """Export ``module`` and save the program with ``files`` as its extra files."""
    program = export_program(module, example)
    # A file object, not a name: torch.export warns about names that do not end in .pt2,
    # and atomic writes go through a temporary name.
    with open(path, "wb") as stream:
        torch.export.save(program, stream, extra_files=files)
