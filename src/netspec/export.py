"""Stage 6 — write deployable artifacts, verified against the eager model, atomically.

Every format of :data:`netspec.formats.FORMATS` (TorchScript, ``torch.export`` programs,
ONNX) is written under one contract, kept here:

* the artifact embeds the spec text and the metadata a deployer needs (input shape,
  preprocessing, class names, versions, and what ``--optimize`` chose), so a file found on
  a server says what it is;
* it is only published (renamed into place) after it was reloaded from disk through the
  same loader ``netspec predict`` uses (:func:`netspec.artifacts.load_artifact`) and its
  outputs matched the eager model's on random batches of two sizes; otherwise nothing is
  left behind.

How each format writes, recognises and opens a file lives in its own module under
:mod:`netspec.formats`.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .artifacts import load_artifact
from .atomic import atomic_write, check_target
from .compiler import CompiledSpec
from .errors import ExportError
from .formats import FORMATS
from .formats.base import META_FILE, SPEC_FILE, Format, WriteOptions
from .optimize import prepare_for_inference
from .runtime import quiet_torch_logs, resolve_device
from .tuning import plan_inference
from .version import __version__

#: Largest acceptable difference between reloaded and eager outputs, relative to the
#: outputs' magnitude (never less strict than this absolute value for outputs below 1).
DEFAULT_TOLERANCE = 1e-4


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

    ``preprocessing`` is what ``netspec predict`` applies to an image, and what ``netspec
    train`` applied to its batches (the spec's :class:`netspec.preprocessing.Preprocessing`).
    ``classes`` name the outputs (from the spec's ``classes:``, or passed by whoever
    trained the weights).
    """
    meta: dict[str, Any] = {
        "netspec_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "format": format,
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "output_shape": list(spec.output_shape),
        "params": spec.params,
        "preprocessing": spec.preprocessing.as_metadata(),
        "classes": classes if classes is not None else spec.classes,
    }
    if spec.variant is not None:  # one member of a family spec: its name is the variant's
        meta.update(family=spec.family, variant=spec.variant)
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


def find_format(name: str, *, compile: bool = False) -> Format:
    """The table's entry for ``name``; refuses unknown names, and ``--compile`` where it
    cannot apply."""
    if name not in FORMATS:
        raise ExportError(f"unknown format '{name}' (choose one of: {', '.join(FORMATS)})")
    chosen = FORMATS[name]
    if compile and chosen.compiler is None:
        able = next(entry for entry in FORMATS.values() if entry.compiler)
        raise ExportError(
            f"--compile needs --format {able.name}: it compiles the {able.label} ahead of "
            f"time ({able.compiler})"
        )
    return chosen


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
    With ``optimize`` the artifact is built from :func:`netspec.tuning.plan_inference`'s
    fastest candidate, measured at ``batch`` on ``device`` (the target), and still checked
    against ``model``. ``classes`` name the outputs (default: the spec's ``classes:``).
    ``tolerance`` (default :data:`DEFAULT_TOLERANCE`) bounds the difference, relative to the
    outputs' magnitude when that exceeds 1. ``compile`` (``export`` format only) compiles the
    program ahead of time with AOTInductor for ``device``: torch.compile's code generator,
    once, at build time; the package runs only on machines like this one.
    """
    quiet_torch_logs()
    chosen = find_format(format, compile=compile)
    if batch < 1:
        raise ExportError(f"batch must be at least 1, got {batch}")
    target = resolve_device(device)
    names = _validate_classes(spec, classes)
    inputs = [(name, "a spec file") for name in spec.files]
    out = check_target(out, inputs)
    reference = model.eval().to(target)
    check = Verification(
        chosen,
        out,
        [random_batch(spec, 2, seed=0).to(target), random_batch(spec, 3, seed=1).to(target)],
        DEFAULT_TOLERANCE if tolerance is None else tolerance,
        trusted=compile,  # an AOTInductor package is native code: only ours is opened
    )
    check.expect(reference)
    module = reference
    meta = metadata(spec, extra_meta, format=chosen.name, classes=names)
    if optimize:
        example = random_batch(spec, batch, seed=2).to(target)
        module, meta["optimization"] = _optimized(
            reference, chosen, compile, example, optimize_rounds
        )
    if compile:
        meta["compiled"] = {"compiler": chosen.compiler, "device": str(target), "freezing": True}
    files = {SPEC_FILE: spec.source_text, META_FILE: json.dumps(meta, indent=2, sort_keys=True)}
    options = WriteOptions(frozen=optimize, compile=compile)
    atomic_write(
        out, lambda tmp: chosen.write(module, check.inputs[0], tmp, files, options), check, inputs
    )
    return ExportReport(
        out,
        chosen.name,
        max(check.diffs) if check.diffs else None,
        out.stat().st_size,
        [int(x.shape[0]) for x in check.inputs] if check.diffs else [],
        meta.get("optimization"),
    )


def _optimized(
    reference: nn.Module, chosen: Format, compile: bool, example: torch.Tensor, rounds: int
) -> tuple[nn.Module, dict[str, Any]]:
    """The module ``--optimize`` writes, and what it chose (for the metadata)."""
    if compile or chosen.optimised_by:
        # onnxruntime and Inductor choose layouts and fuse themselves; fold batch norm.
        runtime = f"{chosen.compiler} compiles" if compile else f"{chosen.optimised_by} optimises"
        chosen_by_runtime = {
            "chosen": f"batch norm folded; {runtime} the graph",
            "memory_format": "contiguous",
            "device": str(example.device),
        }
        return prepare_for_inference(reference), chosen_by_runtime
    plan, module = plan_inference(reference, example, torchscript=chosen.scripted, rounds=rounds)
    return module, plan.as_metadata()


@dataclass
class Verification:
    """The check before publishing: the artifact, reloaded, reproduces the eager outputs."""

    format: Format
    out: Path
    #: Random batches of two sizes (the first also serves as the exporters' example).
    inputs: list[torch.Tensor]
    tolerance: float
    #: Open the written file even though opening it runs native code (``--compile``: the
    #: package this process just compiled). Anything else is opened as ``predict`` opens
    #: an untrusted file, so netspec's own artifacts are proved to pass those checks.
    trusted: bool = False
    expected: list[torch.Tensor] = field(default_factory=list)
    diffs: list[float] = field(default_factory=list)

    def expect(self, reference: nn.Module) -> None:
        with torch.inference_mode():
            self.expected = [reference(x) for x in self.inputs]

    def __call__(self, written: Path) -> None:
        """Open ``written`` as ``netspec predict`` would and compare; raise on a mismatch."""
        loaded = load_artifact(
            written, device=self.inputs[0].device, require_runtime=False, trust=self.trusted
        )
        if loaded.run is None:  # ONNX without onnxruntime: checked structurally only
            return
        for x, want in zip(self.inputs, self.expected, strict=True):
            got = loaded.run(x)
            if tuple(got.shape) != tuple(want.shape):
                raise ExportError(
                    f"exported {self.format.label} gives shape {tuple(got.shape)} for a batch "
                    f"of {x.shape[0]}, the eager model {tuple(want.shape)}; nothing was "
                    f"written to {self.out}"
                )
            self.diffs.append(max_abs_diff(got, want))
        limit = self.tolerance * max(1.0, max(float(w.abs().max()) for w in self.expected))
        if not max(self.diffs) <= limit:
            raise ExportError(
                f"exported {self.format.label} differs from the eager model by "
                f"{max(self.diffs):.3g} (tolerance {limit:.3g}); nothing was written to {self.out}"
            )
