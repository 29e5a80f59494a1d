"""Stage 6 — write deployable artifacts, verified against the eager model, atomically.

Every format of :data:`netspec.formats.FORMATS` (TorchScript, ``torch.export`` programs,
ONNX) is written under one contract, kept here:

* the artifact embeds the spec text and the metadata a deployer needs (input shape,
  preprocessing, class names, versions, precision, and what ``--optimize`` chose), so a
  file found on a server says what it is;
* it is only published (renamed into place) after it was reloaded from disk through the
  same loader ``netspec predict`` uses (:func:`netspec.artifacts.load_artifact`) and checked;
  otherwise nothing is left behind. An fp32 artifact must reproduce the eager model's
  outputs on random batches of two sizes; a bf16, fp16 or int8 one must give outputs of the
  right shapes there and, on held-out labelled images, lose at most ``max_accuracy_drop``
  points of accuracy against the fp32 model — what it measured is recorded in its metadata
  (``verification``), or that it was not measured ("unverified").

``format="auto"`` writes the artifact in every format that can hold it, times them as
loaded (:func:`netspec.tuning.measure`) and publishes the fastest. How each format writes,
recognises and opens a file lives in its own module under :mod:`netspec.formats`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .artifacts import load_artifact
from .atomic import atomic_write, check_target
from .compiler import CompiledSpec
from .errors import ExportError
from .evaluation import AccuracyCheck, EvaluationSet, check_images_fit, compare_accuracy
from .formats import FORMATS, join_or
from .formats.base import META_FILE, PRECISIONS, SPEC_FILE, Format, WriteOptions
from .optimize import prefers_channels_last, prepare_for_inference
from .preprocessing import Preprocessing
from .runtime import quiet_torch_logs, resolve_device
from .spatial import SizeRange, dynamic_size_range
from .tuning import choose, plan_inference, runoff_metadata, timings_metadata
from .version import __version__

#: Largest acceptable difference between reloaded and eager outputs, relative to the
#: outputs' magnitude (never less strict than this absolute value for outputs below 1).
DEFAULT_TOLERANCE = 1e-4
#: ``--format auto``: pick the fastest format that can hold the artifact.
AUTO = "auto"
#: Default of ``max_accuracy_drop``: percentage points of top-1 accuracy.
DEFAULT_MAX_ACCURACY_DROP = 1.0
#: Calibration images per forward pass (fixed: histogram calibration depends on it).
CALIBRATION_BATCH = 32


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
    precision: str = "fp32"
    #: Lower precisions: the accuracy check against the fp32 model (None: unverified).
    accuracy: AccuracyCheck | None = None
    #: Other image sizes the reloaded artifact was run at, (height, width).
    verified_sizes: list[tuple[int, int]] = field(default_factory=list)


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


def random_batch(
    spec: CompiledSpec, batch: int = 2, seed: int = 0, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """A reproducible random input batch of the spec's input shape (at another height and
    width when ``size`` is given)."""
    generator = torch.Generator().manual_seed(seed)
    shape = spec.input_shape if size is None else (spec.input_shape[0], *size)
    return torch.rand((batch, *shape), generator=generator)


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


def check_precision(chosen: Format, precision: str, device: torch.device) -> None:
    """Refuse, in one line, a precision the format or the device does not offer."""
    if precision not in chosen.precisions:
        able = [name for name, entry in FORMATS.items() if precision in entry.precisions]
        raise ExportError(
            f"--precision {precision} is not available for {chosen.label}s (they take "
            f"{join_or(list(chosen.precisions))}): use --format {join_or(able)}",
            code="NS601",
        )
    wanted = PRECISIONS[precision]
    if device.type not in wanted.devices:
        raise ExportError(
            f"--precision {precision} needs --device {join_or(list(wanted.devices))}: "
            f"{wanted.elsewhere}",
            code="NS602",
        )


def candidate_formats(precision: str, device: torch.device, *, compile: bool) -> list[Format]:
    """The formats ``--format auto`` compares: those that hold ``precision`` on ``device``
    and whose runtime is installed here."""
    able = [
        entry
        for entry in FORMATS.values()
        if precision in entry.precisions
        and device.type in PRECISIONS[precision].devices
        and (entry.compiler is not None or not compile)
        and (entry.install is None or _installed(entry))
    ]
    if not able:
        raise ExportError(
            f"no format available here holds a {precision} artifact for {device}", code="NS601"
        )
    return able


def _installed(entry: Format) -> bool:
    """Whether the optional libraries a format needs to be written and run are importable."""
    needed = {"onnx": ("onnx", "onnxscript", "onnxruntime")}.get(entry.name, ())
    return all(importlib.util.find_spec(module) for module in needed)


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


@dataclass
class _Request:
    """What the caller asked for, checked; shared by every format a build writes."""

    spec: CompiledSpec
    reference: nn.Module
    device: torch.device
    optimize: bool
    compile: bool
    batch: int
    rounds: int
    precision: str
    calibration: EvaluationSet | None
    opset: int | None
    sizes: SizeRange | None
    base_meta: dict[str, Any]
    #: A lower precision checked by accuracy (evaluation data given).
    evaluated: bool
    #: The files the command read (its spec and imports), which no output may replace.
    inputs: list[tuple[str, str]]

    def options(self, chosen: Format, calibration: torch.Tensor | None) -> WriteOptions:
        return WriteOptions(
            frozen=self.optimize or self.precision != "fp32",
            compile=self.compile,
            precision=self.precision,
            calibration=calibration,
            calibration_batch=CALIBRATION_BATCH,
            opset=self.opset if chosen.name == "onnx" else None,
            sizes=self.sizes,
        )


@dataclass
class _Draft:
    """One format's artifact before it is written: the module, metadata and options."""

    format: Format
    module: nn.Module
    meta: dict[str, Any]
    options: WriteOptions

    def files(self, spec: CompiledSpec) -> dict[str, str]:
        return {
            SPEC_FILE: spec.source_text,
            META_FILE: json.dumps(self.meta, indent=2, sort_keys=True),
        }

    def write(self, path: Path, example: torch.Tensor, spec: CompiledSpec) -> None:
        self.format.write(self.module, example, path, self.files(spec), self.options)


