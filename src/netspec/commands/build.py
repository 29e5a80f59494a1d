"""``netspec build`` — compile a spec into a verified artifact (TorchScript, .pt2 or ONNX)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_spec_arguments, load_spec

FORMAT_CHOICES = ("torchscript", "export", "onnx")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "build",
        help="build the model and write a verified artifact (TorchScript, .pt2 or ONNX)",
        description="Build SPEC into a torch module and write it as a deployable artifact "
        "(default: NAME.ts.pt, NAME.pt2 or NAME.onnx in the current directory, NAME being "
        "the spec's name). The artifact embeds the spec, the resolved params, the input "
        "shape, the preprocessing, the class names and the versions; it is reloaded and "
        "compared with the eager model before it is published, and nothing is left "
        "behind if that fails.",
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
        choices=FORMAT_CHOICES,
        default="torchscript",
        help="torchscript (default, .ts.pt), export (torch.export program, .pt2, dynamic "
        "batch) or onnx (.onnx, dynamic batch; needs pip install 'netspec[onnx]')",
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
        help="load these weights (a state_dict or a training checkpoint)",
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
    from ..errors import UsageError

    spec = load_spec(args)
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {args.batch}")
    from ..export import FORMAT_LABELS, SUFFIXES, export_model
    from ..weights import load_weights

    model = spec.build(seed=args.seed)
    extra: dict[str, object] = {"seed": args.seed}
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    if args.weights:
        info = load_weights(model, args.weights)
        extra["weights"] = str(args.weights)
        if info.get("format") == "netspec.checkpoint":
            # `netspec train` trains on Fashion-MNIST: its outputs are these classes.
            from ..data import CLASS_NAMES

            extra["training"] = {
                "dataset": "Fashion-MNIST",
                **{k: info[k] for k in ("epoch", "best_test_acc") if k in info},
            }
            if classes is None and spec.classes is None:
                classes = list(CLASS_NAMES)
    out = Path(args.output) if args.output else Path(f"{spec.name}{SUFFIXES[args.format]}")
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
    label = FORMAT_LABELS[args.format]
    if args.compile:
        label += ", AOTInductor-compiled"
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
        plan = report.optimization
        timings = plan.get("timings_ms") or {}
        chosen = plan["chosen"]
        measured = ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings.items())
        print(
            f"optimized for {plan.get('device', args.device)}: {chosen}"
            + (f" (batch {plan.get('batch')}: {measured})" if measured else "")
        )
    return 0
