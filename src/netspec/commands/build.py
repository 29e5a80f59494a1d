"""``netspec build`` — compile a spec into a verified artifact (TorchScript, .pt2 or ONNX)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..formats import FORMATS, join_or
from ..formats.base import PRECISIONS
from ..spec import Spec
from ._common import add_spec_arguments, load_spec

if TYPE_CHECKING:
    from ..evaluation import EvaluationSet
    from ..export import ExportReport
    from ..formats.base import Format
    from ..spec import Spec

DEFAULT_FORMAT = "torchscript"
#: ``--format auto``: the fastest format that holds the artifact, measured here.
AUTO = "auto"
#: Default calibration sample: a few hundred images (256 moved accuracy by at most 0.1
#: points against 32 or 1024 in the measurements behind docs/deployment.md).
CALIBRATION_IMAGES = 256
#: Default evaluation set: the whole test split of Fashion-MNIST-sized datasets.
VERIFY_IMAGES = 10_000


def _format_help() -> str:
    """``torchscript (default, .ts.pt), export (...) or onnx (...)``, from the format table."""
    described = [
        f"{name} ({'default, ' if name == DEFAULT_FORMAT else ''}{entry.summary}; "
        f"{'/'.join(entry.precisions)})"
        for name, entry in FORMATS.items()
    ]
    return join_or([*described, f"{AUTO} (the fastest of these on --device, measured)"])


def _precision_help() -> str:
    return "; ".join(f"{name}: {entry.summary}" for name, entry in PRECISIONS.items())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "build",
        help="build the model and write a verified artifact (TorchScript, .pt2 or ONNX)",
        description="Build SPEC into a torch module and write it as a deployable artifact "
        "(default: NAME.ts.pt, NAME.pt2 or NAME.onnx in the current directory, NAME being "
        "the spec's name made a plain file name). The artifact embeds the spec, the "
        "resolved params, the input shape, the preprocessing, the class names and the "
        "versions; it is reloaded and compared with the eager model before it is "
        "published, and nothing is left behind if that fails.",
        epilog="examples:\n  netspec build specs/alexnet.yaml\n"
        "  netspec build specs/vgg11.yaml --set ratio=8 -o small_vgg.ts.pt --seed 0\n"
        "  netspec build specs/lenet.yaml --weights runs/lenet/best.pt --format onnx\n"
        "  netspec build specs/googlenet.yaml --format export --optimize",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.add_argument("-o", "--output", metavar="OUT", help="artifact path")
    parser.add_argument(
        "--format",
        choices=(*FORMATS, AUTO),
        default=DEFAULT_FORMAT,
        help=_format_help(),
    )
    parser.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        default="fp32",
        help=_precision_help(),
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="optimise for inference on --device: eval mode, frozen weights, batch norm "
        "folded into convolutions, in-place ReLUs, and the memory format and graph "
        "variant measured fastest there (takes a few seconds; still verified)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="with --format export: compile the program ahead of time with AOTInductor "
        "(torch.compile's code generator) for --device; takes a minute, and the package "
        "runs only on machines like this one",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=32,
        metavar="N",
        help="batch size --optimize measures at (default 32)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="device to optimise for and verify on: cpu (default) or cuda",
    )
    parser.add_argument(
        "--weights",
        metavar="STATE_DICT",
        help="load these weights (a state_dict, a training checkpoint or .safetensors); "
        "every tensor must fit",
    )
    parser.add_argument(
        "--classes",
        metavar="NAMES",
        help="comma-separated class names to embed (default: the spec's 'classes:'), "
        "e.g. 'T-shirt/top,Trouser,...'",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for the initial weights (same spec + seed = same weights)",
    )
    parser.add_argument(
        "--opset",
        type=int,
        metavar="N",
        help="ONNX opset to write (default: the exporter's, 20 with torch 2.14; 18 and newer "
        "are written directly, older ones converted)",
    )
    parser.add_argument(
        "--dynamic-size",
        action="store_true",
        help="let the artifact take other image heights and widths (networks that end in "
        "global average pooling); predict then feeds images at their own size",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every candidate --optimize timed: median and spread",
    )
    _add_lower_precision_arguments(parser)
    parser.set_defaults(func=run)


def _add_lower_precision_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("lower precision (--precision bf16, fp16, int8)")
    group.add_argument(
        "--calibrate",
        metavar="DATA",
        help="int8: dataset folder whose training images set the quantization ranges "
        "(any folder train --data reads: IDX files, CIFAR, images in class folders; "
        "default with --weights from a run directory: the data that run trained on)",
    )
    group.add_argument(
        "--calibration-images",
        type=int,
        default=CALIBRATION_IMAGES,
        metavar="N",
        help=f"int8: how many training images calibrate, a seeded random sample in a "
        f"fixed order (default {CALIBRATION_IMAGES})",
    )
    group.add_argument(
        "--calibration-seed",
        type=int,
        default=0,
        metavar="N",
        help="int8: seed of the calibration sample (default 0)",
    )
    group.add_argument(
        "--verify-data",
        metavar="DATA",
        help="dataset folder whose test images (val/ of an image folder) check the "
        "artifact's accuracy against the fp32 model (default: the --calibrate folder, else "
        "the data the --weights' run trained on)",
    )
    group.add_argument(
        "--verify-images",
        type=int,
        default=VERIFY_IMAGES,
        metavar="N",
        help=f"test images to check on (default {VERIFY_IMAGES:,}: the whole split of "
        "Fashion-MNIST)",
    )
    group.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=1.0,
        metavar="POINTS",
        help="refuse the artifact when its top-1 accuracy is more than this many "
        "percentage points below the fp32 model's (default 1)",
    )


def run(args: argparse.Namespace) -> int:
    _check_flags(args)
    if args.optimize or args.format == AUTO:
        _wait_passively()
    spec = load_spec(args)
    _check_targets(args, spec)
    from ..export import export_model

    model = spec.build(seed=args.seed)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    extra: dict[str, object] = {"seed": args.seed}
    if args.weights:
        classes = _load_weights(model, args.weights, extra, classes, spec)
    _default_to_the_runs_data(args)
    calibration, evaluation = _evaluation_data(args, spec)
    report = export_model(
        model,
        spec,
        _output(args, spec),
        format=args.format,
        optimize=args.optimize,
        device=args.device,
        batch=args.batch,
        classes=classes,
        extra_meta=extra,
        compile=args.compile,
        precision=args.precision,
        calibration=calibration,
        evaluation=evaluation,
        max_accuracy_drop=args.max_accuracy_drop,
        opset=args.opset,
        dynamic_size=args.dynamic_size,
    )
    for line in _report_lines(report, spec, args):
        print(line)
    return 0


def _check_flags(args: argparse.Namespace) -> None:
    """Misuse of the flags, before anything is built (exit status 2)."""
    from ..errors import UsageError

    for flag, value in (
        ("--batch", args.batch),
        ("--calibration-images", args.calibration_images),
        ("--verify-images", args.verify_images),
    ):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}", code="NS906")
    if args.max_accuracy_drop < 0:
        raise UsageError(
            f"--max-accuracy-drop must be at least 0, got {args.max_accuracy_drop:g}", code="NS906"
        )
    if args.calibrate and args.precision != "int8":
        raise UsageError(
            "--calibrate applies to --precision int8 (bf16 and fp16 need no calibration; "
            "--verify-data checks them)",
            code="NS907",
        )
    if args.verify_data and args.precision == "fp32":
        raise UsageError(
            "--verify-data checks lower-precision artifacts (--precision bf16, fp16 or "
            "int8); fp32 artifacts are checked against the model's own outputs",
            code="NS907",
        )
    if args.opset is not None and args.format not in ("onnx", AUTO):
        raise UsageError("--opset applies to ONNX models (--format onnx)", code="NS907")


def _wait_passively() -> None:
    """Let OpenMP threads sleep, not spin, between parallel regions, for the measurement.

    Spinning threads of one candidate take the cores from the next one on a busy machine,
    and spin-heavy runtimes then look many times slower than they are (see
    :mod:`netspec.tuning`). libgomp reads this once, when torch loads: set it before, and
    only when the user did not choose.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _default_to_the_runs_data(args: argparse.Namespace) -> None:
    """A lower precision of a run's checkpoint, with no data named: calibrate (int8) or
    verify (bf16, fp16) on the data that run trained on, as its run.json records it."""
    if args.precision == "fp32" or args.calibrate or args.verify_data or not args.weights:
        return
    from pathlib import Path

    from ..train.rundir import recorded_data

    recorded = recorded_data(Path(args.weights).parent)
    if recorded is None or not Path(recorded[0]).expanduser().is_dir():
        return
    if args.precision == "int8":
        args.calibrate = recorded[0]
    else:
        args.verify_data = recorded[0]


