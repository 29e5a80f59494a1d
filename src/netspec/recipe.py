"""The optional ``train:`` section of a spec: the recipe ``netspec train`` follows.

It lives in the front end (no torch import) so that ``netspec check`` catches a misspelt
optimizer or a negative learning rate before anybody waits for a dataset to load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InitName = Literal[
    "default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"
]


class TrainRecipe(BaseModel):
    """Hyper-parameters of a training run; every field has a default, flags override them."""

    model_config = ConfigDict(extra="forbid")

    optimizer: Literal["sgd", "adam"] = Field("adam", description="optimizer: sgd or adam")
    lr: float = Field(0.001, gt=0, description="learning rate")
    batch_size: int = Field(128, ge=1, le=65536, description="images per batch")
    epochs: int = Field(5, ge=1, le=10000, description="passes over the training set")
    resize: int | None = Field(
        None, ge=1, le=4096, description="resize images to this square size (None: input H/W)"
    )
    init: Literal[
        "default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"
    ] = Field("default", description="weight init; 'default' keeps PyTorch's, as the seed does")
    seed: int = Field(0, ge=0, description="random seed for init, shuffling and dropout")
    momentum: float = Field(0.0, ge=0, description="SGD momentum")
    weight_decay: float = Field(0.0, ge=0, description="L2 weight decay")
