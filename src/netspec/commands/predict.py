"""``netspec predict`` — classify images with an exported artifact (any format)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "predict",
        help="run an artifact on image or IDX files and print the top classes",
        description="Run ARTIFACT (TorchScript .ts.pt, torch.export .pt2 or ONNX, as "
        "written by netspec build) on each INPUT: PNG/JPEG images, or IDX files of images "
        "(Fashion-MNIST's format, optionally .gz). Inputs are preprocessed as the "
        "artifact's metadata says (grayscale or RGB, resized to its input size, pixels "
        "scaled by 1/255), and the top-K class names are printed with their "
        "probabilities.",
        epilog="examples:\n  netspec predict lenet.ts.pt shoe.png\n"
        "  netspec predict lenet.onnx t10k-images-idx3-ubyte.gz --limit 5 --top 1\n"
        "  netspec predict googlenet.pt2 a.png b.png --device cuda --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("artifact", metavar="ARTIFACT", help="a netspec artifact")
    parser.add_argument("inputs", metavar="INPUT", nargs="+", help="image or IDX files")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--top", type=int, default=3, metavar="K", help="classes to show (default 3)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="first N images of each IDX file"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, metavar="N", help="images per forward pass"
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile a .pt2 program before running it (pays off on many inputs)",
    )
    parser.add_argument(
        "--trust-artifact",
        action="store_true",
        help="open ARTIFACT even if opening it can run code from it: pickled data, native "
        "libraries (an AOTInductor --compile package), Python source, operators that touch "
        "files. Refused by default, since an artifact may come from anyone; give this only "
        "for files whose origin you trust",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError

    for flag, value in (("--top", args.top), ("--batch-size", args.batch_size)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    from ..artifacts import load_artifact
    from ..predict import predict, read_inputs

    artifact = load_artifact(
        args.artifact, args.device, compile=args.compile, trust=args.trust_artifact
    )
    if args.compile and artifact.format != "export":
        print(
            f"note: --compile applies to .pt2 programs; this {artifact.format} artifact "
            "runs as it is",
            file=sys.stderr,
        )
    # Everything is read and preprocessed before the first line is printed, so that a bad
    # input among many is reported alone rather than after half of the results.
    predictions = list(
        predict(
            artifact,
            read_inputs(args.inputs, args.limit),
            top=args.top,
            batch_size=args.batch_size,
        )
    )
    if args.json:
        document = {
            "artifact": str(artifact.path),
            "format": artifact.format,
            "device": str(artifact.device),
            "predictions": [p.as_json() for p in predictions],
        }
        print(json.dumps(document, indent=2))
        return 0
    for prediction in predictions:
        ranked = ", ".join(f"{name} {p * 100:.1f}%" for _, name, p in prediction.top)
        print(f"{prediction.sample.label}: {ranked}")
    return 0