def _evaluation_data(
    args: argparse.Namespace, spec: Spec
) -> tuple[EvaluationSet | None, EvaluationSet | None]:
    """The calibration images (int8) and the held-out images that check the accuracy, read
    as training reads them: the spec's ``data:`` options and its preprocessing."""
    if args.precision == "fp32":
        return None, None
    from ..data_options import DataOptions
    from ..evaluation import evaluation_images

    common = {
        "preprocessing": spec.preprocessing,
        "options": DataOptions.from_section(spec.train.data),
    }
    calibration = None
    if args.calibrate:
        calibration = evaluation_images(
            args.calibrate,
            "train",
            args.calibration_images,
            args.calibration_seed,
            role="calibration data",
            **common,
        )
    source = args.verify_data or args.calibrate
    evaluation = None
    if source:
        evaluation = evaluation_images(
            source, "test", args.verify_images, 0, role="evaluation data", **common
        )
    return calibration, evaluation


def _output(args: argparse.Namespace, spec: Spec) -> Path | Callable[[Format], Path]:
    """``-o``, else ``NAME<suffix>`` of the format (after ``--format auto`` chose it), the
    spec's name made a plain file name in the current directory."""
    from ..atomic import default_output

    if args.output:
        return Path(args.output)
    return lambda chosen: default_output(spec.name, chosen.suffix)


