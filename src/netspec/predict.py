"""Run an artifact on image files or IDX files, with the artifact's own preprocessing.

The preprocessing is the training pipeline's, read from the artifact's metadata: convert to
grayscale (one channel) or RGB (three), scale pixels by 1/255 (as ``ToTensor``), resize to
the input's height × width (bilinear with half-pixel centres, antialiased when shrinking:
torchvision's ``Resize``, and exactly what ``netspec train`` does to its batches). An
image whose aspect ratio differs from the input's is refused instead of being silently
distorted. IDX files (the MNIST/Fashion-MNIST container) hold many images: each becomes
one input.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .artifacts import Artifact
from .errors import InputError

#: Largest relative difference between an image's and the input's aspect ratio that is
#: still resized rather than refused (rounding of odd sizes, say 28×28 vs 27×28 crops).
ASPECT_TOLERANCE = 0.05
#: IDX type codes (the third byte of the magic number) and their numpy types.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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
        head = path.read_bytes()[:4]
        if _is_idx(head) or head[:2] == b"\x1f\x8b":
            yield from read_idx(path, limit)
        else:
            yield Sample(name, None, read_image(path))


def _is_idx(head: bytes) -> bool:
    return len(head) == 4 and head[:2] == b"\0\0" and head[2] in _IDX_TYPES and 1 <= head[3] <= 4


def read_image(path: Path) -> np.ndarray:
    """Pixels of a PNG/JPEG/... file as uint8, (H, W) for grayscale, (H, W, 3) for colour."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB" if image.mode in ("RGBA", "P", "CMYK") else "L")
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InputError(f"{path} is not an image (PNG, JPEG, ...) or an IDX file") from None


def read_idx(path: Path, limit: int | None = None) -> Iterator[Sample]:
    """The images of an IDX file (optionally gzip-compressed): N×H×W or N×H×W×C."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            raise InputError(f"{path} is a damaged gzip file") from None
    if not _is_idx(raw[:4]):
        raise InputError(f"{path} is not an image or an IDX file")
    code, dims = raw[2], raw[3]
    header = 4 + 4 * dims
    if len(raw) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    if dims == 1:
        raise InputError(f"{path} holds {shape[0]} labels (a 1-D IDX file), not images")
    if dims not in (3, 4):
        raise InputError(f"{path} holds {dims}-D data; image IDX files are N x H x W")
    dtype = np.dtype(_IDX_TYPES[code])
    count = int(np.prod(shape))
    if len(raw) - header < count * dtype.itemsize:
        raise InputError(
            f"{path}: truncated IDX data ({len(raw) - header} bytes for "
            f"{' x '.join(map(str, shape))} values)"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    for index in range(shape[0] if limit is None else min(limit, shape[0])):
        pixels = data[index]
        if pixels.dtype != np.uint8:
            pixels = np.clip(pixels, 0, 255).astype(np.uint8)
        yield Sample(str(path), index, pixels)


def preprocess(sample: Sample, meta: dict[str, Any]) -> torch.Tensor:
    """A sample as the (C, H, W) float tensor the artifact's model was trained on."""
    from PIL import Image

    input_shape = meta.get("input_shape") or []
    prep = meta.get("preprocessing") or {}
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
    if abs((w / h) / (width / height) - 1.0) > ASPECT_TOLERANCE:
        raise InputError(
            f"{sample.label}: wrong size: {w}x{h} pixels, but the artifact takes "
            f"{width}x{height} images (aspect ratio differs; crop it first)"
        )
    image = Image.fromarray(pixels).convert(prep.get("color") or ("L" if channels == 1 else "RGB"))
    array = np.asarray(image, dtype=np.float32) * float(prep.get("scale", 1.0 / 255.0))
    # (H, W) grayscale gains its channel axis; (H, W, C) colour becomes (C, H, W).
    tensor = torch.from_numpy(array.copy())
    tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()
    size = tuple(prep.get("resize") or (height, width))
    if tuple(tensor.shape[1:]) != size:
        # What `netspec train` does to its batches (netspec.data.to_float_images), and what
        # torchvision's Resize computes: bilinear, half-pixel centres, antialiased when
        # shrinking — on floats, so no rounding to grey levels in between.
        shrinking = size[0] < tensor.shape[1] or size[1] < tensor.shape[2]
        tensor = F.interpolate(
            tensor.unsqueeze(0),
            size=size,
            mode="bilinear",
            align_corners=False,
            antialias=shrinking,
        )[0]
    return tensor


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
    """Top-``top`` classes with softmax probabilities for every sample, batch by batch."""
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
        batch.append((sample, preprocess(sample, artifact.meta)))
        if len(batch) == batch_size:
            yield from flush()
    if batch:
        yield from flush()
