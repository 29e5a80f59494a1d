"""The training recipe: the optional ``train:`` section of a spec.

It lives in its own torch-free module because the front end validates it during
``netspec check``, which must never import torch. The defaults are the seed's recipe for
most networks (Adam, lr 0.001, batch 128, 5 epochs), so a spec without a ``train:``
section still trains the way the seed did; specs that need something else say so. Every
field added since keeps the seed's behaviour at its default (no schedule, no
augmentation, nothing frozen, Fashion-MNIST).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .patterns import PatternError, parse_selection

OptimizerName = Literal["sgd", "adam", "adamw"]
InitScheme = Literal[
    "default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"
]
AmpMode = Literal["none", "bf16", "fp16"]
ScheduleName = Literal["none", "step", "cosine", "onecycle"]
DataFormat = Literal["auto", "fashion-mnist", "mnist", "cifar10", "cifar100", "folder"]
LoadMode = Literal["auto", "memory", "stream"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw")
INIT_SCHEMES: tuple[str, ...] = (
    "default",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
)
AMP_MODES: tuple[str, ...] = ("none", "bf16", "fp16")
SCHEDULES: tuple[str, ...] = ("none", "step", "cosine", "onecycle")
DATA_FORMATS: tuple[str, ...] = ("auto", "fashion-mnist", "mnist", "cifar10", "cifar100", "folder")
LOAD_MODES: tuple[str, ...] = ("auto", "memory", "stream")

#: The fields every run.json lists, set or not (the recipe of the first netspec); the
#: others are listed when they differ from their defaults (see :func:`recipe_record`).
CORE_FIELDS = (
    "optimizer", "lr", "batch_size", "epochs", "resize", "init", "seed", "momentum",
    "weight_decay", "amp",
)  # fmt: skip


def _problem(message: str, code: str) -> PydanticCustomError:
    """A recipe mistake, worded for spec authors (``train: 'nesterov' needs ...``).

    The error's pydantic type is its code (``NS232``): validation gives the diagnostic that
    code, so the raise site names it as every other raise site does.
    """
    return PydanticCustomError(code, message)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RandomResizedCrop(_Section):
    """torchvision's RandomResizedCrop: a random box of the image, resized to the input."""

    scale: tuple[float, float] = Field(
        (0.08, 1.0), description="range of the box's area, as a fraction of the image's"
    )
    ratio: tuple[float, float] = Field(
        (3 / 4, 4 / 3), description="range of the box's aspect ratio (width / height)"
    )

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1] <= 1:
            raise _problem("must be [low, high] with 0 < low <= high <= 1", code="NS204")
        return value

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise _problem("must be [low, high] with 0 < low <= high", code="NS204")
        return value


class Augment(_Section):
    """Random changes to training images, drawn per image on the training device."""

    random_resized_crop: RandomResizedCrop | None = Field(
        None,
        description="crop a random box and resize it to the input size ({} or true for "
        "torchvision's defaults: scale [0.08, 1], ratio [3/4, 4/3])",
    )
    pad_crop: int = Field(
        0,
        ge=0,
        le=256,
        description="pad every side by this many zero pixels, then crop a random "
        "input-sized window (CIFAR's recipe: 4); 0: off",
    )
    horizontal_flip: float = Field(
        0.0, ge=0, le=1, description="probability of mirroring an image left to right"
    )

    @field_validator("random_resized_crop", mode="before")
    @classmethod
    def _true_is_defaults(cls, value: Any) -> Any:
        if value is True:
            return {}
        return None if value is False else value

    @property
    def active(self) -> bool:
        return bool(self.random_resized_crop or self.pad_crop or self.horizontal_flip)


