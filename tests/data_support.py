"""Small datasets the tests write themselves: image folders (PNG/JPEG) and CIFAR batches.

Every picture follows :func:`train_support.synthetic_images` (class k lights rows 2k+3 and
2k+4 on a noisy background), so a few training steps learn it; the files are written in
the layouts netspec reads — torchvision's ImageFolder (``train/<class>/…``,
``val/<class>/…``) and CIFAR's "python version" pickles — without any download.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from train_support import synthetic_images

#: Folder names that sort in label order, as an exported dataset's would.
CLASS_FOLDERS = tuple(f"{k}-class" for k in range(10))
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")  # fmt: skip


def write_images(
    folder: Path,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    classes: tuple[str, ...] = CLASS_FOLDERS,
    suffix: str = ".png",
    rgb: bool = False,
) -> Path:
    """``folder/<class>/<index>.png`` for each uint8 image (H, W) or (3, H, W)."""
    for index, (image, label) in enumerate(zip(images, labels.tolist(), strict=True)):
        target = folder / classes[label]
        target.mkdir(parents=True, exist_ok=True)
        pixels = image.numpy() if image.ndim == 2 else image.permute(1, 2, 0).numpy()
        picture = Image.fromarray(pixels)
        picture = picture.convert("RGB") if rgb else picture
        picture.save(target / f"{index:05d}{suffix}", quality=95)
    return folder


def write_image_folder(
    root: Path,
    *,
    train: int = 120,
    val: int = 40,
    split: bool = True,
    classes: int = 10,
    suffix: str = ".png",
    rgb: bool = False,
) -> Path:
    """An ImageFolder dataset of ``classes`` classes: ``train/`` and ``val/``, or (with
    ``split=False``) the class folders directly under ``root``."""
    train_images, train_labels = _only(synthetic_images(train, seed=1), classes)
    write_images(root / "train" if split else root, train_images, train_labels,
                 suffix=suffix, rgb=rgb)  # fmt: skip
    if split:
        val_images, val_labels = _only(synthetic_images(val, seed=2), classes)
        write_images(root / "val", val_images, val_labels, suffix=suffix, rgb=rgb)
    return root


def _only(data: tuple[torch.Tensor, torch.Tensor], classes: int) -> tuple[torch.Tensor, ...]:
    images, labels = data
    keep = labels < classes
    return images[keep], labels[keep].long()


def cifar_batch(count: int, seed: int) -> dict[str, object]:
    """One CIFAR-10 batch as torchvision's files hold it: 'data' (N, 3072) uint8, 'labels'."""
    images, labels = synthetic_images(count, seed=seed, size=32)
    colour = images.unsqueeze(1).expand(-1, 3, -1, -1).reshape(count, -1)
    return {
        "batch_label": f"batch {seed}",
        "labels": [int(label) for label in labels],
        "data": np.ascontiguousarray(colour.numpy()),
        "filenames": [f"{i}.png" for i in range(count)],
    }


def write_cifar10(root: Path, *, per_batch: int = 24, test: int = 40) -> Path:
    """``root/cifar-10-batches-py/`` with five training batches, the test batch and meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, 6):
        _dump(folder / f"data_batch_{number}", cifar_batch(per_batch, seed=number))
    _dump(folder / "test_batch", cifar_batch(test, seed=9))
    _dump(folder / "batches.meta", {"label_names": list(CIFAR10_NAMES), "num_vis": 3072})
    return root


def _dump(path: Path, value: object) -> None:
    with open(path, "wb") as stream:
        pickle.dump(value, stream, protocol=2)  # the files' own protocol (Python 2's cPickle)


class Payload:
    """Unpickling this runs ``touch MARKER``: what a hostile data file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


def write_payload_batch(path: Path, marker: Path) -> None:
    """A CIFAR batch whose 'data' runs a shell command when unpickled by plain pickle."""
    _dump(path, {"labels": [1], "data": Payload(marker)})
