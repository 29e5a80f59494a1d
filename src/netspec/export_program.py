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


def write_compiled_program(
    module: nn.Module, example: torch.Tensor, path: Path, files: dict[str, str]
) -> None:
    """Export ``module`` and compile it ahead of time with AOTInductor (``--compile``).

    The package holds a shared library built for this machine's CPU (or GPU) with the
    weights frozen in: loads without Python-side compilation, runs only where it was built.
    The netspec files are added to the package's ``extra/`` folder, where ``.pt2`` programs
    keep them too.
    """
    import shutil
    import tempfile
    import zipfile

    program = export_program(module, example)
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / "model.pt2"
        try:
            torch._inductor.aoti_compile_and_package(
                program, package_path=str(package), inductor_configs={"freezing": True}
            )
        except Exception as exc:  # compiler failures come in many types
            raise ExportError(
                f"AOTInductor cannot compile this model: {exc}".splitlines()[0]
            ) from None
        with zipfile.ZipFile(package, "a") as archive:
            root = archive.namelist()[0].split("/")[0]
            for name, text in files.items():
                archive.writestr(f"{root}/extra/{name}", text)
        shutil.copyfile(package, path)