def export_model(
    model: nn.Module,
    spec: CompiledSpec,
    out: str | Path | Callable[[Format], Path],
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
    precision: str = "fp32",
    calibration: EvaluationSet | None = None,
    evaluation: EvaluationSet | None = None,
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
    opset: int | None = None,
    dynamic_size: bool = False,
    keep_candidates: Path | None = None,
) -> ExportReport:
    """Write ``model`` as a verified artifact of ``format`` at ``out`` (or at ``out(format)``,
    a name that follows the format ``auto`` chose).

    ``model`` is the eager reference: the artifact must reproduce its eval-mode outputs
    (it is put in eval mode and moved to ``device``; ``--optimize`` rewrites a copy).
    With ``optimize`` the artifact is built from :func:`netspec.tuning.plan_inference`'s
    fastest candidate, measured at ``batch`` on ``device`` (the target), and still checked
    against ``model``; ``format="auto"`` also measures the formats. ``classes`` name the
    outputs (default: the spec's ``classes:``). ``tolerance`` (default
    :data:`DEFAULT_TOLERANCE`) bounds the difference, relative to the outputs' magnitude
    when that exceeds 1. ``compile`` (``export`` format only) compiles the program ahead of
    time with AOTInductor for ``device``: the package runs only on machines like this one.

    ``precision`` below fp32 lowers the program (:data:`netspec.formats.base.PRECISIONS`):
    int8 needs ``calibration`` images; ``evaluation`` images (``netspec build`` takes the
    test split of the calibration data) check that the artifact loses at most
    ``max_accuracy_drop`` points of top-1 accuracy against the fp32 model; without them
    the metadata says "unverified". ``opset`` is the ONNX opset to write;
    ``dynamic_size`` exports the height and width as dynamic (networks whose shape rules
    allow it: :func:`netspec.spatial.dynamic_size_range`). ``keep_candidates``: a folder
    where ``auto`` leaves a copy of every format's artifact it timed (a benchmark re-times
    them against the choice).
    """
    quiet_torch_logs()
    target = resolve_device(device)
    if precision not in PRECISIONS:
        raise ExportError(
            f"unknown precision '{precision}' (choose one of: {', '.join(PRECISIONS)})",
            code="NS601",
        )
    formats = _formats(format, precision, target, compile=compile)
    _check_request(formats, precision, calibration, opset, compile)
    for data in (calibration, evaluation):
        if data is not None and precision != "fp32":
            check_images_fit(data, spec.input_shape, spec.name)
    if batch < 1:
        raise ExportError(f"batch must be at least 1, got {batch}")
    names = _validate_classes(spec, classes)
    inputs = [(name, "a spec file") for name in spec.files]
    destination = out if callable(out) else (lambda _: Path(out))
    if not callable(out):
        check_target(out, inputs)  # before minutes of building and verifying, not after
    request = _Request(
        spec=spec,
        reference=model.eval().to(target),
        device=target,
        optimize=optimize or len(formats) > 1,
        compile=compile,
        batch=batch,
        rounds=optimize_rounds,
        precision=precision,
        calibration=calibration,
        opset=opset,
        sizes=dynamic_size_range(spec) if dynamic_size else None,
        base_meta=dict(extra_meta or {}),
        evaluated=evaluation is not None,
        inputs=inputs,
    )
    check = Verification(
        formats[0],
        destination(formats[0]),
        _verification_inputs(spec, request.sizes, target),
        DEFAULT_TOLERANCE if tolerance is None else tolerance,
        precision=precision,
        gate=_gate(request, evaluation, max_accuracy_drop),
        trusted=compile,  # an AOTInductor package is native code: only ours is opened
    )
    check.expect(request.reference)
    calibration_images = _calibration_images(request)
    drafts = [_draft(request, entry, names, calibration_images) for entry in formats]
    example = check.inputs[0]
    if len(drafts) == 1:
        draft = drafts[0]
        atomic_write(check.out, lambda tmp: draft.write(tmp, example, spec), check, inputs)
    else:
        draft = _publish_fastest(drafts, request, example, destination, check, keep_candidates)
    ran = bool(check.diffs)
    return ExportReport(
        check.out,
        draft.format.name,
        max(check.diffs) if ran else None,
        check.out.stat().st_size,
        [int(x.shape[0]) for x in check.inputs[:2]] if ran else [],
        draft.meta.get("optimization"),
        precision,
        check.accuracy,
        [(int(x.shape[2]), int(x.shape[3])) for x in check.inputs[2:]] if ran else [],
    )


