"""torch programs in lower precision: bf16/fp16 casts and int8 quantization.

The formats that hold torch programs (TorchScript, ``.pt2``) call these to lower an fp32
module that :func:`netspec.optimize.prepare_for_inference` already prepared (batch norm
folded, weights frozen); ONNX lowers its own models with onnxruntime
(:mod:`netspec.formats.onnx`). Every lowered program still takes and returns float32, so
``netspec predict`` and the preprocessing do not change with the precision.

* **bf16 / fp16**: the weights are cast, and the input is cast inside the program
  (:class:`Cast`); a channels-last network gets its input in channels-last there too, so
  oneDNN (CPU) or cuDNN (GPU) keep NHWC through the network.
* **int8**: post-training static quantization with ``torch.ao.quantization``'s FX graph
  mode and the oneDNN engine: 8-bit activations (histogram-calibrated, per tensor, the full
  8 bits — the x86 engine's 7-bit ``reduce_range`` costs accuracy and no speed on CPUs with
  VNNI) and 8-bit per-channel weights. The result is traced and frozen into TorchScript,
  whose quantized kernels are oneDNN's (the engine is the format's choice:
  :mod:`netspec.formats.torchscript`). This flow is the fastest PyTorch int8 artifact
  torch 2.14 can write, but it rests on APIs PyTorch deprecates (``torch.ao.quantization``
  and the quantized tensor types, as TorchScript itself): its warnings are kept out of
  netspec's output, and docs/deployment.md says why this path was chosen over PT2E.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from .runtime import quiet_jit

FLOAT_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Cast(nn.Module):
    """Runs ``inner`` in ``dtype`` on a float32 input and returns float32.

    Users keep feeding float32 images and reading float32 scores; only the inside of the
    program computes in the lower precision.
    """

    def __init__(self, inner: nn.Module, dtype: torch.dtype, channels_last: bool) -> None:
        super().__init__()
        self.inner = inner
        self.dtype = dtype
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.inner(x).float()


def is_channels_last(module: nn.Module) -> bool:
    """Whether the module's convolution weights are in channels-last (NHWC) layout."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            weight = layer.weight
            return (
                weight.dim() == 4
                and weight.is_contiguous(memory_format=torch.channels_last)
                and not weight.is_contiguous()
            )
    return False


def half_precision(module: nn.Module, precision: str) -> Cast:
    """A copy of ``module`` computing in bf16 or fp16 (float32 in and out)."""
    dtype = FLOAT_TYPES[precision]
    channels_last = is_channels_last(module)
    lowered = copy.deepcopy(module).eval().to(dtype)  # keeps the weights' layout
    return Cast(lowered, dtype, channels_last).eval()


@contextlib.contextmanager
def quiet_quantization() -> Iterator[None]:
    """Keep torch.ao.quantization's deprecation notices and the tracer's remarks about its
    scale constants out of netspec's output: users chose this path knowingly."""
    with quiet_jit(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*")
        warnings.filterwarnings("ignore", message=r".*quint8.*")
        warnings.filterwarnings("ignore", message=r".*reduce_range.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        yield


@contextlib.contextmanager
def quantized_engine(engine: str | None) -> Iterator[None]:
    """Use ``engine`` for quantized kernels inside the block (a process-wide setting,
    ``torch.backends.quantized.engine``); None changes nothing."""
    if engine is None:
        yield
        return
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def quantize_int8(
    module: nn.Module, calibration: torch.Tensor, batch: int, engine: str
) -> nn.Module:
    """``module`` quantized to int8 for ``engine`` (``onednn``, ``x86``, ``fbgemm``), its
    activation ranges observed on ``calibration``, fed in its order, ``batch`` images at a
    time: the histogram observers depend on the order, so the same images in the same
    order give the same artifact."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    example = calibration[: min(2, len(calibration))]
    with quiet_quantization(), quantized_engine(engine):
        prepared = prepare_fx(
            copy.deepcopy(module).eval(),
            get_default_qconfig_mapping(engine),
            (example,),
        )
        with torch.inference_mode():
            for start in range(0, len(calibration), batch):
                prepared(calibration[start : start + batch])
        return convert_fx(prepared)


def trace_frozen(
    module: nn.Module, example: torch.Tensor, engine: str | None = None
) -> torch.jit.ScriptModule:
    """``module`` traced on ``example`` and frozen: how lowered programs become TorchScript
    (scripting cannot compile FX-quantized graphs; tracing records the batch and image size
    symbolically, so the program takes other batch sizes and, where the network allows,
    other image sizes). ``engine``: the quantized engine of an int8 module."""
    with quiet_quantization(), quantized_engine(engine), torch.no_grad():
        traced = torch.jit.trace(module.eval(), example, check_trace=False)
        return torch.jit.freeze(traced.eval())
