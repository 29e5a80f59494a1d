"""Run an artifact on image files or IDX files, with the artifact's own preprocessing.

Files are read by :mod:`netspec.datafiles`, the bounded readers datasets use too. The
preprocessing is the training pipeline's, read from the artifact's metadata
(:class:`netspec.preprocessing.Preprocessing`) and applied by the function training applies
to its batches (:func:`netspec.data.to_float_images`): convert to grayscale (one channel)
or RGB (three); then, for a spec with a ``preprocess:`` section, torchvision's
``ImageClassification`` steps on the uint8 image (resize, centre crop, ``/ 255``,
normalise); without one, the seed's (``/ 255``, resize to the input's height × width,
bilinear with half-pixel centres, antialiased when shrinking). Without a crop, an image
whose aspect ratio differs from the input's is refused instead of being silently
distorted. IDX files (the MNIST/Fashion-MNIST container) hold many images: each becomes
one input. An artifact built with ``--dynamic-size`` (its metadata has ``dynamic_hw``)
takes images of any size from its smallest one on: they are not resized, only converted
and scaled, and an image below that size is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import datafiles
from .artifacts import Artifact
from .errors import DataError, InputError
from .preprocessing import Preprocessing
from .spatial import SizeRange

#: Largest relative difference between an image's and the input's aspect ratio that is
#: still resized rather than refused (rounding of odd sizes, say 28×28 vs 27×28 crops).
ASPECT_TOLERANCE = 0.05


@dataclass
class Sample:
    """One input image as an (H, W) or (H, W, C) uint8-range array, and where it came from."""

    source: str
    index: int | None
    pixels: np.ndarray

    @property
    def label(self) -> str:
        return self.source if self.index is None else f"{self.source}[{self.index}]"


@dataclass
class Prediction:
    """The top classes of one input, most probable first."""

    sample: Sample
    top: list[tuple[int, str, float]]

    def as_json(self) -> dict[str, Any]:
        return {
            "input": self.sample.source,
            "index": self.sample.index,
            "top": [
                {"class": name, "index": index, "probability": probability}
                for index, name, probability in self.top
            ],
        }


def read_inputs(paths: list[str], limit: int | None = None) -> Iterator[Sample]:
    """Samples of every input file, in order: images as one sample, IDX files as many."""
    for name in paths:
        path = Path(name)
        if not path.exists():
            raise InputError(f"input not found: {name}")
        if not path.is_file():
            raise InputError(f"input {name} is not a file")
        with open(path, "rb") as stream:
            head = stream.read(2)
        # IDX files start with two zero bytes, gzip files with 1f 8b; no image format does.
        if head in (b"\0\0", b"\x1f\x8b"):
            yield from read_idx_images(path, limit)
        else:
            yield Sample(name, None, read_image(path))


def read_image(path: Path) -> np.ndarray:
    """Pixels of a PNG/JPEG/... file as uint8, (H, W) for grayscale, (H, W, 3) for colour."""
    try:
        return datafiles.read_image(path)
    except datafiles.NotAnImageError:
        raise InputError(f"{path} is not an image (PNG, JPEG, ...) or an IDX file") from None
    except DataError as exc:
        raise InputError(exc.message) from None


def read_idx_images(path: Path, limit: int | None = None) -> Iterator[Sample]:
    """The images of an IDX file (gzip-compressed or not): N×H×W, or N×H×W×C.

    The file is read by :func:`netspec.data.read_idx`, the reader training uses.
    """
    from .data import read_idx

    try:
        data = read_idx(path)
    except DataError as exc:
        raise InputError(exc.message) from None
    if data.ndim == 1:
        raise InputError(f"{path} holds {data.shape[0]} labels (a 1-D IDX file), not images")
    if data.ndim not in (3, 4):
        raise InputError(f"{path} holds {data.ndim}-D data; image IDX files are N x H x W")
    count = data.shape[0] if limit is None else min(limit, data.shape[0])
    for index in range(count):
        pixels = data[index].numpy()
        if pixels.dtype != np.uint8:
            pixels = np.clip(pixels, 0, 255).astype(np.uint8)
        yield Sample(str(path), index, pixels)


def preprocess(sample: Sample, meta: dict[str, Any]) -> torch.Tensor:
    """A sample as the (C, H, W) float tensor the artifact's model was trained on."""
    from .data import to_float_images

    input_shape = meta.get("input_shape") or []
    if len(input_shape) != 3:
        raise InputError(
            f"{sample.label}: this artifact takes flat feature vectors of shape "
            f"{tuple(input_shape)}, not images"
        )
    channels, height, width = input_shape
    if channels not in (1, 3):
        raise InputError(
            f"{sample.label}: this artifact takes {channels}-channel inputs; images give 1 or 3"
        )
    pixels = sample.pixels
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise InputError(f"{sample.label}: unsupported pixel array of shape {pixels.shape}")
    h, w = pixels.shape[:2]
    if h == 0 or w == 0:
        raise InputError(f"{sample.label}: the image is empty")
    steps = Preprocessing.from_metadata(meta.get("preprocessing"), input_shape)
    sizes = SizeRange.from_metadata(meta.get("dynamic_hw"))
    if sizes is not None:
        _check_size(sample, sizes, h, w)
        steps = replace(steps, resize=None, crop=None)  # fed at its own size
    elif steps.crop is None and abs((w / h) / (width / height) - 1.0) > ASPECT_TOLERANCE:
        raise InputError(
            f"{sample.label}: wrong size: {w}x{h} pixels, but the artifact takes "
            f"{width}x{height} images (aspect ratio differs; crop it first)"
        )
    image = datafiles.convert_pixels(pixels, steps.color or "L")
    # (H, W) grayscale gains its channel axis; (H, W, C) colour becomes (C, H, W).
    tensor = torch.from_numpy(image.copy())
    tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()
    return to_float_images(tensor.unsqueeze(0), steps)[0]


