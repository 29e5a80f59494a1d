"""The ``onnx`` format (``.onnx``): an ONNX model with a dynamic batch, for onnxruntime.

Needs the optional extra (``pip install netspec[onnx]``: onnx, onnxscript; onnxruntime to
verify and run). The model goes through ``torch.onnx.export(dynamo=True)`` — the
torch.export-based exporter — and the spec and metadata are stored as the model's
``metadata_props`` under the same names the zip formats use for their extra files.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError, ExportError
from .base import (
    BATCH_DIM,
    MAX_BATCH,
    META_FILE,
    SPEC_FILE,
    ArtifactFile,
    Format,
    OpenOptions,
    Recognised,
    Runner,
    WriteOptions,
    not_ours,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Names of the graph's input and output.
INPUT_NAME = "input"
OUTPUT_NAME = "output"
INSTALL = "pip install 'netspec[onnx]'"


def require_onnx() -> None:
    """Refuse clearly when the optional ONNX extra is missing."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError(
            f"--format onnx needs the onnx extra: {INSTALL} (onnx, onnxscript, onnxruntime)"
        ) from None


def write(
    module: nn.Module,
    example: torch.Tensor,
    path: Path,
    files: dict[str, str],
    options: WriteOptions,
) -> None:
    """Export ``module`` to ONNX at ``path`` with ``files`` as metadata properties."""
    require_onnx()
    import onnx
    import torch

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


def read(file: ArtifactFile) -> Recognised | None:
    """A protobuf that parses as an ONNX model (with onnx, else onnxruntime).

    Raises ImportError when neither is installed: the file cannot be told apart then.
    """
    if file.zip_names is not None:
        return None
    props = _metadata_props(file)
    if props is None:
        return None
    if META_FILE not in props:
        raise not_ours(file.path, "a file")
    try:
        meta = json.loads(props[META_FILE])
    except json.JSONDecodeError:
        raise not_ours(file.path, "an ONNX model") from None
    return Recognised(meta, props.get(SPEC_FILE, ""))


def _metadata_props(file: ArtifactFile) -> dict[str, str] | None:
    """The model's metadata properties; None when the file is not an ONNX model."""
    try:
        import onnx

        try:
            model = onnx.load_model_from_string(file.data)
        except Exception:  # protobuf decode errors come in several types
            return None
        return {p.key: p.value for p in model.metadata_props}
    except ImportError:
        import onnxruntime  # the ImportError of this one says that ONNX cannot be read

        try:
            session = onnxruntime.InferenceSession(file.data, providers=["CPUExecutionProvider"])
        except Exception:
            return None
        return dict(session.get_modelmeta().custom_metadata_map)


def _check_external_data(file: ArtifactFile) -> None:
    """Refuse a model whose tensors onnxruntime would read from other files."""
    try:
        import onnx
    except ImportError:  # without onnx the model cannot be inspected; onnxruntime reads it
        return  # from bytes, where a relative external path finds nothing
    from .safety import check_onnx  # lazily: `netspec check` imports the table

    check_onnx(onnx.load_model_from_string(file.data), file.path)


def open_artifact(
    file: ArtifactFile, device: torch.device, meta: dict[str, Any], options: OpenOptions
) -> Runner | None:
    """An onnxruntime session over the checked bytes; untrusted, a model that names other
    files (external data) is refused first."""
    import torch

    if not options.trust:
        _check_external_data(file)

    try:
        import onnxruntime
    except ImportError:
        if options.require_runtime:
            raise ArtifactError(f"running ONNX artifacts needs onnxruntime: {INSTALL}") from None
        return None
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise ArtifactError(
                "this onnxruntime cannot use CUDA (install onnxruntime-gpu), or use --device cpu"
            )
        providers.insert(0, "CUDAExecutionProvider")
    session_options = onnxruntime.SessionOptions()
    session_options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session_options.log_severity_level = (
        3  # errors only: warnings are about things users cannot act on
    )
    # As many threads as torch uses (torch.set_num_threads, OMP_NUM_THREADS), so that one
    # setting governs every format; onnxruntime's own default is every core.
    session_options.intra_op_num_threads = torch.get_num_threads()
    try:
        session = onnxruntime.InferenceSession(file.data, session_options, providers=providers)
    except Exception as exc:
        raise ArtifactError(
            f"cannot load ONNX artifact {file.path}: {exc}".splitlines()[0]
        ) from None
    input_name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        (output, *_) = session.run(None, {input_name: array})
        return torch.from_numpy(output)

    return run


FORMAT = Format(
    name="onnx",
    suffix=".onnx",
    label="ONNX model",
    noun="ONNX model",
    short="ONNX",
    summary=f".onnx, dynamic batch; needs {INSTALL}",
    write=write,
    read=read,
    open=open_artifact,
    optimised_by="onnxruntime",
    install=INSTALL,
)
