"""The training recipe: the optional ``train:`` section of a spec.

It lives in its own torch-free module because the front end validates it during
``netspec check``, which must never import torch. The defaults are the seed's recipe for
most networks (Adam, lr 0.001, batch 128, 5 epochs), so a spec without a ``train:``
section still trains the way the seed did; specs that need something else say so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OptimizerName = Literal["sgd", "adam"]
InitScheme = Literal[
    "default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"
]
AmpMode = Literal["none", "bf16"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
INIT_SCHEMES: tuple[str, ...] = (
    "default",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
)
AMP_MODES: tuple[str, ...] = ("none", "bf16")


class TrainRecipe(BaseModel):
    """Hyper-parameters of one training run; every field has a default.

    The recipe is part of a run's identity: it is written into the run directory and
    into every checkpoint, so that ``--resume`` continues with exactly the same settings.
    """

    model_config = ConfigDict(extra="forbid")

    optimizer: OptimizerName = Field(
        "adam", description="Optimizer: 'sgd' (with optional momentum) or 'adam'."
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
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False, description="L2 weight decay.")
    amp: AmpMode = Field(
        "none",
        description="Mixed precision: 'bf16' runs the forward pass under bfloat16 autocast.",
    )


def with_overrides(recipe: BaseModel, **overrides: object) -> TrainRecipe:
    """A validated copy of ``recipe`` with the given fields replaced; ``None`` means "keep".

    Command-line flags arrive as ``None`` when not given, so they can be passed straight
    through. Raises pydantic's ``ValidationError`` for out-of-range values.
    """
    changes = {name: value for name, value in overrides.items() if value is not None}
    return TrainRecipe.model_validate({**recipe.model_dump(), **changes})
