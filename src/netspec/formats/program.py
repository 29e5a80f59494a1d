"""The ``export`` format (``.pt2``): a ``torch.export`` ExportedProgram with a dynamic batch.

An ExportedProgram is the graph of ATen operations that PyTorch 2's deployment paths
(AOTInductor, ExecuTorch, ``torch.compile``) start from, with the weights alongside. It
is saved with ``torch.export.save``; the spec and metadata travel in its ``extra/`` files.

With ``--compile`` the program is compiled ahead of time by AOTInductor into a package
holding a shared library for this machine's CPU (or GPU), weights frozen in: it loads
without Python-side compilation and runs only where it was built. Its metadata says
``compiled``, and the same ``.pt2`` reader recognises it.

bf16 and fp16 programs hold lowered weights and cast their input inside
(:func:`netspec.lowprecision.half_precision`). There is no int8 ``.pt2``: PT2E quantization
lives in torchao, not torch 2.14, and its programs are fast only under ``torch.compile``
(AOTInductor compiles them to fp32 convolutions) — see docs/deployment.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError, ExportError
from .base import (
    ArtifactFile,
    Format,
    OpenOptions,
    Recognised,
    Runner,
    WriteOptions,
    dynamic_dims,
    module_runner,
    read_zip_metadata,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..spatial import SizeRange


def export_program(
    module: nn.Module, example: torch.Tensor, sizes: SizeRange | None = None
) -> torch.export.ExportedProgram:
    """Export ``module`` (eval mode) with every dimension fixed except the batch (and the
    height and width within ``sizes``, when given).

    ``example`` needs a batch of at least 2: torch.export specialises dimensions of size 1.
    """
    import torch

    try:
        return torch.export.export(
            module.eval(), (example,), dynamic_shapes=(dynamic_dims(example, sizes),)
        )
    except Exception as exc:  # torch.export raises many types; any means "cannot export"
        raise ExportError(f"torch.export cannot export this model: {exc}".splitlines()[0]) from None


def write(
    module: nn.Module,
    example: torch.Tensor,
    path: Path,
    files: dict[str, str],
    options: WriteOptions,
) -> None:
    """Export ``module`` and save the program (or its compiled package) with ``files``."""
    import torch

    if options.compile:
        _write_compiled(module, example, path, files, options)
        return
    if options.precision != "fp32":
        from ..lowprecision import half_precision

        module = half_precision(module, options.precision)
    # Weights are stored in the standard layout — torch.export's archive writer expects
    # it — and the loader applies the memory format the plan chose.
    module.to(memory_format=torch.contiguous_format)
    program = export_program(module, example, options.sizes)
    # A file object, not a name: torch.export warns about names that do not end in .pt2,
    # and atomic writes go through a temporary name.
    with open(path, "wb") as stream:
        torch.export.save(program, stream, extra_files=files)


def _write_compiled(
    module: nn.Module,
    example: torch.Tensor,
    path: Path,
    files: dict[str, str],
    options: WriteOptions,
) -> None:
    """Compile the exported program with AOTInductor; add ``files`` to the package's
    ``extra/`` folder, where ``.pt2`` programs keep them too."""
    import shutil
    import tempfile
    import zipfile

    import torch

    program = export_program(module, example, options.sizes)
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


def read(file: ArtifactFile) -> Recognised | None:
    """A zip with a ``.pt2`` archive's ``archive_format`` marker (compiled or not)."""
    names = file.zip_names
    if names is None or not any(n.endswith("/archive_format") for n in names):
        return None
    return read_zip_metadata(file, FORMAT.noun)


def open_artifact(
    file: ArtifactFile, device: torch.device, meta: dict[str, Any], options: OpenOptions
) -> Runner:
    """The program (or, trusted, the compiled package) as a runner on ``device``.

    Untrusted, the archive's bytes are checked (:func:`netspec.formats.safety.check_program`)
    and those same bytes are loaded by ``load_pt2``, the loader under ``torch.export.load``
    without its legacy fallback; a compiled package is refused (it is native code).
    """
    from .safety import check_program, refuse  # lazily: `netspec check` imports the table

    if meta.get("compiled"):
        if not options.trust:
            raise refuse(
                file.path, "it is an AOTInductor-compiled package: opening it loads native code"
            )
        return _open_compiled(file.path, device, meta)
    import torch

    try:
        if options.trust:
            program = torch.export.load(file.stream())
        else:
            check_program(file.data, file.path)
            from torch.export.pt2_archive._package import load_pt2

            program = load_pt2(file.stream()).exported_programs["model"]
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(
            f"cannot load .pt2 artifact {file.path}: {exc}".splitlines()[0]
        ) from None
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    module = program.module()
    if (meta.get("optimization") or {}).get("memory_format") == "channels_last":
        # Stored in the standard layout; --optimize measured channels-last faster here.
        module.to(memory_format=torch.channels_last)
    if options.compile:
        module = torch.compile(module)
    return module_runner(module, device)


def _open_compiled(path: Path, device: torch.device, meta: dict[str, Any]) -> Runner:
    """An AOTInductor package: machine code for the device it was compiled for."""
    import torch

    built_for = torch.device(meta["compiled"].get("device", "cpu"))
    if built_for.type != device.type:
        raise ArtifactError(
            f"{path} was compiled for {built_for.type}; rebuild it with --device {device.type} "
            "or use an uncompiled artifact"
        )
    try:
        module = torch._inductor.aoti_load_package(str(path))
    except Exception as exc:
        raise ArtifactError(
            f"cannot load compiled artifact {path}: {exc}".splitlines()[0]
        ) from None
    return module_runner(module, device)


FORMAT = Format(
    name="export",
    suffix=".pt2",
    label="torch.export program",
    noun="torch.export program",
    short=".pt2",
    summary="torch.export program, .pt2, dynamic batch",
    write=write,
    read=read,
    open=open_artifact,
    compiler="AOTInductor",
    precisions=("fp32", "bf16", "fp16"),
)