def _formats(name: str, precision: str, device: torch.device, *, compile: bool) -> list[Format]:
    """The format asked for, checked against the precision and device; every candidate
    for ``auto``."""
    if name == AUTO:
        return candidate_formats(precision, device, compile=compile)
    chosen = find_format(name, compile=compile)
    check_precision(chosen, precision, device)
    return [chosen]


def _check_request(
    formats: list[Format],
    precision: str,
    calibration: EvaluationSet | None,
    opset: int | None,
    compile: bool,
) -> None:
    if precision == "int8" and calibration is None:
        raise ExportError(
            "--precision int8 needs --calibrate DATA: a few hundred real images set the "
            "quantization ranges",
            code="NS603",
        )
    if precision != "fp32" and compile:
        raise ExportError(
            "--compile builds fp32 programs only: AOTInductor turns int8 programs back into "
            "fp32 convolutions, and bf16 runs faster as TorchScript",
            code="NS604",
        )
    if opset is not None and not any(entry.name == "onnx" for entry in formats):
        raise ExportError("--opset applies to ONNX models (--format onnx)", code="NS608")


def _verification_inputs(
    spec: CompiledSpec, sizes: SizeRange | None, device: torch.device
) -> list[torch.Tensor]:
    """Random batches of 2 and 3 (the first also serves as the exporters' example); for a
    dynamic-size artifact also a batch at its smallest size and one at an odd larger size."""
    inputs = [random_batch(spec, 2, seed=0), random_batch(spec, 3, seed=1)]
    if sizes is not None:
        _, height, width = spec.input_shape
        inputs.append(random_batch(spec, 2, seed=3, size=(sizes.min_height, sizes.min_width)))
        inputs.append(random_batch(spec, 2, seed=4, size=(height + 3, width + 1)))
    return [x.to(device) for x in inputs]


def _calibration_images(request: _Request) -> torch.Tensor | None:
    """The int8 calibration images as the network's float input, in their fixed order."""
    if request.precision != "int8" or request.calibration is None:
        return None
    return request.calibration.floats(request.spec.preprocessing)