def _check_size(sample: Sample, sizes: SizeRange, height: int, width: int) -> None:
    if not sizes.admits(height, width):
        raise InputError(
            f"{sample.label}: {width}x{height} pixels is outside the sizes this artifact "
            f"takes ({sizes.min_width}x{sizes.min_height} to "
            f"{sizes.max_width}x{sizes.max_height})",
            code="NS701",
        )


def class_name(index: int, classes: list[str] | None) -> str:
    if classes and 0 <= index < len(classes):
        return str(classes[index])
    return f"class {index}"


def predict(
    artifact: Artifact,
    samples: Iterator[Sample],
    *,
    top: int = 3,
    batch_size: int = 64,
) -> Iterator[Prediction]:
    """Top-``top`` classes with softmax probabilities for every sample, batch by batch
    (a batch ends early where the image size changes: a dynamic-size artifact takes images
    of any size, but one batch holds one size)."""
    assert artifact.run is not None
    batch: list[tuple[Sample, torch.Tensor]] = []

    def flush() -> Iterator[Prediction]:
        inputs = torch.stack([tensor for _, tensor in batch])
        logits = artifact.run(inputs).float().cpu()  # type: ignore[misc]
        if logits.ndim != 2:
            raise InputError(
                f"the artifact's output has shape {tuple(logits.shape)}; predict needs "
                "one score per class"
            )
        probabilities = torch.softmax(logits, dim=1)
        k = min(top, probabilities.shape[1])
        values, indices = probabilities.topk(k, dim=1)
        for (sample, _), row_values, row_indices in zip(batch, values, indices, strict=True):
            yield Prediction(
                sample,
                [
                    (int(i), class_name(int(i), artifact.classes), float(v))
                    for v, i in zip(row_values, row_indices, strict=True)
                ],
            )
        batch.clear()

    for sample in samples:
        tensor = preprocess(sample, artifact.meta)
        if batch and batch[0][1].shape != tensor.shape:
            yield from flush()
        batch.append((sample, tensor))
        if len(batch) == batch_size:
            yield from flush()
    if batch:
        yield from flush()
