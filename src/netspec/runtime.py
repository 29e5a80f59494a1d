"""torch as netspec runs it: which device a user means, and torch's noise kept out of our output.

Every command that runs a network (``build``, ``predict``, ``train``, ``eval``) and every
artifact format asks this module, so ``--device auto|cpu|cuda|cuda:N`` means the same
everywhere and is refused with the same words. Importing this module does not import
torch (the format table imports it, and ``netspec check`` lists formats in ``--help``).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import DeviceError

if TYPE_CHECKING:
    import torch

#: Device types a network can be built, exported and run on; training adds ``mps``.
DEVICE_TYPES: tuple[str, ...] = ("cpu", "cuda")


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence torch 2.14's TorchScript deprecation warning: our users chose TorchScript."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*TorchScript.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        yield


def quiet_torch_logs() -> None:
    """Keep torch's import-time notices (no CUDA runtime found, ...) out of netspec's output."""
    for name in ("torch.utils.cpp_extension", "torch.export.pt2_archive._package"):
        logging.getLogger(name).setLevel(logging.ERROR)


def resolve_device(
    request: str | torch.device,
    *,
    local_rank: int | None = None,
    types: tuple[str, ...] = DEVICE_TYPES,
) -> torch.device:
    """The device ``request`` names, checked against this machine, or a :class:`DeviceError`.

    ``auto`` is CUDA when present, else the CPU. ``cuda`` without an index is this rank's
    GPU under torchrun (``local_rank``), else torch's current GPU; ``cuda:N`` must exist.
    ``types`` are the device types the caller can run on (training also takes ``mps``).
    """
    import torch

    text = str(request).strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise DeviceError(text, f"not a device (use {_choices(types)})") from None
    if device.type not in types:
        raise DeviceError(text, f"not supported here (use {_choices(types)})")
    if device.type == "cuda":
        return _cuda_device(text, device.index if device.index is not None else local_rank)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(text, "MPS is not available on this machine")
    return device


def _cuda_device(text: str, index: int | None) -> torch.device:
    import torch

    if not torch.cuda.is_available():
        raise DeviceError(text, "CUDA is not available on this machine")
    if index is None:
        return torch.device("cuda")
    if index >= torch.cuda.device_count():
        raise DeviceError(text, f"this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device("cuda", index)


def _choices(types: tuple[str, ...]) -> str:
    """``auto, cpu, cuda, cuda:N or mps``: what a user may write for these device types."""
    words = ["auto"]
    for kind in types:
        words += ["cuda", "cuda:N"] if kind == "cuda" else [kind]
    return ", ".join(words[:-1]) + " or " + words[-1]
