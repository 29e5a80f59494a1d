"""Stage 6 — write deployable artifacts, verified against the eager model, atomically.

Three formats, one contract:

* ``torchscript`` (``.ts.pt``) — ``torch.jit`` archive; runs without Python in libtorch.
* ``export`` (``.pt2``) — a ``torch.export`` ExportedProgram with a dynamic batch dimension;
  the format that AOTInductor, ExecuTorch and ``torch.compile`` consume.
* ``onnx`` (``.onnx``) — for onnxruntime and every other ONNX runtime, dynamic batch too
  (optional extra: ``pip install netspec[onnx]``).

An artifact is only published (renamed into place) after it was reloaded from disk through
the same loader ``netspec predict`` uses and its outputs matched the eager model's on
random batches of two sizes; otherwise nothing is left behind. Every artifact embeds the
spec text and the metadata a deployer needs (input shape, preprocessing, class names,
versions, and what ``--optimize`` chose), so a file found on a server says what it is.
"""

from __future__ import annotations

import contextlib
import json
import platform
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from .atomic import atomic_write
from .compiler import CompiledSpec
from .errors import ExportError

if TYPE_CHECKING:
    from .optimize import InferencePlan

#: Name of the extra files embedded in artifacts (TorchScript and .pt2 archives hold them
#: as files; ONNX models as ``metadata_props`` entries with these keys).
SPEC_FILE = "netspec/spec.yaml"
META_FILE = "netspec/meta.json"
#: Largest acceptable difference between reloaded and eager outputs, relative to the
#: outputs' magnitude (never less strict than this absolute value for outputs below 1).
DEFAULT_TOLERANCE = 1e-4
#: Largest batch a dynamic-batch artifact promises to accept.
MAX_BATCH = 65536

Format = Literal["torchscript", "export", "onnx"]
FORMATS: tuple[Format, ...] = ("torchscript", "export", "onnx")
#: The default file name ending of each format.
SUFFIXES: dict[str, str] = {"torchscript": ".ts.pt", "export": ".pt2", "onnx": ".onnx"}
#: How messages name each format.
FORMAT_LABELS: dict[str, str] = {
    "torchscript": "TorchScript",
    "export": "torch.export program",
    "onnx": "ONNX model",
}


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence torch 2.14's TorchScript deprecation warning: our users chose TorchScript."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*TorchScript.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        yield


@dataclass
class ExportReport:
    """What was written and how closely the reloaded artifact matches the eager model."""

    path: Path
    format: str
    #: Largest difference over the verification batches; None when no runtime was available
    #: to run the artifact (ONNX without onnxruntime: the file is only checked structurally).
    max_abs_diff: float | None
    size_bytes: int
    #: Batch sizes the reloaded artifact was run with.
    verified_batches: list[int] = field(default_factory=list)
    #: What ``--optimize`` chose (None without it).
    optimization: dict[str, Any] | None = None


def metadata(
    spec: CompiledSpec,
    extra: dict[str, Any] | None = None,
    *,
    format: str = "torchscript",
    classes: list[str] | None = None,
) -> dict[str, Any]:
    """What a deployer needs to know about an artifact, as JSON-ready data.

    ``preprocessing`` is what ``netspec predict`` applies to an image: convert to
    ``color`` (grayscale for one channel), multiply the 0..255 pixels by ``scale``, resize
    to ``resize`` (height, width) with ``interpolation`` — the seed's ``Resize`` +
    ``ToTensor`` pipeline, as ``netspec train`` computes it. ``classes`` name the outputs
    (from the spec's ``classes:``, or passed by whoever trained the weights).
    """
    from .version import __version__

    channels = spec.input_shape[0] if len(spec.input_shape) == 3 else None
    image = len(spec.input_shape) == 3
    meta: dict[str, Any] = {
        "netspec_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "format": format,
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "output_shape": list(spec.output_shape),
        "params": spec.params,
        "preprocessing": {
            "resize": list(spec.input_shape[1:]) if image else None,
            "interpolation": "bilinear",  # align_corners=False, as torchvision's Resize
            "antialias": "when shrinking",
            "scale": 1.0 / 255.0,
            "channels": channels,
            "color": {1: "L", 3: "RGB"}.get(channels or 0),
            "layout": "NCHW",
            "dtype": "float32",
        },
        "classes": classes if classes is not None else spec.classes,
    }
    meta.update(extra or {})
    return meta


