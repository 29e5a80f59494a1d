"""Read weights files and load them into a compiled model, safely and with a readable report.

:func:`read_weights_file` is netspec's one ``torch.load``: ``build --weights``, ``eval
--weights`` and ``train --resume`` all read through it, so they accept and refuse the same
files with the same words.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

import torch
from torch import nn

from .errors import BuildError
from .files import open_regular
from .limits import ENV, human_bytes, memory_limit
from .schema import WeightsKeys


def read_weights_file(path: str | os.PathLike[str]) -> Any:
    """Whatever a weights or checkpoint file holds, loaded onto the CPU.

    ``weights_only=True``: a weights file is data and must never run code when loaded.
    Only a regular file is read (:mod:`netspec.files`), and only one that fits the memory
    limit (:mod:`netspec.limits`): loading materialises every tensor it holds.
    """
    with open_regular(path, "weights file", BuildError) as (stream, size):
        if size == 0:
            raise BuildError(f"cannot read weights from {path}: the file is empty (0 bytes)")
        limit = memory_limit()
        if size > limit:
            raise BuildError(
                f"cannot read weights from {path}: the file holds {human_bytes(size)}, more "
                f"than the memory limit of {human_bytes(limit)} (set {ENV} to raise it)"
            )
        try:
            return torch.load(stream, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refuses code, a truncated zip, not a torch file...
            reason = str(exc).strip() or type(exc).__name__
            raise BuildError(f"cannot read weights from {path}: {reason}".splitlines()[0]) from None


def read_state_dict(
    path: str | os.PathLike[str], info: dict[str, Any] | None = None
) -> dict[str, torch.Tensor]:
    """Read a state_dict, or the model weights of a netspec training checkpoint.

    For a training checkpoint, ``info`` (if given) receives its plain-data fields besides
    the weights — format, epoch, best test accuracy — so an export can say where the
    weights came from.
    """
    data = read_weights_file(path)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        if info is not None:
            info.update(
                (key, value)
                for key, value in data.items()
                if isinstance(value, str | int | float) and not isinstance(value, bool)
            )
        data = data["model"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise BuildError(f"{path} does not hold a state_dict (a mapping of names to tensors)")
    if data and all(key.startswith("module.") for key in data):
        # Saved from a DistributedDataParallel wrapper directly: the keys are the model's.
        data = {key.removeprefix("module."): value for key, value in data.items()}
    return data


def load_weights(
    model: nn.Module, path: str | os.PathLike[str], keys: WeightsKeys | None = None
) -> dict[str, Any]:
    """Load weights with ``strict=True``; report every missing, extra or misshapen key.

    ``keys`` (the spec's ``weights:`` section) renames and drops the file's keys first, so
    that torchvision's own files load as they are. Returns what the file says about the
    weights besides the weights (empty for a plain state_dict; format, epoch... for a
    training checkpoint).
    """
    info: dict[str, Any] = {}
    state = read_state_dict(path, info)
    if keys is not None:
        state = {new: state[old] for old, new in keys.apply(list(state)).items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshapen = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        shown = [_with_suggestion(key, unexpected) for key in missing[:5]]
        problems.append("missing " + ", ".join(shown) + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        problems.append(
            "unexpected " + ", ".join(unexpected[:5]) + (" ..." if len(unexpected) > 5 else "")
        )
    if misshapen:
        problems.append("shape mismatch for " + ", ".join(misshapen[:5]))
    if problems:
        raise BuildError(
            f"weights in {path} do not fit this spec: " + "; ".join(problems),
            hint=_KEYS_HINT if missing and unexpected else None,
        )
    model.load_state_dict(state, strict=True)
    return info


_KEYS_HINT = (
    "when the file names its tensors differently, the spec can say how to read it: "
    "weights: {rename: {OLD: NEW}, ignore: [PREFIX]}"
)


def _with_suggestion(key: str, candidates: list[str]) -> str:
    """``a.norm1.weight (the file has a.norm.1.weight)`` when a file key is close."""
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.8)
    return f"{key} (the file has {close[0]})" if close else key
