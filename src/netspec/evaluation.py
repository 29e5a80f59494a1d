"""Labelled images that calibrate and check lower-precision artifacts.

``netspec build --precision int8 --calibrate DATA`` sets the quantization ranges from real
images, and every lower-precision artifact is checked against the fp32 model on held-out
images (``--verify-data``, by default the test split of the calibration data): both
accuracies and their top-1 agreement are measured, because an int8 program differs from
the fp32 one by far more than a rounding tolerance (its logits move by percents) while its
answers should not. :func:`evaluation_images` is the one place that reads a dataset for
this; :func:`compare_accuracy` is the measurement.

The images are chosen reproducibly: a seeded random sample of a split, in a fixed order
(histogram calibration depends on the order), or the whole split in file order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .data import CLASS_NAMES, load_fashion_mnist, locate_idx_files, to_float_images
from .errors import DataError, ExportError
from .preprocessing import Preprocessing

#: Images per forward pass when checking accuracy.
EVALUATION_BATCH = 100


@dataclass(frozen=True)
class EvaluationSet:
    """Labelled images of one split of a dataset, as stored (uint8), in the order used."""

    #: uint8 (N, H, W) or (N, C, H, W).
    images: torch.Tensor
    #: int64 (N,).
    labels: torch.Tensor
    classes: tuple[str, ...]
    #: The dataset folder, as the user named it.
    source: str
    split: str
    #: The seed of the sample; None when the whole split is used in file order.
    seed: int | None

    def __len__(self) -> int:
        return len(self.labels)

    def record(self) -> dict[str, Any]:
        """Where the images came from, for an artifact's metadata."""
        return {"data": self.source, "split": self.split, "images": len(self), "seed": self.seed}

    def floats(
        self, preprocessing: Preprocessing, start: int = 0, stop: int | None = None
    ) -> torch.Tensor:
        """Images ``start:stop`` as the network's float input (the training pipeline's
        :func:`netspec.data.to_float_images`)."""
        return to_float_images(self.images[start:stop], preprocessing)


def evaluation_images(
    data: str | Path, split: str, count: int | None, seed: int, *, role: str
) -> EvaluationSet:
    """``count`` images of ``split`` ("train" or "test") of the dataset in folder ``data``:
    a random sample drawn with ``seed``, in that order; the whole split in file order when
    ``count`` is None or not smaller than it. ``role`` names the data in messages
    ("calibration data").

    Reads Fashion-MNIST-style IDX files (Fashion-MNIST, MNIST: the four files, gzip or not).
    """
    folder = Path(data).expanduser()
    if not folder.is_dir() or locate_idx_files(folder) is None:
        raise DataError(
            f"{role} {data}: not a dataset folder netspec reads (it takes the four "
            "Fashion-MNIST/MNIST IDX files: train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
            "gzip or not)",
            code="NS717",
        )
    dataset = load_fashion_mnist(folder, download=False, with_train=split == "train")
    images = getattr(dataset, f"{split}_images")
    labels = getattr(dataset, f"{split}_labels")
    if count is not None and count < len(labels):
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
        index = order[:count]
        images, labels, used_seed = images[index], labels[index], seed
    else:
        used_seed = None
    return EvaluationSet(images, labels, CLASS_NAMES, str(data), split, used_seed)


@dataclass(frozen=True)
class AccuracyCheck:
    """A lower-precision program against the fp32 model on the same labelled images."""

    images: int
    #: Top-1 accuracy of the fp32 model, a fraction.
    reference_accuracy: float
    #: Top-1 accuracy of the lower-precision program.
    accuracy: float
    #: Fraction of images on which both give the same top-1 class.
    agreement: float

    @property
    def drop_points(self) -> float:
        """How many percentage points of accuracy the lower precision lost (negative: gained)."""
        return (self.reference_accuracy - self.accuracy) * 100


Runner = Callable[[torch.Tensor], torch.Tensor]


def compare_accuracy(
    reference: Runner,
    candidate: Runner,
    data: EvaluationSet,
    preprocessing: Preprocessing,
    device: torch.device,
) -> AccuracyCheck:
    """Top-1 accuracy of ``reference`` and ``candidate`` on ``data`` and how often they
    agree, batch by batch (the images are converted to floats a batch at a time)."""
    right = [0, 0]
    same = 0
    with torch.inference_mode():
        for start in range(0, len(data), EVALUATION_BATCH):
            x = data.floats(preprocessing, start, start + EVALUATION_BATCH).to(device)
            labels = data.labels[start : start + EVALUATION_BATCH]
            want = reference(x).float().cpu()
            got = candidate(x).float().cpu()
            _check_classes(want, labels, data)
            right[0] += int((want.argmax(1) == labels).sum())
            right[1] += int((got.argmax(1) == labels).sum())
            same += int((want.argmax(1) == got.argmax(1)).sum())
    total = max(len(data), 1)
    return AccuracyCheck(len(data), right[0] / total, right[1] / total, same / total)


def _check_classes(logits: torch.Tensor, labels: torch.Tensor, data: EvaluationSet) -> None:
    if logits.ndim != 2:
        raise ExportError(
            "checking accuracy needs one score per class; the network gives "
            f"{tuple(logits.shape[1:])}",
            code="NS606",
        )
    if len(labels) and int(labels.max()) >= logits.shape[1]:
        raise ExportError(
            f"{data.source} has labels up to {int(labels.max())}, but the network has "
            f"{logits.shape[1]} outputs: check the accuracy on data of its own classes",
            code="NS606",
        )
