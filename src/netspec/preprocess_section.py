"""The spec's ``preprocess:`` section: the evaluation transform that is part of a model's contract.

```yaml
preprocess:
  resize: 256              # int: the shorter side (aspect kept); [h, w]: exactly that size
  crop: 224                # centre crop, int or [h, w]; default: the input's [H, W]
  interpolation: bilinear  # nearest | bilinear | bicubic
  antialias: true
  mean: [0.485, 0.456, 0.406]
  std: [0.229, 0.224, 0.225]
```

is torchvision's ``ImageClassification(crop_size, resize_size, mean, std, interpolation,
antialias)``. Every number takes expressions over the spec's params (so ``--set`` and
variants can change them); this module validates the section through the one validation
path (:func:`netspec.validation.validate`), checks it against the input shape, and turns
it into the torch-free :class:`~netspec.preprocessing.Preprocessing` that training,
``eval``, artifacts and ``predict`` apply. Front end only: no torch.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .errors import SchemaError
from .expressions import Scope
from .preprocessing import COLOR_BY_CHANNELS, INTERPOLATIONS, Preprocessing
from .schema import (
    _EXPR_SCHEMA,
    MAX_LIST,
    Expression,
    Size2,
    StrictBool,
    WordField,
    _integer,
    _invalid,
    _item,
    _number,
    _pair,
    _pair_schema,
    describe,
)
from .shapes import Shape
from .source import Located
from .validation import validate

#: Bound of a mean or standard deviation: pixels are 0..1 after scaling, and a spec that
#: states 1e300 is a mistake, not a normalisation.
_STAT_LIMIT = 1e6


def _resize(value: Any) -> int | tuple[int, int]:
    """An int stays an int (the shorter side); a list is (height, width)."""
    if isinstance(value, (list, tuple)):
        return _pair(1)(value)
    return _integer(1, 1 << 20)(value)


def _floats(value: Any) -> tuple[float, ...]:
    single = _number(-_STAT_LIMIT, _STAT_LIMIT)
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LIST:
        raise _invalid(
            "floats_type",
            "must be a list of one number per channel such as [0.5, 0.5, 0.5], got {got}",
            got=describe(value),
        )
    return tuple(_item(single, value, i) for i in range(len(value)))  # type: ignore[arg-type]


ResizeField = Annotated[
    int | tuple[int, int],
    Expression("numbers"),
    BeforeValidator(_resize),
    WithJsonSchema(_pair_schema(1)),
]
FloatsField = Annotated[
    tuple[float, ...],
    Expression("numbers"),
    BeforeValidator(_floats),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"anyOf": [{"type": "number"}, {"type": "string"}]},
                    "minItems": 1,
                },
                _EXPR_SCHEMA,  # a list param: `mean: mean`
            ]
        }
    ),
]

#: A filter name, or a string param holding one (a family whose variants resize differently).
InterpolationField = WordField(INTERPOLATIONS)


class PreprocessSection(BaseModel):
    """How an image becomes the network's input (torchvision's ImageClassification transform)."""

    model_config = ConfigDict(extra="forbid")

    resize: ResizeField | None = Field(
        None,
        description="resize first: an int resizes the shorter side to it (aspect kept), "
        "[h, w] resizes to exactly that; default: the crop's [h, w]",
        examples=[256],
    )
    crop: Size2 | None = Field(
        None,
        description="centre crop after the resize, int or [h, w]; must equal the input's "
        "H and W (the default)",
        examples=[224],
    )
    interpolation: InterpolationField = Field(
        "bilinear",
        description="resampling filter of the resize, or a string param holding one "
        "(a family whose variants differ)",
    )
    antialias: StrictBool = Field(True, description="low-pass filter when shrinking")
    mean: FloatsField | None = Field(
        None,
        description="per-channel mean subtracted after scaling pixels to 0..1",
        examples=[[0.485, 0.456, 0.406]],
    )
    std: FloatsField | None = Field(
        None,
        description="per-channel standard deviation divided by after the mean",
        examples=[[0.229, 0.224, 0.225]],
    )


def preprocessing_of(root: Located, params: Scope, input_shape: Shape) -> Preprocessing:
    """The spec's preprocessing: its ``preprocess:`` section checked against the input, or
    the seed's (resize to the input, ``/ 255``) when it has none."""
    node = root.get("preprocess")
    if node is None or node.value is None:
        return Preprocessing.for_input(input_shape)
    section = validate(PreprocessSection, node, "preprocess", params)
    assert isinstance(section, PreprocessSection)
    channels, height, width = _image_input(node, input_shape)
    crop = section.crop or (height, width)
    if crop != (height, width):
        raise SchemaError(
            f"preprocess: crop {_size(section.crop)} gives {crop[0]}x{crop[1]} images but the "
            f"input is {list(input_shape)}",
            _at(node, "crop"),
            code="NS230",
            hint=f"crop to the input's size ({height}x{width}), or change the input",
        )
    resize = section.resize if section.resize is not None else crop
    _check_resize(node, resize, crop, params)
    for name in ("mean", "std"):
        _check_stats(node, name, getattr(section, name), channels)
    if (section.mean is None) != (section.std is None):
        given, missing = ("mean", "std") if section.std is None else ("std", "mean")
        raise SchemaError(
            f"preprocess: '{given}' needs '{missing}' as well (normalisation uses both)",
            _at(node, given),
            code="NS231",
        )
    return Preprocessing(
        channels=channels,
        resize=resize,
        crop=crop,
        interpolation=section.interpolation,
        antialias=section.antialias,
        mean=section.mean,
        std=section.std,
    )


