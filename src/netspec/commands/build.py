"""``netspec build`` — compile a spec into a verified artifact (TorchScript, .pt2 or ONNX)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..formats import FORMATS, join_or
from ..spec import Spec
from ._common import add_spec_arguments, load_spec

DEFAULT_FORMAT = "torchscript"


def _format_help() -> str:
    """``torchscript (default, .ts.pt), export (...) or onnx (...)``, from the format table."""
    described = [
        f"{name} ({'default, ' if name == DEFAULT_FORMAT else ''}{entry.summary})"
        for name, entry in FORMATS.items()
    ]
    return join_or(described)


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
        choices=tuple(FORMATS),
        default=DEFAULT_FORMAT,
        help=_format_help(),
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import check_target, default_output
    from ..errors import UsageError

    spec = load_spec(args)
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {args.batch}")
    chosen = FORMATS[args.format]
    out = Path(args.output) if args.output else default_output(spec.name, chosen.suffix)
    inputs = [(name, "a spec file") for name in spec.files]
    if args.weights:
        inputs.append((args.weights, "the weights file"))
    check_target(out, inputs)  # before minutes of building and verifying, not after
    from ..export import export_model

    model = spec.build(seed=args.seed)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    extra: dict[str, object] = {"seed": args.seed}
    if args.weights:
        classes = _load_weights(model, args.weights, extra, classes, spec)
    report = export_model(
        model,
        spec,
        out,
        format=args.format,
        optimize=args.optimize,
        device=args.device,
        batch=args.batch,
        classes=classes,
        extra_meta=extra,
        compile=args.compile,
    )
    label = f"{chosen.label}, {chosen.compiler}-compiled" if args.compile else chosen.label
    if report.max_abs_diff is None:
        check = "checked structurally (install onnxruntime to run it)"
    else:
        batches = " and ".join(str(b) for b in report.verified_batches)
        check = (
            f"reloaded output matches eager (max abs diff {report.max_abs_diff:.2e} "
            f"at batch {batches})"
        )
    print(
        f"wrote {report.path} ({report.size_bytes / 1e6:.1f} MB, {label}): "
        f"{spec.total_params:,} parameters; {check}"
    )
    if report.optimization:
        print(_optimization_line(report.optimization, args.device))
    return 0


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
