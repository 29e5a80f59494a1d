"""Checkpoints: everything needed to continue a run bit-for-bit, loadable with weights_only.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so
``torch.load(weights_only=True)`` reads it: loading a checkpoint never runs code from the
file. It holds the model weights, the optimizer state, the number of completed epochs,
every rank's RNG state, the resolved recipe, the metrics so far (so that ``metrics.csv``
and ``curves.png`` of a resumed run cover all epochs), the class names and dataset the
weights were trained on, and fp16's gradient-scaler state.

The file is read by :func:`netspec.weights.read_weights_file`, the reader ``build
--weights`` and ``eval --weights`` use too (those also accept a checkpoint's weights).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, get_type_hints

import torch
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    create_model,
)

from netspec.atomic import atomic_write_with
from netspec.recipe import TrainRecipe
from netspec.train.errors import TrainingError
from netspec.train.loop import EpochMetrics
from netspec.validation import first_problem
from netspec.weights import read_weights_file

CHECKPOINT_FORMAT = "netspec.checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(TrainingError):
    """A weights file is not a training checkpoint this netspec can resume from."""

    stage = "checkpoint"
    default_code = "NS810"


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Mapping[str, Any]) -> None:
    """Write ``checkpoint`` (see :func:`make_checkpoint`) atomically."""
    atomic_write_with(path, lambda stream: torch.save(dict(checkpoint), stream))


def make_checkpoint(
    *,
    model_state: Mapping[str, torch.Tensor],
    optimizer_state: Mapping[str, Any],
    epoch: int,
    rng_states: list[dict[str, Any]],
    recipe: Mapping[str, Any],
    history: list[dict[str, float]],
    best_test_acc: float | None,
    spec_name: str,
    classes: list[str] | None = None,
    dataset: str | None = None,
    scaler_state: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a checkpoint dict; tensors are moved to the CPU so any machine can load it.

    ``classes`` (the data's class names, in label order) and ``dataset`` travel with the
    weights, so ``netspec build --weights`` embeds the names and ``predict`` prints them;
    ``scaler_state`` is fp16's gradient scaler, which resuming needs.
    """
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "spec_name": spec_name,
        "epoch": epoch,
        "model": {name: tensor.detach().cpu() for name, tensor in model_state.items()},
        "optimizer": _to_cpu(optimizer_state),
        "rng": rng_states,
        "recipe": dict(recipe),
        "history": list(history),
        "best_test_acc": best_test_acc,
        "classes": list(classes) if classes is not None else None,
        "dataset": dataset,
        "scaler": dict(scaler_state) if scaler_state is not None else None,
    }


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a full training checkpoint (not a bare state_dict) onto the CPU.

    Its structure is checked before anything uses it (:class:`CheckpointContents`): a
    file that lacks a field or holds the wrong type is one line naming the field, never
    a ``KeyError`` in the middle of resuming. Fields this netspec does not know are kept.
    """
    loaded = read_weights_file(path)
    if not is_checkpoint(loaded):
        raise CheckpointError(
            f"{path}: not a netspec training checkpoint (it holds only weights, so it can "
            f"be evaluated or exported but not resumed)"
        )
    version = loaded.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {version} is newer than this netspec "
            f"understands ({CHECKPOINT_VERSION})"
        )
    try:
        checked = CheckpointContents.model_validate(loaded)
    except ValidationError as exc:
        raise CheckpointError(
            f"{path}: not a valid netspec checkpoint: {first_problem(exc)}", code="NS811"
        ) from None
    # The plain fields as validated (numbers as numbers); tensors stay as loaded.
    loaded.update(checked.model_dump(include=_PLAIN_FIELDS))
    return loaded


def _tensor(value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"must be a tensor, not {type(value).__name__}")
    return value


def _rng_tensor(value: Any) -> torch.Tensor:
    tensor = _tensor(value)
    if tensor.dtype != torch.uint8 or tensor.ndim != 1:
        raise ValueError("must be a 1-D uint8 tensor (a generator state)")
    return tensor


Tensor = Annotated[Any, AfterValidator(_tensor)]


class RngState(BaseModel):
    """One rank's random state: the CPU generator's, and its GPU's when it trained on one."""

    model_config = ConfigDict(extra="allow")

    cpu: Annotated[Any, AfterValidator(_rng_tensor)]
    cuda: Annotated[Any, AfterValidator(_rng_tensor)] | None = None


#: One row of the metrics history, with exactly the fields of an epoch's metrics.
HistoryRow = create_model(  # type: ignore[call-overload]
    "HistoryRow",
    __config__=ConfigDict(extra="forbid"),
    **{name: (kind, ...) for name, kind in get_type_hints(EpochMetrics).items()},
)


class CheckpointContents(BaseModel):
    """What :func:`make_checkpoint` writes; extra fields (newer netspecs add some) pass."""

    model_config = ConfigDict(extra="allow")

    format: str
    version: StrictInt = Field(ge=1)
    spec_name: str
    epoch: StrictInt = Field(ge=0)
    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    rng: list[RngState] = Field(min_length=1)
    recipe: TrainRecipe
    history: list[HistoryRow]  # type: ignore[valid-type]
    best_test_acc: float | None


#: Fields :func:`load_checkpoint` replaces by their validated values.
_PLAIN_FIELDS = {"version", "spec_name", "epoch", "recipe", "history", "best_test_acc"}


def is_checkpoint(loaded: object) -> bool:
    return isinstance(loaded, Mapping) and loaded.get("format") == CHECKPOINT_FORMAT


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, Mapping):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(item) for item in value)
    return value
