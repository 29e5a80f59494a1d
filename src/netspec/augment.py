"""Training augmentation as batched tensor ops on the training device.

torchvision's per-image transforms (``RandomResizedCrop``, ``RandomHorizontalFlip``,
``RandomCrop(padding=4)``) draw their randomness once per call; applied to a batch tensor,
``torchvision.transforms.v2`` would give every image of the batch the *same* crop. Here
each image gets its own draw, yet each step is one tensor operation over the whole batch
(no per-image Python): the random boxes of a resized crop are one ``grid_sample``, a flip
is one ``where``, a padded random crop one gather. The evaluation transform (the spec's
``preprocess:``) stays :func:`netspec.data.to_float_images`; what follows the geometry —
``/ 255`` and normalisation — is shared with it.

The random numbers come from a ``torch.Generator`` on the CPU that the batcher seeds from
``(seed, epoch, rank)``, so an epoch's augmentation, like its order, is the same in an
interrupted-and-resumed run as in an uninterrupted one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data import normalize, resize_and_crop, scale_pixels, to_float_images, to_unit_range
from .preprocessing import Preprocessing
from .recipe import Augment, RandomResizedCrop


class TrainTransform:
    """uint8 (N, C, H, W) training images → augmented, normalised float32 inputs.

    In torchvision's order: the geometry that yields the input's (height, width) — a
    random resized crop when the recipe asks for one, else the evaluation's resize (and
    crop) — then flips and the padded random crop (zero pixels, before normalisation, as
    ``RandomCrop(padding=4)`` pads), then normalisation as in evaluation.
    """

    def __init__(
        self, augment: Augment, preprocessing: Preprocessing, size: tuple[int, int]
    ) -> None:
        self.augment = augment
        self.preprocessing = preprocessing
        self.size = size

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if batch.ndim == 3:
            batch = batch.unsqueeze(1)
        if not self.augment.active:
            return to_float_images(batch, self.preprocessing)
        images = self._geometry(batch, generator)
        if self.augment.horizontal_flip:
            images = random_flip(images, self.augment.horizontal_flip, generator)
        if self.augment.pad_crop:
            images = padded_random_crop(images, self.augment.pad_crop, generator)
        return normalize(images, self.preprocessing)

    def _geometry(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Float images of the input's size, scaled to 0..1, not yet normalised."""
        crop = self.augment.random_resized_crop
        if crop is not None:
            return random_resized_crop(self._unit(batch), self.size, crop, generator)
        if self.preprocessing.crop is not None:
            return to_unit_range(resize_and_crop(batch, self.preprocessing))
        return to_float_images(batch, self.preprocessing)  # the seed's: no normalisation

    def _unit(self, batch: torch.Tensor) -> torch.Tensor:
        """Pixels in 0..1, by the evaluation's arithmetic."""
        if self.preprocessing.crop is not None:
            return to_unit_range(batch)
        return scale_pixels(batch, self.preprocessing)


def _uniform(count: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(count, generator=generator, dtype=torch.float64)


def random_flip(batch: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left to right with probability ``p``."""
    flip = (_uniform(len(batch), generator) < p).to(batch.device)
    return torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)


def padded_random_crop(
    batch: torch.Tensor, padding: int, generator: torch.Generator
) -> torch.Tensor:
    """Pad every side by ``padding`` zeros, then take a random window of the original size
    per image (torchvision's ``RandomCrop(size, padding)``), as one gather."""
    count, channels, height, width = batch.shape
    padded = F.pad(batch, (padding, padding, padding, padding))
    tops = torch.randint(0, 2 * padding + 1, (count,), generator=generator)
    lefts = torch.randint(0, 2 * padding + 1, (count,), generator=generator)
    device = batch.device
    rows = (tops.to(device)[:, None] + torch.arange(height, device=device)).view(
        count, 1, height, 1
    )
    cols = (lefts.to(device)[:, None] + torch.arange(width, device=device)).view(count, 1, 1, width)
    samples = torch.arange(count, device=device).view(count, 1, 1, 1)
    planes = torch.arange(channels, device=device).view(1, channels, 1, 1)
    return padded[samples, planes, rows, cols]


def crop_boxes(
    count: int, height: int, width: int, crop: RandomResizedCrop, generator: torch.Generator
) -> torch.Tensor:
    """(count, 4) boxes (top, left, box height, box width) in pixels, per image, drawn as
    torchvision's ``RandomResizedCrop.get_params`` draws one: area and log-uniform aspect
    ratio, ten tries, else the centre crop clamped to the ratio range."""
    area = height * width
    log_low, log_high = math.log(crop.ratio[0]), math.log(crop.ratio[1])
    tries = 10
    scales = crop.scale[0] + _uniform(count * tries, generator) * (crop.scale[1] - crop.scale[0])
    ratios = torch.exp(log_low + _uniform(count * tries, generator) * (log_high - log_low))
    box_w = torch.round(torch.sqrt(area * scales * ratios)).view(count, tries)
    box_h = torch.round(torch.sqrt(area * scales / ratios)).view(count, tries)
    fits = (box_w > 0) & (box_h > 0) & (box_w <= width) & (box_h <= height)
    first = torch.where(fits.any(1), fits.to(torch.int8).argmax(1), -1)
    fallback_h, fallback_w = _fallback_box(height, width, crop.ratio)
    chosen = first.clamp(min=0)
    rows = torch.arange(count)
    h = torch.where(
        first >= 0, box_h[rows, chosen], torch.tensor(float(fallback_h), dtype=torch.float64)
    )
    w = torch.where(
        first >= 0, box_w[rows, chosen], torch.tensor(float(fallback_w), dtype=torch.float64)
    )
    top = torch.floor(_uniform(count, generator) * (height - h + 1))
    left = torch.floor(_uniform(count, generator) * (width - w + 1))
    return torch.stack([top, left, h, w], dim=1)


def _fallback_box(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    aspect = width / height
    if aspect < ratio[0]:
        return round(width / ratio[0]), width
    if aspect > ratio[1]:
        return height, round(height * ratio[1])
    return height, width


def random_resized_crop(
    images: torch.Tensor,
    size: tuple[int, int],
    crop: RandomResizedCrop,
    generator: torch.Generator,
) -> torch.Tensor:
    """A random box of each float image, resized (bilinear) to ``size``: one ``grid_sample``.

    Unlike torchvision's per-image resize it does not antialias when a box is shrunk; for
    training augmentation that is the usual trade (it is what GPU data loaders do).
    """
    count, _, height, width = images.shape
    boxes = crop_boxes(count, height, width, crop, generator).to(images.device, torch.float32)
    top, left, box_h, box_w = boxes.unbind(1)
    out_h, out_w = size
    # Sample centres of the output pixels, in input pixel coordinates, then normalised to
    # [-1, 1] with align_corners=False (pixel centres at (i + 0.5) / n * 2 - 1).
    ys = (torch.arange(out_h, device=images.device, dtype=torch.float32) + 0.5) / out_h
    xs = (torch.arange(out_w, device=images.device, dtype=torch.float32) + 0.5) / out_w
    y = (top[:, None] + ys[None] * box_h[:, None]) / height * 2 - 1
    x = (left[:, None] + xs[None] * box_w[:, None]) / width * 2 - 1
    grid = torch.stack(
        [x[:, None, :].expand(count, out_h, out_w), y[:, :, None].expand(count, out_h, out_w)],
        dim=-1,
    )
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
