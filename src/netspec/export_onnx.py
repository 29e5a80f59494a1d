"""The ``onnx`` format: an ONNX model with a dynamic batch dimension, for onnxruntime.

Needs the optional extra (``pip install netspec[onnx]``: onnx, onnxscript; onnxruntime to
verify and run). The model goes through ``torch.onnx.export(dynamo=True)`` — the
torch.export-based exporter — and the spec and metadata are stored as the model's
``metadata_props`` under the same names the zip formats use for their extra files.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch
from torch import nn

from .errors import ExportError

#: Names of the graph's input and output.
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def require_onnx() -> None:
    """Refuse clearly when the optional ONNX extra is missing."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError(
            "--format onnx needs the onnx extra: pip install 'netspec[onnx]' "
            "(onnx, onnxscript, onnxruntime)"
        ) from None


def write_onnx(module: nn.Module, example: torch.Tensor, path: Path, files: dict[str, str]) -> None:
    """Export ``module`` to ONNX at ``path`` with ``files`` as metadata properties."""
    require_onnx()
    import onnx

    from .export import MAX_BATCH
    from .export_program import BATCH_DIM

    batch = torch.export.Dim(BATCH_DIM, min=1, max=MAX_BATCH)
    # The exporter reports its progress on stdout and warns about things users cannot act
    # on; netspec reports the result itself.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module.eval(),
                (example,),
                dynamo=True,
                dynamic_shapes=({0: batch},),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                optimize=True,
                verbose=False,
            )
        except Exception as exc:  # the exporter raises many types; any means "cannot"
            raise ExportError(f"ONNX export failed: {exc}".splitlines()[0]) from None
    if program is None:
        raise ExportError("ONNX export produced no model")
    proto = program.model_proto
    onnx.helper.set_model_props(proto, dict(files))
    try:
        onnx.checker.check_model(proto)
        onnx.save_model(proto, str(path))
    except (ValueError, onnx.checker.ValidationError) as exc:
        raise ExportError(f"ONNX model is invalid or too large: {exc}".splitlines()[0]) from None
