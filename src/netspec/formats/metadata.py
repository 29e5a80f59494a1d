"""The schema of the metadata every artifact embeds, checked before any field is used.

Not a format: every format stores this metadata (:func:`netspec.export.metadata` writes it)
and :func:`netspec.artifacts.inspect_artifact` checks it once, right after reading, so that
nothing downstream — ``predict``'s preprocessing, the runners — sees a field of the wrong
type or an absurd value (a 100000×100000 resize, a class name that is a terminal escape
sequence, an input shape of a billion channels). Fields this netspec does not know pass
unchanged: newer netspecs add fields, and an older one must still read their artifacts.
No torch here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from ..errors import ArtifactError
from ..schema import MAX_LIST, PlainText
from ..validation import first_problem

#: Largest height or width of an input or a resize (the compiler's limit for specs).
MAX_SIDE = 16384
#: Largest number of input channels or features, and of outputs.
MAX_FEATURES = 1 << 20
#: Most class names an artifact may carry.
MAX_CLASSES = 100_000

Side = Annotated[StrictInt, Field(ge=1, le=MAX_SIDE)]
Features = Annotated[StrictInt, Field(ge=1, le=MAX_FEATURES)]
Word = Annotated[PlainText, Field(max_length=200)]
FiniteFloat = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]
#: A spec param's value: a number, true/false, a word (``block: basic``), or a list of
#: those or of such lists (``depths: [3, 4, 6, 3]``, a table) — the param types of the
#: spec language, bounded as the compiler bounds them.
ParamItem = StrictBool | StrictInt | float | Word
ParamList = Annotated[list[ParamItem], Field(max_length=MAX_LIST)]
ParamValue = ParamItem | Annotated[list[ParamItem | ParamList], Field(max_length=MAX_LIST)]


class PreprocessingMeta(BaseModel):
    """How ``predict`` prepares an image (:class:`netspec.preprocessing.Preprocessing`)."""

    model_config = ConfigDict(extra="allow")

    channels: Literal[1, 3] | None = None
    #: (height, width) exactly, or an int: the shorter side (torchvision's convention).
    resize: tuple[Side, Side] | Side | None = None
    crop: tuple[Side, Side] | None = None
    scale: float = Field(1 / 255, gt=0, le=1e6, allow_inf_nan=False)
    interpolation: Word = "bilinear"
    antialias: StrictBool | Word = "when shrinking"
    mean: tuple[FiniteFloat, ...] | None = Field(None, min_length=1, max_length=3)
    std: tuple[PositiveFloat, ...] | None = Field(None, min_length=1, max_length=3)
    layout: Word = "NCHW"
    dtype: Word = "float32"
    color: Literal["L", "RGB"] | None = None


class OptimizationMeta(BaseModel):
    """What ``--optimize`` chose; the loaders apply ``memory_format`` and ``mkldnn_at_load``."""

    model_config = ConfigDict(extra="allow")

    memory_format: Literal["contiguous", "channels_last"] | None = None
    mkldnn_at_load: StrictBool = False


class CompiledMeta(BaseModel):
    """An AOTInductor package: the device it was compiled for."""

    model_config = ConfigDict(extra="allow")

    device: Annotated[str, Field(pattern=r"^(cpu|cuda)(:[0-9]{1,3})?$")] = "cpu"


class ArtifactMeta(BaseModel):
    """The fields of ``netspec/meta.json`` that netspec reads back."""

    model_config = ConfigDict(extra="allow")

    format: Word
    name: Word
    input_shape: list[Features] = Field(min_length=1, max_length=3)
    output_shape: list[Features] = Field(default_factory=list, max_length=3)
    params: dict[Word, ParamValue] = Field(default_factory=dict)
    preprocessing: PreprocessingMeta | None = None
    classes: list[Word] | None = Field(None, max_length=MAX_CLASSES)
    optimization: OptimizationMeta | None = None
    compiled: CompiledMeta | None = None
    netspec_version: Word | None = None
    torch_version: Word | None = None

    def image_sides_fit(self) -> str | None:
        """Why the input shape is not a valid network input, or None."""
        shape = self.input_shape
        if len(shape) == 2:
            return "'input_shape' must be [C, H, W] or [F]"
        if len(shape) == 3 and max(shape[1:]) > MAX_SIDE:
            return f"'input_shape': height and width must be at most {MAX_SIDE}"
        return None


def check_metadata(meta: Any, path: object, format_name: str) -> dict[str, Any]:
    """``meta`` if it follows :class:`ArtifactMeta` and names ``format_name``; else one line."""
    try:
        checked = ArtifactMeta.model_validate(meta)
    except ValidationError as exc:
        raise ArtifactError(
            f"{path}: invalid netspec metadata: {first_problem(exc)}", code="NS612"
        ) from None
    problem = checked.image_sides_fit()
    if checked.format != format_name:
        problem = f"'format' says {checked.format!r}, but the file is {format_name!r}"
    if problem:
        raise ArtifactError(f"{path}: invalid netspec metadata: {problem}", code="NS612")
    return dict(meta)
