"""How pixels become a network's input: one description for training, predict and artifacts.

``netspec train`` applies it to its batches (:func:`netspec.data.to_float_images`),
``netspec build`` records it in the artifact's metadata (:meth:`Preprocessing.as_metadata`),
and ``netspec predict`` reads it back from there (:meth:`Preprocessing.from_metadata`) and
applies the same function to images — so an image is prepared for a deployed network
exactly as its training batches were. The seed's pipeline is torchvision's ``Resize`` then
``ToTensor``: grayscale or RGB by the input's channels, pixels divided by 255, resized to
the input's height × width (bilinear, half-pixel centres, antialiased when shrinking).

The metadata form is the dataclass's fields by name, each optional with a default that
changes nothing, so a transform step is one more field here and in the applying function
(resize by the shorter side, a centre crop, mean/std normalisation are such steps), and
artifacts written before it still read. No torch here: ``netspec check`` imports specs only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

#: The PIL mode an image is converted to, by the number of input channels.
COLOR_BY_CHANNELS = {1: "L", 3: "RGB"}


@dataclass(frozen=True)
class Preprocessing:
    """The steps from decoded pixels (uint8, 0..255) to the float tensor a network takes."""

    #: Channels of the input: 1 (grayscale, PIL mode "L") or 3 ("RGB"); None for flat inputs.
    channels: int | None = None
    #: (height, width) the image is resized to; None for flat inputs.
    resize: tuple[int, int] | None = None
    #: Factor from 0..255 pixels to the network's range (1/255: ``ToTensor``).
    scale: float = 1.0 / 255.0
    #: Resampling of the resize: bilinear with half-pixel centres (``align_corners=False``),
    #: as torchvision's ``Resize``.
    interpolation: str = "bilinear"
    #: When the resize antialiases: only when shrinking (enlarging needs no low-pass).
    antialias: str = "when shrinking"
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

    def as_metadata(self) -> dict[str, Any]:
        """The JSON form in an artifact's ``preprocessing`` (fields by name, and ``color``)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["resize"] = list(self.resize) if self.resize is not None else None
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
        if values["resize"] is not None:
            values["resize"] = tuple(values["resize"])
        return cls(**values)