def _draft(
    request: _Request,
    chosen: Format,
    classes: list[str] | None,
    calibration: torch.Tensor | None,
) -> _Draft:
    """The module ``chosen`` writes and its metadata: the reference as is, the tuner's
    fastest program (``--optimize``), or a prepared module for a lower precision."""
    meta = metadata(request.spec, request.base_meta, format=chosen.name, classes=classes)
    meta["precision"] = request.precision
    if request.sizes is not None:
        meta["dynamic_hw"] = request.sizes.as_metadata()
    if request.opset is not None and chosen.name == "onnx":
        meta["opset"] = request.opset
    module = request.reference
    if request.precision != "fp32":
        module, meta["optimization"] = _lowered(request, chosen)
        if not request.evaluated:
            meta["verification"] = dict(UNVERIFIED)
    elif request.optimize:
        example = random_batch(request.spec, request.batch, seed=2).to(request.device)
        module, meta["optimization"] = _optimized(
            request.reference, chosen, request.compile, example, request.rounds
        )
    if request.compile:
        meta["compiled"] = {
            "compiler": chosen.compiler,
            "device": str(request.device),
            "freezing": True,
        }
    if request.precision == "int8" and request.calibration is not None:
        meta["quantization"] = dict(chosen.int8_scheme or {})
        meta["calibration"] = {**request.calibration.record(), "batch": CALIBRATION_BATCH}
    return _Draft(chosen, module, meta, request.options(chosen, calibration))


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


def _lowered(request: _Request, chosen: Format) -> tuple[nn.Module, dict[str, Any]]:
    """The fp32 module a format lowers to bf16, fp16 or int8: batch norm folded, weights
    frozen; channels-last for convolutional networks in bf16/fp16 torch programs (their
    kernels run NHWC), the standard layout for int8 and ONNX (whose runtimes pick their
    own)."""
    channels_last = (
        request.precision in ("bf16", "fp16")
        and chosen.optimised_by is None
        and prefers_channels_last(request.reference, request.device)
    )
    layout = "channels_last" if channels_last else "contiguous"
    module = prepare_for_inference(request.reference, memory_format=layout)
    return module, {
        "chosen": f"{request.precision}; batch norm folded; {layout}",
        "memory_format": layout,
        "device": str(request.device),
    }


def _publish_fastest(
    drafts: list[_Draft],
    request: _Request,
    example: torch.Tensor,
    destination: Callable[[Format], Path],
    check: Verification,
    keep: Path | None,
) -> _Draft:
    """``--format auto``: write every draft beside the destination, time them as loaded,
    publish the fastest (verified like any artifact) and delete the others."""
    timing_batch = random_batch(request.spec, request.batch, seed=2).to(request.device)
    folder_of = destination(drafts[0].format).parent
    folder_of.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{request.spec.name}.", dir=folder_of) as folder:
        paths = {
            d.format.name: Path(folder) / f"{request.spec.name}{d.format.suffix}" for d in drafts
        }
        for draft in drafts:
            draft.write(paths[draft.format.name], example, request.spec)
        runners = {
            name: load_artifact(path, request.device, measuring=True).run
            for name, path in paths.items()
        }
        choice = choose(
            {name: run for name, run in runners.items() if run is not None},
            timing_batch,
            rounds=request.rounds,
        )
        best = choice.name
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for path in paths.values():
                shutil.copyfile(path, keep / path.name)
        draft = next(d for d in drafts if d.format.name == best)
        draft.meta.setdefault("optimization", {})["formats"] = {
            "chosen": best,
            "batch": request.batch,
            **timings_metadata(choice.timings),
            **runoff_metadata(choice.runoff),
        }
        draft.format.restamp(paths[best], draft.files(request.spec))
        check.format, check.out = draft.format, destination(draft.format)
        atomic_write(check.out, lambda tmp: os.replace(paths[best], tmp), check, request.inputs)
    return draft


@dataclass
class AccuracyGate:
    """The check of a lower-precision artifact: its accuracy on labelled images against the
    fp32 model's (``reference``, prepared for speed: the same numbers to float rounding)."""

    data: EvaluationSet
    reference: nn.Module
    preprocessing: Preprocessing
    max_drop: float