def random_batch(spec: CompiledSpec, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A reproducible random input batch of the spec's input shape."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((batch, *spec.input_shape), generator=generator)


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest elementwise difference, in float64 so the report itself is exact."""
    a, b = a.detach().cpu(), b.detach().cpu()
    return float((a.double() - b.double()).abs().max().item()) if a.numel() else 0.0


def quiet_torch_logs() -> None:
    """Keep torch's import-time notices (no CUDA runtime found, ...) out of netspec's output."""
    import logging

    for name in ("torch.utils.cpp_extension", "torch.export.pt2_archive._package"):
        logging.getLogger(name).setLevel(logging.ERROR)


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device the user asked for, or a clear error when it is not available."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ExportError(f"unknown device '{device}' (use cpu or cuda)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ExportError(f"device '{device}': CUDA is not available on this machine")
    if resolved.type not in ("cpu", "cuda"):
        raise ExportError(f"device '{device}' is not supported (use cpu or cuda)")
    return resolved


def _validate_classes(spec: CompiledSpec, classes: list[str] | None) -> list[str] | None:
    names = classes if classes is not None else spec.classes
    if names is None:
        return None
    outputs = spec.output_shape[0] if len(spec.output_shape) == 1 else None
    if outputs is not None and len(names) != outputs:
        raise ExportError(
            f"{len(names)} class names for a network with {outputs} outputs "
            f"({spec.name}'s output shape is {tuple(spec.output_shape)})"
        )
    return [str(name) for name in names]


def export_model(
    model: nn.Module,
    spec: CompiledSpec,
    out: str | Path,
    *,
    format: str = "torchscript",
    optimize: bool = False,
    device: str | torch.device = "cpu",
    batch: int = 32,
    classes: list[str] | None = None,
    extra_meta: dict[str, Any] | None = None,
    tolerance: float | None = None,
    optimize_rounds: int = 5,
    compile: bool = False,
) -> ExportReport:
    """Write ``model`` as a verified artifact of ``format`` at ``out``.

    ``model`` is the eager reference: the artifact must reproduce its eval-mode outputs
    (it is put in eval mode and moved to ``device``; ``--optimize`` rewrites a copy).
    With ``optimize`` the artifact is built from :func:`netspec.optimize.plan_inference`'s
    fastest candidate, measured at ``batch`` on ``device`` (the target), and still checked
    against ``model``. ``classes`` name the outputs (default: the spec's ``classes:``).
    ``tolerance`` (default :data:`DEFAULT_TOLERANCE`) bounds the difference, relative to the
    outputs' magnitude when that exceeds 1. ``compile`` (``export`` format only) compiles the
    program ahead of time with AOTInductor for ``device``: torch.compile's code generator,
    once, at build time; the package runs only on machines like this one.
    """
    quiet_torch_logs()
    if tolerance is None:
        tolerance = DEFAULT_TOLERANCE
    if format not in FORMATS:
        raise ExportError(f"unknown format '{format}' (choose one of: {', '.join(FORMATS)})")
    if compile and format != "export":
        raise ExportError(
            "--compile needs --format export: it compiles the torch.export program ahead of "
            "time (AOTInductor)"
        )
    if batch < 1:
        raise ExportError(f"batch must be at least 1, got {batch}")
    target = resolve_device(device)
    names = _validate_classes(spec, classes)
    out = Path(out)
    reference = model.eval().to(target)
    checks = [random_batch(spec, 2, seed=0).to(target), random_batch(spec, 3, seed=1).to(target)]
    with torch.inference_mode():
        expected = [reference(x) for x in checks]

    plan: InferencePlan | None = None
    module: nn.Module = reference
    if optimize:
        from .optimize import plan_inference, prepare_for_inference

        if format == "onnx" or compile:
            # onnxruntime and Inductor choose layouts and fuse themselves; fold batch norm.
            module = prepare_for_inference(reference)
        else:
            example = random_batch(spec, batch, seed=2).to(target)
            plan, module = plan_inference(
                reference, example, torchscript=format == "torchscript", rounds=optimize_rounds
            )
    meta = metadata(spec, extra_meta, format=format, classes=names)
    if plan is not None:
        meta["optimization"] = plan.as_metadata()
    elif optimize:
        runtime = "AOTInductor compiles" if compile else "onnxruntime optimises"
        meta["optimization"] = {
            "chosen": f"batch norm folded; {runtime} the graph",
            "memory_format": "contiguous",
            "device": str(target),
        }
    if compile:
        meta["compiled"] = {"compiler": "AOTInductor", "device": str(target), "freezing": True}
    files = {SPEC_FILE: spec.source_text, META_FILE: json.dumps(meta, indent=2, sort_keys=True)}

    write = _writer(format, module, checks[0], files, optimize, compile)
    diffs: list[float] = []

    def verify(tmp: Path) -> None:
        from .artifacts import load_artifact

        loaded = load_artifact(tmp, device=target, require_runtime=False)
        if loaded.run is None:  # ONNX without onnxruntime: checked structurally only
            return
        for x, want in zip(checks, expected, strict=True):
            got = loaded.run(x)
            if tuple(got.shape) != tuple(want.shape):
                raise ExportError(
                    f"exported {FORMAT_LABELS[format]} gives shape {tuple(got.shape)} for a batch "
                    f"of {x.shape[0]}, the eager model {tuple(want.shape)}; nothing was "
                    f"written to {out}"
                )
            diffs.append(max_abs_diff(got, want))
        limit = tolerance * max(1.0, max(float(w.abs().max()) for w in expected))
        if not max(diffs) <= limit:
            raise ExportError(
                f"exported {FORMAT_LABELS[format]} differs from the eager model by "
                f"{max(diffs):.3g} (tolerance {limit:.3g}); nothing was written to {out}"
            )

    atomic_write(out, write, verify)
    return ExportReport(
        out,
        format,
        max(diffs) if diffs else None,
        out.stat().st_size,
        [int(x.shape[0]) for x in checks] if diffs else [],
        meta.get("optimization"),
    )


def _writer(
    format: str,
    module: nn.Module,
    example: torch.Tensor,
    files: dict[str, str],
    frozen: bool,
    compile: bool = False,
) -> Callable[[Path], None]:
    """The function that writes ``module`` in ``format`` to a (temporary) path."""
    if compile:
        from .export_program import write_compiled_program

        return lambda tmp: write_compiled_program(module, example, tmp, files)
    if format == "torchscript":
        return lambda tmp: write_torchscript(module, tmp, files, frozen=frozen)
    if format == "export":
        from .export_program import write_program

        # Weights are stored in the standard layout — torch.export's archive writer expects
        # it — and the loader applies the memory format the plan chose.
        module.to(memory_format=torch.contiguous_format)
        return lambda tmp: write_program(module, example, tmp, files)
    from .export_onnx import write_onnx

    return lambda tmp: write_onnx(module, example, tmp, files)


def write_torchscript(
    module: nn.Module, path: Path, files: dict[str, str], *, frozen: bool = False
) -> None:
    """Script ``module`` (frozen: weights folded into the graph) and save it with ``files``.

    Unfrozen artifacts keep the module tree, so their ``state_dict`` has the spec's keys.
    """
    with quiet_jit():
        try:
            scripted = torch.jit.script(module.eval())
            if frozen:
                scripted = torch.jit.freeze(scripted)
        except Exception as exc:  # torch raises many types; any means "cannot script"
            raise ExportError(
                f"TorchScript cannot compile this model: {exc}".splitlines()[0]
            ) from None
        torch.jit.save(scripted, str(path), _extra_files=files)


def export_torchscript(
    model: nn.Module,
    spec: CompiledSpec,
    out: str | Path,
    *,
    extra_meta: dict[str, Any] | None = None,
    tolerance: float | None = None,
) -> ExportReport:
    """Script ``model`` and write it to ``out`` with the spec and metadata embedded."""
    return export_model(
        model, spec, out, format="torchscript", extra_meta=extra_meta, tolerance=tolerance
    )


def read_torchscript_metadata(path: str | Path) -> tuple[dict[str, Any], str]:
    """The metadata and spec text embedded in a netspec TorchScript artifact."""
    files = {SPEC_FILE: "", META_FILE: ""}
    with quiet_jit():
        torch.jit.load(str(path), map_location="cpu", _extra_files=files)

    def text(value: str | bytes) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else value

    return json.loads(text(files[META_FILE]) or "{}"), text(files[SPEC_FILE])
