"""The ``torchscript`` format (``.ts.pt``): a ``torch.jit`` archive that runs without Python.

libtorch loads it from C++; the spec and metadata travel as extra files in the zip. Without
``--optimize`` the archive keeps the spec's module tree, so its ``state_dict`` has the
spec's keys; with it, the weights are frozen into the graph, and the oneDNN conversion the
tuner may choose (which cannot be serialised) is redone each time the artifact is opened.

In bf16, fp16 and int8 (:mod:`netspec.lowprecision`) the program is traced rather than
scripted, and frozen; int8 programs run oneDNN's quantized kernels, whose engine is set
when such an archive is opened.
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

#: The quantized engine of int8 archives: oneDNN, with 8-bit activations (the ``x86``
#: engine's default qconfig uses 7-bit ``reduce_range`` activations: less accurate, no
#: faster on CPUs with VNNI). It is process-wide, so it is set again when one is opened.
QUANTIZED_ENGINE = "onednn"


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
    """Script ``module`` (frozen with ``--optimize``), or lower it to ``options.precision``
    and trace it, and save it with ``files``."""
    import torch

    if options.precision == "fp32":
        scripted = script(module, frozen=options.frozen)
    else:
        scripted = _lowered(module, example, options)
    with quiet_jit():
        torch.jit.save(scripted, str(path), _extra_files=files)


def _lowered(
    module: nn.Module, example: torch.Tensor, options: WriteOptions
) -> torch.jit.ScriptModule:
    """The bf16, fp16 or int8 program, traced and frozen."""
    from ..lowprecision import half_precision, quantize_int8, trace_frozen

    if options.precision == "int8":
        if options.calibration is None:
            raise ExportError("int8 TorchScript needs calibration images", code="NS603")
        lowered = quantize_int8(
            module, options.calibration, options.calibration_batch, QUANTIZED_ENGINE
        )
    else:
        lowered = half_precision(module, options.precision)
    engine = QUANTIZED_ENGINE if options.precision == "int8" else None
    try:
        return trace_frozen(lowered, example, engine)
    except Exception as exc:  # the tracer raises many types; any means "cannot"
        raise ExportError(
            f"TorchScript cannot trace the {options.precision} model: {exc}".splitlines()[0],
            code="NS609",
        ) from None


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
    if meta.get("precision") == "int8":
        # Quantized weights are packed for the engine that is current when they load.
        engine = (meta.get("quantization") or {}).get("engine", QUANTIZED_ENGINE)
        if engine in torch.backends.quantized.supported_engines:
            torch.backends.quantized.engine = engine
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
    precisions=("fp32", "bf16", "fp16", "int8"),
    int8_scheme={
        "library": "torch.ao.quantization (FX graph mode), traced and frozen",
        "engine": QUANTIZED_ENGINE,
        "activations": "uint8, per tensor, histogram calibration",
        "weights": "int8, per channel",
        "reduce_range": False,
    },
)