class DataSection(_Section):
    """Which dataset to train on; ``--data`` and ``--data-format`` override it."""

    format: DataFormat = Field(
        "auto",
        description="fashion-mnist, mnist (IDX files), cifar10, cifar100 (torchvision's "
        "python layout), folder (ImageFolder layout); auto: told by what 'root' holds",
    )
    root: str | None = Field(
        None,
        description="the dataset's folder, relative to the current directory; default: "
        "$NETSPEC_DATA_DIR, else ~/.cache/netspec/fashion-mnist",
    )
    val_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="for a folder without train/ and val/: the share of each class held "
        "out for evaluation",
    )
    split_seed: int = Field(0, ge=0, description="seed of that split (fixed: same split every run)")
    load: LoadMode = Field(
        "auto",
        description="memory: decode once into a uint8 cache; stream: decode per batch in "
        "worker processes; auto: memory when the decoded images fit the memory limit",
    )
    memory_limit_mb: int = Field(
        2048, ge=1, description="largest decoded dataset kept in memory (auto), in MiB"
    )
    workers: int = Field(
        2, ge=0, le=64, description="processes decoding images (first decode and streaming)"
    )


class TrainRecipe(BaseModel):
    """Hyper-parameters of one training run; every field has a default.

    The recipe is part of a run's identity: it is written into the run directory and
    into every checkpoint, so that ``--resume`` continues with exactly the same settings.
    """

    model_config = ConfigDict(extra="forbid")

    optimizer: OptimizerName = Field(
        "adam",
        description="Optimizer: 'sgd' (momentum, nesterov), 'adam' or 'adamw' (decoupled "
        "weight decay).",
    )
    lr: float = Field(0.001, gt=0, allow_inf_nan=False, description="Learning rate.")
    batch_size: int = Field(
        128,
        ge=1,
        le=65536,
        description="Images per optimizer step (per process when training with torchrun).",
    )
    epochs: int = Field(5, ge=1, le=10000, description="Passes over the training set.")
    resize: int | None = Field(
        None,
        ge=1,
        le=4096,
        description=(
            "Side length the 28x28 images are resized to (bilinear, like torchvision's "
            "Resize). None means the spec's input height and width."
        ),
    )
    init: InitScheme = Field(
        "default",
        description=(
            "Weight initialisation of Conv and Linear layers; 'default' keeps PyTorch's own "
            "initialisation (what the seed did). Biases always keep PyTorch's default."
        ),
    )
    seed: int = Field(
        0,
        ge=0,
        description="Seed for weight initialisation, shuffling and dropout; same seed, same run.",
    )
    momentum: float = Field(
        0.0, ge=0, lt=1, allow_inf_nan=False, description="SGD momentum (ignored by Adam)."
    )
    nesterov: bool = Field(False, description="Nesterov momentum (SGD; needs momentum > 0).")
    weight_decay: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="Weight decay (L2 for sgd/adam; decoupled for adamw).",
    )
    amp: AmpMode = Field(
        "none",
        description="Mixed precision: 'bf16' autocast (CPU or CUDA); 'fp16' autocast with "
        "a gradient scaler (CUDA only).",
    )
    schedule: ScheduleName = Field(
        "none",
        description="Learning-rate schedule over the run: 'step' (times gamma every "
        "step_size epochs), 'cosine' (down to min_lr), 'onecycle' (up to lr, then down).",
    )
    warmup_epochs: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="Linear warm-up from lr/steps to lr over this many epochs (fractions "
        "allowed), before 'step' or 'cosine'.",
    )
    step_size: int = Field(30, ge=1, description="Epochs between decays of 'step'.")
    gamma: float = Field(0.1, gt=0, le=1, description="Factor of each 'step' decay.")
    min_lr: float = Field(0.0, ge=0, description="Learning rate 'cosine' ends at.")
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="Share of the target spread over all classes."
    )
    clip_grad_norm: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Clip the gradients' total L2 norm to this before each step; none: off.",
    )
    freeze: list[str] = Field(
        default_factory=list,
        description="Module paths whose parameters do not train, as patterns ('*' is any "
        "text; 'features' covers features.0.weight...; '!fc' exempts fc); later patterns win.",
    )
    unfreeze_epoch: int | None = Field(
        None,
        ge=1,
        description="Epoch (1-based) from which the frozen parameters train too, at "
        "unfrozen_lr; none: frozen for the whole run.",
    )
    unfrozen_lr: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Learning rate of the frozen parameters once they train; default lr / 10.",
    )
    augment: Augment = Field(
        default_factory=Augment, description="Random changes to training images."
    )
    data: DataSection = Field(
        default_factory=DataSection, description="The dataset (default: Fashion-MNIST)."
    )

    @field_validator("freeze")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        try:
            parse_selection(value)
        except PatternError as exc:
            raise _problem(str(exc), code="NS233") from None
        return value

    # Checks across fields sit on the later field, so a message points at what to change.
    @field_validator("nesterov")
    @classmethod
    def _nesterov(cls, value: bool, info: ValidationInfo) -> bool:
        if value and (info.data.get("optimizer") != "sgd" or not info.data.get("momentum")):
            raise _problem("needs optimizer 'sgd' with momentum > 0", code="NS232")
        return value

    @field_validator("warmup_epochs")
    @classmethod
    def _warmup(cls, value: float, info: ValidationInfo) -> float:
        if value and info.data.get("schedule") == "onecycle":
            raise _problem("cannot be used with 'onecycle', which warms up by itself", code="NS232")
        return value

    @field_validator("unfreeze_epoch")
    @classmethod
    def _unfreeze(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and not info.data.get("freeze"):
            raise _problem("needs 'freeze' patterns (what to unfreeze)", code="NS232")
        return value

    @property
    def frozen_lr(self) -> float:
        """The learning rate of the frozen parameters once they are unfrozen."""
        return self.unfrozen_lr if self.unfrozen_lr is not None else self.lr / 10


def with_overrides(recipe: BaseModel, **overrides: object) -> TrainRecipe:
    """A validated copy of ``recipe`` with the given fields replaced; ``None`` means "keep".

    Command-line flags arrive as ``None`` when not given, so they can be passed straight
    through. Raises pydantic's ``ValidationError`` for out-of-range values.
    """
    changes = {name: value for name, value in overrides.items() if value is not None}
    return TrainRecipe.model_validate({**recipe.model_dump(), **changes})


def recipe_record(recipe: TrainRecipe) -> dict[str, Any]:
    """The recipe as ``run.json`` lists it: the core fields, and every other that was set.

    Reading it back with ``TrainRecipe.model_validate`` gives the same recipe (the fields
    left out are at their defaults), and the file shows at a glance what a run changed.
    """
    full = recipe.model_dump()
    changed = recipe.model_dump(exclude_defaults=True)
    return {
        **{name: full[name] for name in CORE_FIELDS},
        **{name: value for name, value in changed.items() if name not in CORE_FIELDS},
    }


def lr_factor(recipe: TrainRecipe, step: int, steps_per_epoch: int) -> float:
    """The learning rate at optimizer step ``step`` (0-based), as a factor of ``lr``.

    A pure function of the step, so a resumed run sets exactly the rates an
    uninterrupted one would (nothing to save but the epoch).
    """
    total = max(recipe.epochs * steps_per_epoch, 1)
    if recipe.schedule == "onecycle":
        return _one_cycle(step, total)
    warmup = round(recipe.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    if recipe.schedule == "step":
        return recipe.gamma ** (step // steps_per_epoch // recipe.step_size)
    if recipe.schedule == "cosine":
        progress = (step - warmup) / max(total - warmup, 1)
        floor = recipe.min_lr / recipe.lr
        return floor + (1 - floor) * (1 + math.cos(math.pi * min(progress, 1.0))) / 2
    return 1.0


#: One-cycle's shape, as torch's OneCycleLR defaults: 30% of the steps up from lr/25 to
#: lr, the rest down to lr/25/1e4, both along a cosine.
_ONE_CYCLE_RISE, _ONE_CYCLE_START, _ONE_CYCLE_END = 0.3, 1 / 25, 1 / 25 / 1e4


def _one_cycle(step: int, total: int) -> float:
    rise = max(round(_ONE_CYCLE_RISE * total), 1)

    def cosine(start: float, end: float, progress: float) -> float:
        return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2

    if step < rise:
        return cosine(_ONE_CYCLE_START, 1.0, step / rise)
    return cosine(1.0, _ONE_CYCLE_END, min((step - rise) / max(total - rise, 1), 1.0))