def _gate(
    request: _Request, evaluation: EvaluationSet | None, max_drop: float
) -> AccuracyGate | None:
    if request.precision == "fp32" or evaluation is None:
        return None
    layout = (
        "channels_last"
        if prefers_channels_last(request.reference, request.device)
        else "contiguous"
    )
    return AccuracyGate(
        evaluation,
        prepare_for_inference(request.reference, memory_format=layout),
        request.spec.preprocessing,
        max_drop,
    )


@dataclass
class Verification:
    """The check before publishing: the artifact, reloaded, reproduces the eager outputs
    (fp32), or keeps the fp32 model's accuracy (lower precisions)."""

    format: Format
    out: Path
    #: Random batches (the first also serves as the exporters' example).
    inputs: list[torch.Tensor]
    tolerance: float
    precision: str = "fp32"
    gate: AccuracyGate | None = None
    #: Open the written file even though opening it runs native code (``--compile``: the
    #: package this process just compiled). Anything else is opened as ``predict`` opens
    #: an untrusted file, so netspec's own artifacts are proved to pass those checks.
    trusted: bool = False
    expected: list[torch.Tensor] = field(default_factory=list)
    diffs: list[float] = field(default_factory=list)
    accuracy: AccuracyCheck | None = None

    def expect(self, reference: nn.Module) -> None:
        with torch.inference_mode():
            self.expected = [reference(x) for x in self.inputs]

    def __call__(self, written: Path) -> None:
        """Open ``written`` as ``netspec predict`` would and check it; raise on a failure."""
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
                    f"of {tuple(x.shape)}, the eager model {tuple(want.shape)}; nothing was "
                    f"written to {self.out}"
                )
            self.diffs.append(max_abs_diff(got, want))
        if self.precision == "fp32":
            self._compare_outputs()
        elif self.gate is not None:
            self._check_accuracy(written, loaded.run, loaded.meta)

    def _compare_outputs(self) -> None:
        limit = self.tolerance * max(1.0, max(float(w.abs().max()) for w in self.expected))
        if not max(self.diffs) <= limit:
            raise ExportError(
                f"exported {self.format.label} differs from the eager model by "
                f"{max(self.diffs):.3g} (tolerance {limit:.3g}); nothing was written to {self.out}"
            )

    def _check_accuracy(self, written: Path, run: Any, meta: dict[str, Any]) -> None:
        """Accuracy of the artifact against the fp32 model; recorded in its metadata."""
        gate = self.gate
        assert gate is not None
        device = self.inputs[0].device
        self.accuracy = found = compare_accuracy(
            gate.reference, run, gate.data, gate.preprocessing, device
        )
        if found.drop_points > gate.max_drop:
            raise ExportError(
                f"the {self.precision} {self.format.label} loses {found.drop_points:.2f} points "
                f"of accuracy on {found.images} {gate.data.split} images of {gate.data.source} "
                f"(fp32 {found.reference_accuracy:.2%}, {self.precision} {found.accuracy:.2%}, "
                f"top-1 agreement {found.agreement:.2%}; --max-accuracy-drop {gate.max_drop:g}); "
                f"nothing was written to {self.out}",
                hint="calibrate on more or other images (--calibration-images, "
                "--calibration-seed), or keep this network in a higher precision",
                code="NS605",
            )
        meta = {**meta, "verification": verification_record(found, gate)}
        self.format.restamp(written, {META_FILE: json.dumps(meta, indent=2, sort_keys=True)})


def verification_record(found: AccuracyCheck, gate: AccuracyGate) -> dict[str, Any]:
    """The ``verification`` entry of a lower-precision artifact that passed the gate."""
    return {
        "status": "passed",
        "method": "accuracy against the fp32 model",
        **gate.data.record(),
        "fp32_accuracy": round(found.reference_accuracy, 6),
        "accuracy": round(found.accuracy, 6),
        "agreement": round(found.agreement, 6),
        "accuracy_drop_points": round(found.drop_points, 4),
        "max_accuracy_drop_points": gate.max_drop,
    }


#: The ``verification`` entry of a lower-precision artifact built without evaluation data.
UNVERIFIED = {
    "status": "unverified",
    "reason": "no evaluation data (--verify-data): only output shapes were checked",
}
