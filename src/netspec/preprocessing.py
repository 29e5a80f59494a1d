"""How pixels become a network's input: one description for training, predict and artifacts.

``netspec train`` applies it to its batches (:func:`netspec.data.to_float_images`),
``netspec build`` records it in the artifact's metadata (:meth:`Preprocessing.as_metadata`),
and ``netspec predict`` reads it back from there (:meth:`Preprocessing.from_metadata`) and
applies the same function to images — so an image is prepared for a deployed network
exactly as its training batches were.

Two pipelines, told apart by ``crop``:

* **No crop** — a spec without ``preprocess:``, and every artifact written before that
  section existed: the seed's torchvision ``Resize`` then ``ToTensor``: grayscale or RGB
  by the input's channels, pixels divided by 255, resized to the input's height × width
  (bilinear, half-pixel centres, antialiased when shrinking), no normalisation.
* **With a crop** — a spec's ``preprocess:`` section, torchvision's
  ``ImageClassification(crop_size, resize_size, mean, std, interpolation, antialias)``:
  resize (an int: the shorter side, aspect kept; a pair: exactly that size) on the uint8
  image, centre crop, ``/ 255``, normalise with ``mean``/``std``.

The metadata form is the dataclass's fields by name, each optional with a default that
changes nothing, so artifacts written before a field existed still read. No torch here:
``netspec check`` imports specs only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

#: The PIL mode an image is converted to, by the number of input channels.
COLOR_BY_CHANNELS = {1: "L", 3: "RGB"}


#: Resampling filters a ``preprocess:`` section may name (torchvision's InterpolationMode).
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


@dataclass(frozen=True)
class Preprocessing:
    """The steps from decoded pixels (uint8, 0..255) to the float tensor a network takes."""

    #: Channels of the input: 1 (grayscale, PIL mode "L") or 3 ("RGB"); None for flat inputs.
    channels: int | None = None
    #: The resize: (height, width) exactly, or an int — the shorter side, aspect kept
    #: (torchvision's ``Resize`` convention); None for flat inputs.
    resize: tuple[int, int] | int | None = None
    #: (height, width) of the centre crop after the resize; None: no crop, the seed's
    #: pipeline (resize straight to the input's size).
    crop: tuple[int, int] | None = None
    #: Factor from 0..255 pixels to the network's range (1/255: ``ToTensor``).
    scale: float = 1.0 / 255.0
    #: Resampling of the resize: bilinear with half-pixel centres (``align_corners=False``),
    #: as torchvision's ``Resize``; or nearest, or bicubic.
    interpolation: str = "bilinear"
    #: Whether the resize antialiases: True/False, or "when shrinking" (the seed's pipeline:
    #: enlarging needs no low-pass filter).
    antialias: bool | str = "when shrinking"
    #: Per-channel mean and standard deviation subtracted and divided after scaling; None:
    #: no normalisation.
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    layout: str = "NCHW"
    dtype: str = "float32"

    @classmethod
    def for_input(cls, input_shape: Sequence[int]) -> Preprocessing:
        """The seed's preprocessing for a network of this input shape ([C, H, W] or [F])."""
        if len(input_shape) != 3:
            return cls()
        channels, height, width = input_shape
        return cls(channels=channels, resize=(height, width))

    @property
    def color(self) -> str | None:
        """The PIL mode images are converted to ("L" or "RGB")."""
        return COLOR_BY_CHANNELS.get(self.channels or 0)

    @property
    def stored_size(self) -> tuple[int, int] | None:
        """The one size images of differing sizes are decoded to, so they stack into a batch.

        It is the resize's output when that does not depend on the image (a pair), and the
        square ``s × s`` centre of a shorter-side resize to ``s`` — whose centre crop is the
        evaluation crop — so that storing loses nothing evaluation looks at.
        """
        if isinstance(self.resize, int):
            return (self.resize, self.resize)
        return self.resize

    def as_metadata(self) -> dict[str, Any]:
        """The JSON form in an artifact's ``preprocessing`` (fields by name, and ``color``)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("resize", "crop", "mean", "std"):
            if isinstance(data[name], tuple):
                data[name] = list(data[name])
        data["color"] = self.color
        return data

    @classmethod
    def from_metadata(
        cls, data: Mapping[str, Any] | None, input_shape: Sequence[int]
    ) -> Preprocessing:
        """The description an artifact carries; fields it lacks take the input's defaults."""
        values = {f.name: getattr(cls.for_input(input_shape), f.name) for f in fields(cls)}
        stated = {k: v for k, v in (data or {}).items() if k in values and v is not None}
        values.update(stated)
        for name in ("resize", "crop", "mean", "std"):
            if isinstance(values[name], list):
                values[name] = tuple(values[name])
        return cls(**values)
