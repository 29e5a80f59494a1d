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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .data import locate_idx_files, to_float_images
from .data_options import DataOptions
from .datasets import Dataset, check_dataset_fits, detect_format, open_dataset
from .errors import DataError, ExportError
from .preprocessing import Preprocessing

#: Images per forward pass when checking accuracy.
EVALUATION_BATCH = 100


@dataclass(frozen=True)
class EvaluationSet:
    """Labelled images of one split of a dataset, in the order used.

    The images stay in the dataset (a streamed image folder decodes them a batch at a
    time): only their positions are kept, so checking on ten thousand large images does not
    hold them all in memory at once.
    """

    dataset: Dataset
    #: Positions in ``dataset`` of the images used, in the order used.
    indices: torch.Tensor
    #: The dataset folder, as the user named it.
    source: str
    #: The seed of the sample; None when the whole split is used in file order.
    seed: int | None

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> torch.Tensor:
        return self.dataset.labels[self.indices]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.dataset.classes

    @property
    def split(self) -> str:
        return self.dataset.split

    def record(self) -> dict[str, Any]:
        """Where the images came from, for an artifact's metadata."""
        return {"data": self.source, "split": self.split, "images": len(self), "seed": self.seed}

    def floats(
        self, preprocessing: Preprocessing, start: int = 0, stop: int | None = None
    ) -> torch.Tensor:
        """Images ``start:stop`` as the network's float input (the training pipeline's
        :func:`netspec.data.to_float_images`)."""
        return to_float_images(self.dataset.take(self.indices[start:stop]), preprocessing)


def evaluation_images(
    data: str | Path,
    split: str,
    count: int | None,
    seed: int,
    *,
    role: str,
    preprocessing: Preprocessing,
    options: DataOptions | None = None,
) -> EvaluationSet:
    """``count`` images of ``split`` ("train" or "test") of the dataset in folder ``data``:
    a random sample drawn with ``seed``, in that order; the whole split in file order when
    ``count`` is None or not smaller than it. ``role`` names the data in messages
    ("calibration data").

    Any dataset ``netspec train --data`` reads (IDX files, CIFAR, images in class folders),
    opened by :func:`netspec.datasets.open_dataset` with ``options`` (the spec's ``data:``
    section: a one-folder image dataset is split by its ``val_fraction`` and ``split_seed``
    as training split it) for this folder, never downloading; folder images are converted
    to ``preprocessing``'s colour mode and size as in training.
    """
    folder = Path(data).expanduser()
    chosen = replace(options or DataOptions(), root=str(folder), format="auto", download=False)
    if not folder.is_dir() or not _is_dataset(chosen):
        raise DataError(
            f"{role} {data}: not a dataset folder netspec reads (Fashion-MNIST/MNIST IDX "
            "files, torchvision's CIFAR layout, or images in class folders: the folders "
            "netspec train --data takes)",
            code="NS717",
        )
    dataset = open_dataset(chosen, split, preprocessing)
    if count is not None and count < len(dataset):
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
        return EvaluationSet(dataset, order[:count], str(data), seed)
    return EvaluationSet(dataset, torch.arange(len(dataset)), str(data), None)


def _is_dataset(options: DataOptions) -> bool:
    """Whether the folder holds a dataset (auto-detection falls back to Fashion-MNIST, which
    then has to be there)."""
    kind = detect_format(options)
    return kind != "fashion-mnist" or locate_idx_files(Path(str(options.root))) is not None


def check_images_fit(data: EvaluationSet, input_shape: Sequence[int], name: str) -> None:
    """One line when the images cannot feed the network: none at all, or the wrong number of
    channels (IDX and CIFAR images have fixed channels; folder images are converted)."""
    hint = "images in class folders are converted to the input's channels"
    check_dataset_fits(data.dataset, input_shape, name, verb="use", hint=hint)


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