def _image_input(node: Located, input_shape: Shape) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise SchemaError(
            f"preprocess: the input {list(input_shape)} is not an image; "
            f"'preprocess' describes how images become [C, H, W] inputs",
            node.key_span(),
            code="NS230",
        )
    channels, height, width = input_shape
    if channels not in COLOR_BY_CHANNELS:
        raise SchemaError(
            f"preprocess: images have 1 (grayscale) or 3 (RGB) channels; the input has {channels}",
            node.key_span(),
            code="NS230",
        )
    return channels, height, width


def _check_resize(
    node: Located, resize: int | tuple[int, int], crop: tuple[int, int], params: Scope
) -> None:
    """The resize must leave at least the crop: torchvision would pad the rest with zeros.

    When the resize is a param (a family spec's ``resize``), the hint names the ``--set``
    that fixes it: raising the input size with ``--set size=N`` alone lands here."""
    if isinstance(resize, int):
        small = resize < max(crop)
        what = f"resize {resize} (the shorter side)"
    else:
        small = resize[0] < crop[0] or resize[1] < crop[1]
        what = f"resize {list(resize)}"
    if small:
        raise SchemaError(
            f"preprocess: {what} is smaller than the crop {crop[0]}x{crop[1]}",
            _at(node, "resize"),
            hint=_resize_hint(node, isinstance(resize, int), crop, params),
            code="NS230",
        )


def _resize_hint(node: Located, shorter_side: bool, crop: tuple[int, int], params: Scope) -> str:
    written = node.get("resize")
    name = written.value if written is not None else None
    if not (isinstance(name, str) and name.isidentifier() and name in params):
        return "resize to at least the crop's size"
    least = str(max(crop)) if shorter_side else f"[{crop[0]},{crop[1]}]"
    return f"resize to at least the crop's size: --set {name}={least} or more"


def _check_stats(node: Located, name: str, values: tuple[float, ...] | None, channels: int) -> None:
    if values is None:
        return
    if len(values) != channels:
        raise SchemaError(
            f"preprocess: '{name}' has {len(values)} value{'s' if len(values) != 1 else ''} "
            f"but the input has {channels} channel{'s' if channels != 1 else ''}",
            _at(node, name),
            hint=f"give one value per channel, e.g. {name}: {[0.5] * channels}",
            code="NS230",
        )
    if name == "std":
        for index, value in enumerate(values):
            if value <= 0:
                written = node.get("std")
                item = written.get(index) if written is not None else None
                raise SchemaError(
                    f"preprocess: 'std' values must be greater than 0, got {value:g}",
                    (item or written or node).span,
                    code="NS231",
                )


def _at(node: Located, key: str) -> Any:
    """Where ``key`` of the section is written (the section itself when it is absent)."""
    child = node.get(key)
    return child.span if child is not None else node.key_span()


def _size(value: tuple[int, int] | None) -> str:
    if value is None:
        return ""
    return str(value[0]) if value[0] == value[1] else f"[{value[0]}, {value[1]}]"
