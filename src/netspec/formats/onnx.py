"""The ``onnx`` format (``.onnx``): an ONNX model with a dynamic batch, for onnxruntime.

Needs the optional extra (``pip install netspec[onnx]``: onnx, onnxscript; onnxruntime to
verify and run). The model goes through ``torch.onnx.export(dynamo=True)`` — the
torch.export-based exporter — and the spec and metadata are stored as the model's
``metadata_props`` under the same names the zip formats use for their extra files.

Lower precisions are onnxruntime's own tools applied to the fp32 model:

* **int8**: static post-training quantization (``quantize_static``) in the QDQ format:
  uint8 activations and int8 per-channel weights, MinMax ranges from the calibration
  images, the full 8 bits (``reduce_range=False``). onnxruntime then runs every convolution,
  linear layer, pooling, sum and concatenation in int8 with VNNI kernels where the CPU has
  them. int8 activations (s8s8) are a trap on x86: several times slower than uint8 ones.
* **fp16**: every float tensor converted, inputs and outputs kept float32 — for GPU
  serving (onnxruntime's CPU provider runs fp16 models no faster than fp32 ones).
* **bf16** is not offered: onnxruntime's CPU provider has no bfloat16 convolution kernels.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError, ExportError
from .base import (
    META_FILE,
    SPEC_FILE,
    ArtifactFile,
    Format,
    OpenOptions,
    Recognised,
    Runner,
    WriteOptions,
    dynamic_dims,
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
    """Export ``module`` to ONNX at ``path`` (in ``options.precision``) with ``files`` as
    metadata properties."""
    require_onnx()
    import onnx

    proto = _exported(module, example, options)
    if options.precision == "int8":
        proto = _quantized(proto, options)
    elif options.precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        proto = convert_float_to_float16(proto, keep_io_types=True)
    onnx.helper.set_model_props(proto, dict(files))
    try:
        onnx.checker.check_model(proto)
        onnx.save_model(proto, str(path))
    except (ValueError, onnx.checker.ValidationError) as exc:
        raise ExportError(f"ONNX model is invalid or too large: {exc}".splitlines()[0]) from None


#: The oldest opset onnx's version converter writes (its adapters start at opset 7).
OLDEST_OPSET = 7
#: The oldest opset torch's exporter writes itself; older ones go through onnx's converter.
EXPORTER_MIN_OPSET = 18


def _exported(module: nn.Module, example: torch.Tensor, options: WriteOptions) -> Any:
    """The fp32 ONNX model of ``module``, in ``options.opset`` when given."""
    import onnx
    import torch

    opset = options.opset
    if opset is not None and opset < OLDEST_OPSET:
        raise ExportError(
            f"--opset {opset}: ONNX models can be written in opset {OLDEST_OPSET} and newer",
            code="NS608",
        )
    if opset is not None and opset > onnx.defs.onnx_opset_version():
        raise ExportError(
            f"--opset {opset}: onnx {onnx.__version__} knows opsets up to "
            f"{onnx.defs.onnx_opset_version()}",
            code="NS608",
        )
    native = opset if opset is not None and opset >= EXPORTER_MIN_OPSET else None
    # The exporter reports its progress on stdout and warns about things users cannot act
    # on; netspec reports the result itself.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module.eval(),
                (example,),
                dynamo=True,
                dynamic_shapes=(dynamic_dims(example, options.sizes),),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                optimize=True,
                verbose=False,
                opset_version=native,
            )
        except Exception as exc:  # the exporter raises many types; any means "cannot"
            raise ExportError(f"ONNX export failed: {exc}".splitlines()[0]) from None
    if program is None:
        raise ExportError("ONNX export produced no model")
    proto = program.model_proto
    if opset is not None and opset_of(proto) != opset:
        proto = _converted(proto, opset)
    return proto


def opset_of(proto: Any) -> int | None:
    """The version of the default (``ai.onnx``) operator set a model uses."""
    return next(
        (entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")), None
    )


def _converted(proto: Any, opset: int) -> Any:
    """``proto`` in an opset older than the exporter writes, by onnx's version converter
    (which does not convert every operator: the result is checked)."""
    import onnx

    try:
        converted = onnx.version_converter.convert_version(proto, opset)
        onnx.checker.check_model(converted)
    except Exception as exc:  # the converter raises RuntimeError or its own assertion types
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ExportError(
            f"cannot write this model in ONNX opset {opset}: onnx's version converter "
            f"failed ({reason.removeprefix('==> Context: ')})",
            hint=f"torch's exporter writes opsets {EXPORTER_MIN_OPSET} and newer itself; "
            "older ones are converted, and not every operator converts",
            code="NS608",
        ) from None
    if opset_of(converted) != opset:
        raise ExportError(f"cannot write this model in ONNX opset {opset}", code="NS608")
    return converted


def _quantized(proto: Any, options: WriteOptions) -> Any:
    """``proto`` statically quantized to int8 by onnxruntime, calibrated on
    ``options.calibration`` (QDQ; uint8 activations, int8 per-channel weights, MinMax)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if options.calibration is None:
        raise ExportError("int8 ONNX needs calibration images", code="NS603")
    with tempfile.TemporaryDirectory() as folder, _quiet_root_logger():
        source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        onnx.save_model(proto, str(source))
        try:
            quantize_static(
                str(source),
                str(target),
                _Calibration(options.calibration, options.calibration_batch),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=False,
                calibrate_method=CalibrationMethod.MinMax,
            )
        except Exception as exc:  # onnxruntime's tools raise many types
            raise ExportError(
                f"onnxruntime cannot quantize this model: {exc}".splitlines()[0], code="NS609"
            ) from None
        return onnx.load_model(str(target))


class _Calibration:
    """The calibration images as onnxruntime's ``CalibrationDataReader`` reads them: one
    feed per batch, in order."""

    def __init__(self, images: torch.Tensor, batch: int) -> None:
        self.batches = [images[i : i + batch] for i in range(0, len(images), batch)]
        self.index = 0

    def get_next(self) -> dict[str, Any] | None:
        if self.index == len(self.batches):
            return None
        self.index += 1
        return {INPUT_NAME: self.batches[self.index - 1].contiguous().numpy()}

    def rewind(self) -> None:
        self.index = 0


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's quantizer logs advice on the root logger ("consider pre-processing"):
    the models netspec exports are already optimised, and users cannot act on it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def restamp(path: Path, files: dict[str, str]) -> None:
    """Replace the netspec ``files`` among the model's metadata properties."""
    import onnx

    proto = onnx.load_model(str(path))
    kept = {p.key: p.value for p in proto.metadata_props if p.key not in files}
    onnx.helper.set_model_props(proto, {**kept, **files})
    onnx.save_model(proto, str(path))


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
    if options.measuring:
        # Its threads spin after each run by default, taking the cores from whatever is
        # timed next (a torch program), which would then look slower than it is.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
    precisions=("fp32", "int8", "fp16"),
    int8_scheme={
        "library": "onnxruntime.quantization, static, QDQ",
        "activations": "uint8, per tensor, MinMax calibration",
        "weights": "int8, per channel",
        "reduce_range": False,
    },
    restamp=restamp,
)