def _check_targets(args: argparse.Namespace, spec: Spec) -> None:
    """Refuse an output that cannot be written or is an input of this command (the spec,
    its imports, ``--weights``) before minutes of building and verifying, not after."""
    from ..atomic import check_target

    inputs = [(name, "a spec file") for name in spec.files]
    if args.weights:
        inputs.append((args.weights, "the weights file"))
    out = _output(args, spec)
    targets = [out] if isinstance(out, Path) else [out(entry) for entry in FORMATS.values()]
    for target in targets:
        check_target(target, inputs)


def _report_lines(report: ExportReport, spec: Spec, args: argparse.Namespace) -> list[str]:
    """What ``netspec build`` prints about the artifact it wrote."""
    chosen = FORMATS[report.format]
    label = f"{chosen.label}, {chosen.compiler}-compiled" if args.compile else chosen.label
    if report.precision != "fp32":
        label += f", {report.precision}"
    lines = [
        f"wrote {report.path} ({report.size_bytes / 1e6:.1f} MB, {label}): "
        f"{spec.total_params:,} parameters; {_check_words(report)}"
    ]
    if report.precision != "fp32":
        lines.append(_accuracy_line(report, args))
    if report.verified_sizes:
        sizes = " and ".join(f"{w}x{h}" for h, w in report.verified_sizes)
        smallest = "x".join(str(n) for n in reversed(report.verified_sizes[0]))
        lines.append(f"takes any image size from {smallest} up (checked at {sizes} too)")
    plan = report.optimization or {}
    formats = plan.get("formats")
    if formats:
        lines.append(_choice_line("format", formats))
    if plan:
        lines.append(_optimization_line(plan, args.device))
    if args.verbose:
        lines += _candidate_table(plan)
    return lines


