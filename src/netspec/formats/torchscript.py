"""The ``torchscript`` format (``.ts.pt``): a ``torch.jit`` archive that runs without Python.

libtorch loads it from C++; the spec and metadata travel as extra files in the zip. Without
``--optimize`` the archive keeps the spec's module tree, so its ``state_dict`` has the
spec's keys; with it, the weights are frozen into the graph, and the oneDNN conversion the
tuner may choose (which cannot be serialised) is redone each time the artifact is opened.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError, ExportError
from ..runtime import quiet_jit
from .base import (
    ArtifactFile,
    Format,
    OpenOptions,
    Recognised,
    Runner,
    WriteOptions,
    module_runner,
    read_zip_metadata,
)

if TYPE_CHECKING:
    import torch
    from torch import nn


def script(module: nn.Module, *, frozen: bool) -> torch.jit.ScriptModule:
    """``module`` (eval mode) as TorchScript; ``frozen`` folds the weights into the graph.

    Layer lists with wiring (:class:`~netspec.modules.Dataflow`) are traced first — for
    their compiled input shapes, in eval mode — and the rest is scripted as usual, so the
    archive keeps every state_dict key. ``module`` itself is left as it was.
    """
    import torch

    with quiet_jit():
        try:
            scripted = torch.jit.script(traced_dataflows(module.eval()))
            return torch.jit.freeze(scripted) if frozen else scripted
        except Exception as exc:  # torch raises many types; any means "cannot script"
            raise ExportError(
                f"TorchScript cannot compile this model: {exc}".splitlines()[0]
            ) from None


def traced_dataflows(module: nn.Module) -> nn.Module:
    """``module`` with each Dataflow replaced by its trace; a shallow copy where anything
    changed (the parameters are shared, ``module`` is untouched)."""
    from ..modules import Dataflow

    if isinstance(module, Dataflow):
        return module.traced()
    if not any(isinstance(m, Dataflow) for m in module.modules()):
        return module
    clone = copy.copy(module)
    clone.__dict__["_modules"] = {
        name: traced_dataflows(child) if child is not None else None
        for name, child in module._modules.items()
    }
    return clone


def mkldnn_convert(frozen: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """``torch.jit.optimize_for_inference`` on CPU: oneDNN layouts across the whole graph."""
    import torch

    with quiet_jit():
        return torch.jit.optimize_for_inference(frozen)


def write(
    module: nn.Module,
    example: torch.Tensor,
    path: Path,
    files: dict[str, str],
    options: WriteOptions,
) -> None:
    """Script ``module`` (frozen with ``--optimize``) and save it with ``files``."""
    import torch

    scripted = script(module, frozen=options.frozen)
    with quiet_jit():
        torch.jit.save(scripted, str(path), _extra_files=files)


def read(file: ArtifactFile) -> Recognised | None:
    """A zip with TorchScript's ``code/`` folder (and not a .pt2 archive's marker)."""
    names = file.zip_names
    if names is None or any(n.endswith("/archive_format") for n in names):
        return None
    if not any("/code/" in n for n in names):
        return None
    return read_zip_metadata(file, FORMAT.noun)


def open_artifact(
    file: ArtifactFile, device: torch.device, meta: dict[str, Any], options: OpenOptions
) -> Runner:
    """The TorchScript program as a runner on ``device``; untrusted, its code is checked
    first (:func:`netspec.formats.safety.check_torchscript`) and the checked bytes loaded."""
    import torch

    from .safety import check_torchscript  # lazily: `netspec check` imports the table

    if not options.trust:
        check_torchscript(file.data, file.path)
    try:
        with quiet_jit():
            module = torch.jit.load(file.stream(), map_location=device).eval()
    except Exception as exc:
        raise ArtifactError(
            f"cannot load TorchScript artifact {file.path}: {exc}".splitlines()[0]
        ) from None
    plan = meta.get("optimization") or {}
    if plan.get("mkldnn_at_load") and device.type == "cpu" and torch.backends.mkldnn.is_available():
        module = mkldnn_convert(module)
    return module_runner(module, device)


FORMAT = Format(
    name="torchscript",
    suffix=".ts.pt",
    label="TorchScript",
    noun="TorchScript archive",
    short="TorchScript",
    summary=".ts.pt",
    write=write,
    read=read,
    open=open_artifact,
    scripted=True,
)
