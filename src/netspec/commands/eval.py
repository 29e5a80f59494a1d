"""``netspec eval``: test accuracy, overall and per class, of trained weights on a test split.

torch is imported inside :func:`run` only, like every command (``netspec check`` must not
pay for it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netspec.data_options import DataOptions

EPILOG = """\
examples:
  netspec eval specs/lenet.yaml --weights runs/lenet-20250101-120000/best.pt
  netspec eval specs/lenet.yaml --weights lenet_state_dict.pt --device cpu

  netspec eval specs/resnet18.yaml --weights runs/pets/best.safetensors --data pets/

--weights takes a netspec checkpoint (last.pt, best.pt), a plain state_dict file or a
.safetensors file; every tensor must fit. The data is --data, else the recipe's data:
section, else -- for a checkpoint in a run directory -- the data that run trained on (its
run.json), else Fashion-MNIST; its test split is evaluated (val/ of an image folder).
"""


def register(subparsers: Any) -> None:
    from netspec.commands._common import add_spec_arguments
    from netspec.data_options import add_data_arguments

    parser = subparsers.add_parser(
        "eval",
        help="test accuracy (and per-class accuracy) of trained weights",
        description="Evaluate SPEC's network with trained weights on the test split of its "
        "dataset (default Fashion-MNIST).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.add_argument(
        "--weights", required=True, metavar="CKPT", help="checkpoint, state_dict or .safetensors"
    )
    add_data_arguments(parser)
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda[:N]")
    parser.add_argument("--batch-size", type=int, default=256, help="images per batch")
    parser.add_argument("--amp", choices=("none", "bf16"), default="none", help="bf16 autocast")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netspec.commands._common import load_spec
    from netspec.data_options import data_options
    from netspec.train.errors import TrainUsageError
    from netspec.train.runner import evaluate_weights

    if args.batch_size < 1:
        raise TrainUsageError("--batch-size must be at least 1")
    compiled = load_spec(args)
    accuracy = evaluate_weights(
        compiled,
        args.weights,
        device=args.device,
        batch_size=args.batch_size,
        amp=args.amp,
        data=_run_data(args, data_options(args, compiled.train.data)),
    )
    class_names = tuple(compiled.classes or accuracy.classes)
    print(format_report(accuracy.correct.tolist(), accuracy.total.tolist(), class_names))
    return 0


def _run_data(args: argparse.Namespace, options: DataOptions) -> DataOptions:
    """Without a data folder (no --data, none in the spec's ``data:``), the one the run
    trained on, when --weights is a checkpoint of a run directory (its run.json says)."""
    from dataclasses import replace
    from pathlib import Path

    from netspec.train.rundir import recorded_data

    if options.root is not None:
        return options
    recorded = recorded_data(Path(args.weights).parent)
    if recorded is None:
        return options
    root, recorded_format = recorded
    return replace(options, root=root, format=args.data_format or recorded_format)


def format_report(correct: list[int], total: list[int], class_names: tuple[str, ...]) -> str:
    """``test acc 0.823 (8230/10000)`` followed by a per-class table."""
    hits, count = sum(correct), sum(total)
    lines = [f"test acc {hits / count if count else float('nan'):.3f} ({hits}/{count})"]
    width = max(len(name) for name in class_names)
    lines.append(f"{'class':<{width}}  acc    images")
    for name, class_hits, class_count in zip(class_names, correct, total, strict=True):
        accuracy = f"{class_hits / class_count:.3f}" if class_count else "  -  "
        lines.append(f"{name:<{width}}  {accuracy}  {class_count}")
    return "\n".join(lines)