def _check_words(report: ExportReport) -> str:
    if report.max_abs_diff is None:
        return "checked structurally (install onnxruntime to run it)"
    batches = " and ".join(str(b) for b in report.verified_batches)
    if report.precision == "fp32":
        return (
            f"reloaded output matches eager (max abs diff {report.max_abs_diff:.2e} "
            f"at batch {batches})"
        )
    return (
        f"reloaded output has the right shape at batch {batches} (max abs diff from fp32 "
        f"{report.max_abs_diff:.2e} on random inputs)"
    )


def _accuracy_line(report: ExportReport, args: argparse.Namespace) -> str:
    found = report.accuracy
    if found is None:
        return (
            "not verified by accuracy: no evaluation data (--verify-data DATA); the "
            "metadata says 'unverified'"
        )
    source = args.verify_data or args.calibrate
    return (
        f"accuracy on {found.images:,} test images of {source}: fp32 "
        f"{found.reference_accuracy:.2%}, {report.precision} {found.accuracy:.2%} "
        f"({0.0 - found.drop_points:+.2f} points), top-1 agreement {found.agreement:.2%}"
    )


def _choice_line(what: str, measured: dict[str, Any]) -> str:
    """``chose format onnx: onnx 3.1 ms, torchscript 4.0 ms, export 5.2 ms (batch 32)``."""
    timings: dict[str, float] = measured.get("timings_ms") or {}
    ranked = sorted(timings, key=timings.__getitem__)
    listed = ", ".join(f"{name} {timings[name]:.1f} ms" for name in ranked)
    runoff: dict[str, float] = measured.get("runoff_ms") or {}
    decided = "; run-off " + ", ".join(f"{n} {ms:.1f} ms" for n, ms in runoff.items())
    return (
        f"chose {what} {measured['chosen']}: {listed} (median, batch {measured.get('batch')})"
        + (decided if runoff else "")
    )


def _candidate_table(plan: dict[str, Any]) -> list[str]:
    """``-v``: every candidate's median, interquartile range and rounds."""
    lines = []
    for section in (plan.get("formats") or {}, plan):
        timings = section.get("timings_ms") or {}
        spreads = section.get("spread_ms") or {}
        rounds = section.get("rounds") or {}
        for name, median in timings.items():
            low, high = spreads.get(name, (median, median))
            lines.append(
                f"  {name:<42} median {median:9.2f} ms  [{low:.2f}–{high:.2f}]  "
                f"{rounds.get(name, '?')} rounds"
            )
    return lines


def _load_weights(
    model: object,
    weights: str,
    extra: dict[str, object],
    classes: list[str] | None,
    spec: Spec,
) -> list[str] | None:
    """Load ``--weights``; record where they came from; returns the class names to embed.

    Weights written by ``netspec train`` (a checkpoint, or its ``best.safetensors``) bring
    the class names of the data they were trained on — the folder names of an image
    folder; checkpoints from before class names were recorded were Fashion-MNIST's —
    unless ``--classes`` or the spec name the outputs.
    """
    from ..weights import SAFETENSORS_FORMAT, load_weights

    info = load_weights(model, weights, spec.weights)  # type: ignore[arg-type]
    extra["weights"] = str(weights)
    if info.get("format") not in ("netspec.checkpoint", SAFETENSORS_FORMAT):
        return classes
    trained_on = info.get("classes")
    if trained_on is None:
        from ..data import CLASS_NAMES

        trained_on = list(CLASS_NAMES)
    extra["training"] = {
        "dataset": info.get("dataset") or "Fashion-MNIST",
        **{k: info[k] for k in ("epoch", "best_test_acc") if k in info},
    }
    return list(trained_on) if classes is None and spec.classes is None else classes


def _optimization_line(plan: dict[str, object], device: str) -> str:
    """``optimized for cpu: channels_last (batch 32: contiguous 4.1 ms, ...)``."""
    timings: dict[str, float] = plan.get("timings_ms") or {}  # type: ignore[assignment]
    measured = ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings.items())
    return f"optimized for {plan.get('device', device)}: {plan['chosen']}" + (
        f" (batch {plan.get('batch')}: {measured})" if measured else ""
    )
