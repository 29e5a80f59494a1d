"""Device choice and multi-process training under ``torchrun``.

``torchrun`` announces the process group through environment variables (``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``...). When they say there is more than one
process, :func:`setup` joins the group (NCCL on GPUs, gloo on CPUs), gives each local
rank its own GPU, and everything else asks this module instead of ``torch.distributed``
directly, so single-process training has no special cases beyond ``dist.enabled``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as torch_dist

from netspec.errors import DeviceError
from netspec.runtime import DEVICE_TYPES, resolve_device
from netspec.train.errors import TrainUsageError

T = TypeVar("T")


def training_device(request: str, local_rank: int = 0) -> torch.device:
    """The device of ``--device`` for training (``mps`` too); ``cuda`` is this rank's GPU.

    The rules are :func:`netspec.runtime.resolve_device`'s; a device this machine lacks is
    command-line misuse here (exit status 2), so the message names the flag.
    """
    try:
        return resolve_device(request, local_rank=local_rank, types=(*DEVICE_TYPES, "mps"))
    except DeviceError as exc:
        raise TrainUsageError(f"--device {exc.request}: {exc.reason}") from None


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main rank prints and writes files."""
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks (CPU tensors; they are moved for NCCL and back)."""
        if not self.enabled:
            return tensor
        backend_device = _backend_device()
        reduced = tensor.to(backend_device)
        torch_dist.all_reduce(reduced, op=torch_dist.ReduceOp.SUM)
        return reduced.to(tensor.device)

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (picklable Python objects)."""
        if not self.enabled:
            return value
        box: list[Any] = [value]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.enabled:
            return [value]
        boxes: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(boxes, value)
        return boxes

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def close(self) -> None:
        if self.enabled and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def _backend_device() -> torch.device:
    if torch_dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def setup(device_request: str) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group if there is one; return it and this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), training_device(device_request)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = training_device(device_request, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch_dist.init_process_group(backend="nccl", device_id=device)
    else:
        torch_dist.init_process_group(backend="gloo")
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank), device
