"""``netspec eval``: test accuracy, overall and per class, of trained weights on a test split.

torch is imported inside :func:`run` only, like every command (``netspec check`` must not
pay for it).
"""

from __future__ import annotations

import argparse
from typing import Any

EPILOG = """\
examples:
  netspec eval specs/lenet.yaml --weights runs/lenet-20250101-120000/best.pt
  netspec eval specs/lenet.yaml --weights lenet_state_dict.pt --device cpu

  netspec eval specs/resnet18.yaml --weights runs/pets/best.safetensors --data pets/

--weights takes a netspec checkpoint (last.pt, best.pt), a plain state_dict file or a
.safetensors file; every tensor must fit. The data is the recipe's data: section (default
Fashion-MNIST) or --data; its test split is evaluated (val/ of an image folder).
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
        data=data_options(args, compiled.train.data),
    )
    class_names = tuple(compiled.classes or accuracy.classes)
    print(format_report(accuracy.correct.tolist(), accuracy.total.tolist(), class_names))
    return 0


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
