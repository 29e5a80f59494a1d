"""Fashion-MNIST as a folder of PNGs vs the IDX files: same accuracy, comparable speed.

    python benchmarks/image_folder.py --data-dir ../shared/data/fashion-mnist \\
        --png-dir /tmp/fmnist-png [--rounds 2] [--epochs 10]

Writes the 70,000 images once as ``PNG_DIR/train/<k>-<class>/<index>.png`` and
``PNG_DIR/val/...`` (lossless, so the pixels are the IDX file's; class folders are
prefixed by their label so that sorting them gives label order; files are named by
their index, which netspec's folder order follows). Then trains ``specs/lenet.yaml``
with ``netspec train`` on each, alternating ``--rounds`` times, and prints each run's
final test accuracy and its training throughput after the first epoch (images per
second over epochs 2..N, evaluation included, as the epoch lines time them). The first
folder run decodes the PNGs into the decoded-image cache; later runs read the cache.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from netspec.data import CLASS_NAMES, load_fashion_mnist  # noqa: E402


def export_png_folder(data_dir: Path, target: Path) -> None:
    """Write every image of the IDX files as a PNG, unless ``target`` is complete."""
    from PIL import Image

    done = target / "complete"
    if done.exists():
        return
    data = load_fashion_mnist(data_dir, download=False)
    folders = [f"{k}-{name.replace('/', '_')}" for k, name in enumerate(CLASS_NAMES)]
    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("val", data.test_images, data.test_labels),
    ):
        for folder in folders:
            (target / split / folder).mkdir(parents=True, exist_ok=True)
        for index, (image, label) in enumerate(zip(images.numpy(), labels.tolist(), strict=True)):
            Image.fromarray(image).save(target / split / folders[label] / f"{index:05d}.png")
    done.write_text("70000 images\n")


def train(data: Path, out: Path, epochs: int, env: dict[str, str]) -> tuple[float, float, float]:
    """(final test accuracy, images/s after the first epoch, wall seconds) of one run."""
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "netspec", "train", str(REPO / "specs" / "lenet.yaml"),
         "--data", str(data), "--out", str(out), "--epochs", str(epochs), "--device", "cpu",
         "--no-download"],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.time() - started
    with open(out / "metrics.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    later = rows[1:]
    samples = 60000 * len(later)
    return float(rows[-1]["test_acc"]), samples / sum(float(r["time_sec"]) for r in later), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--png-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    started = time.time()
    export_png_folder(args.data_dir, args.png_dir)
    print(f"PNG folder ready in {time.time() - started:.0f} s: {args.png_dir}")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    scratch = Path(tempfile.mkdtemp(prefix="netspec-folder-bench-"))
    env.setdefault("NETSPEC_CACHE_DIR", str(scratch / "cache"))
    try:
        for round_index in range(args.rounds):
            for label, data in (("idx", args.data_dir), ("folder", args.png_dir)):
                out = scratch / f"{label}-{round_index}"
                accuracy, speed, wall = train(data, out, args.epochs, env)
                print(
                    f"round {round_index + 1} {label:<6}: test acc {accuracy:.4f}, "
                    f"{speed:7.0f} images/s after epoch 1, {wall:5.1f} s wall",
                    flush=True,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
